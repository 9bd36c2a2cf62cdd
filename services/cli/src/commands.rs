//! What each `steno` subcommand does (the argument definitions are in
//! `main.rs`).

use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};
use steno_cli::{keys, kit, models, system::System};
use steno_runtime::config::Config;

use crate::{
    Global, JobsCommand, KeysCommand, ModelsCommand, VoicesCommand,
    client::{self, Api, JobEnded, Progress},
};

/// The job options the API takes, as flags.
#[derive(Args)]
pub struct JobArgs {
    /// Spoken language (ISO 639-1); the model decides when omitted.
    #[arg(long)]
    language: Option<String>,
    /// Model name (`ggml-<model>.bin` in the models directory; `steno models list`).
    #[arg(long)]
    model: Option<String>,
    /// Number of speakers, when known (found automatically otherwise).
    #[arg(long, conflicts_with_all = ["no_diarize", "min_speakers", "max_speakers"])]
    speakers: Option<u32>,
    /// Fewest speakers the automatic count may find.
    #[arg(long, conflicts_with = "no_diarize")]
    min_speakers: Option<u32>,
    /// Most speakers the automatic count may find.
    #[arg(long, conflicts_with = "no_diarize")]
    max_speakers: Option<u32>,
    /// Do not label speakers.
    #[arg(long)]
    no_diarize: bool,
    /// Translate into English (multilingual models only).
    #[arg(long)]
    translate: bool,
    /// Time every word (the default).
    #[arg(long, overrides_with = "no_word_timestamps")]
    word_timestamps: bool,
    /// Skip word times (faster; cues are then built from segments).
    #[arg(long)]
    no_word_timestamps: bool,
    /// Beam search width (1 = greedy).
    #[arg(long)]
    beam_size: Option<u32>,
    /// Sampling temperature (0 = deterministic).
    #[arg(long)]
    temperature: Option<f32>,
    /// Text that sets the style and vocabulary (names, jargon).
    #[arg(long)]
    prompt: Option<String>,
    /// Words to favour, comma-separated or repeated.
    #[arg(long, value_delimiter = ',')]
    hotwords: Vec<String>,
    /// POST the job's outcome here when it ends (signed: `steno webhooks secret`).
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,
}

impl JobArgs {
    /// The submission's JSON fields (those not given are left out).
    pub fn to_json(&self, formats: &[String]) -> Value {
        let mut body = json!({
            "formats": formats, "diarize": !self.no_diarize, "translate": self.translate,
            "language": self.language, "model": self.model, "num_speakers": self.speakers,
            "min_speakers": self.min_speakers, "max_speakers": self.max_speakers,
            "beam_size": self.beam_size, "temperature": self.temperature, "initial_prompt": self.prompt,
            "word_timestamps": (self.word_timestamps || self.no_word_timestamps).then_some(!self.no_word_timestamps),
            "hotwords": (!self.hotwords.is_empty()).then_some(&self.hotwords),
            "webhook_url": self.webhook,
        });
        if let Some(fields) = body.as_object_mut() {
            fields.retain(|_, value| !value.is_null());
        }
        body
    }
}

/// What every command needs: the loaded config and the global flags.
pub struct Context {
    pub config: Config,
    /// The gateway's address, and whether it was given (else the configured one).
    server: String,
    server_given: bool,
    api_key: Option<String>,
    config_file: Option<PathBuf>,
    json: bool,
}

impl Context {
    pub fn new(global: &Global, config: Config) -> Self {
        let configured = format!("http://{}", kit::loopback(config.gateway.http_addr));
        Self {
            server: global.server.clone().unwrap_or(configured),
            server_given: global.server.is_some(),
            api_key: keys::resolve(global.api_key.clone(), &config.home),
            config_file: global.config.clone(),
            json: global.json,
            config,
        }
    }

    fn api(&self) -> anyhow::Result<Api> {
        Api::new(&self.server, self.api_key.as_deref())
    }
}

/// Submits every input, follows them side by side, and writes each
/// transcript: to `out/<name>.<format>`, or (one input, one format) stdout.
pub async fn transcribe(
    ctx: &Context,
    inputs: &[String],
    out: Option<PathBuf>,
    formats: &[String],
    options: Value,
    local: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        out.is_some() || (inputs.len() == 1 && formats.len() == 1),
        "several inputs or formats need an output directory: -o DIR"
    );
    for format in formats {
        client::check_printable(format, out.as_ref())?;
    }
    for input in inputs.iter().filter(|i| !client::is_url(i)) {
        anyhow::ensure!(std::path::Path::new(input).is_file(), "{input} is not a file or an http(s) URL");
    }
    if let Some(dir) = &out {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("create {}: {e}", dir.display()))?;
    }
    let api = ctx.api()?;
    if !local && (ctx.server_given || api.answers().await) {
        return transcribe_all(ctx, &api, inputs, out, formats, &options).await;
    }
    if !local {
        eprintln!("steno: no gateway answers at {}; starting a local system", ctx.server);
    }
    let system = System::ephemeral(&ctx.config, ctx.config_file.as_deref()).await?;
    let result = match Api::new(&system.addresses.rest, Some(&system.api_key)) {
        Ok(api) => transcribe_all(ctx, &api, inputs, out, formats, &options).await,
        Err(e) => Err(e),
    };
    system.stop().await;
    result
}

async fn transcribe_all(
    ctx: &Context,
    api: &Api,
    inputs: &[String],
    out: Option<PathBuf>,
    formats: &[String],
    options: &Value,
) -> anyhow::Result<()> {
    let bars = client::bars(ctx.json);
    let names = client::output_names(inputs);
    let runs = inputs.iter().zip(&names).map(|(input, name)| {
        let progress = Progress::new(bars.as_ref(), input);
        let out = out.as_ref().map(|dir| (dir, name.as_str()));
        async move {
            let result = run_one(api, input, out, formats, options, &progress).await;
            progress.finish(match &result {
                Ok(report) => report["status"].as_str().unwrap_or("done"),
                Err(_) => "error",
            });
            (input, result)
        }
    });
    let results = futures::future::join_all(runs).await;
    let (mut failed, mut reports) = (Vec::new(), Vec::new());
    for (input, result) in results {
        match result {
            Ok(report) => {
                if report["status"] != "completed" {
                    let text = |key: &str| report[key].as_str().unwrap_or("-").to_owned();
                    failed.push(format!("{input}: job {} {}: {}", text("id"), text("status"), text("error")));
                }
                reports.push(report);
            }
            Err(e) => {
                failed.push(format!("{input}: {e:#}"));
                reports.push(json!({ "input": input, "error": format!("{e:#}") }));
            }
        }
    }
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    match failed.len() {
        0 => Ok(()),
        _ if reports.iter().all(|r| r["id"].is_string()) => Err(JobEnded(failed.join("\n")).into()),
        _ => anyhow::bail!("{}", failed.join("\n")),
    }
}

/// One input: submit, follow, fetch; a report of what happened.
async fn run_one(
    api: &Api,
    input: &str,
    out: Option<(&PathBuf, &str)>,
    formats: &[String],
    options: &Value,
    progress: &Progress,
) -> anyhow::Result<Value> {
    let job = api.submit(input, options).await?;
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    let job = api.follow(&id, progress).await?;
    let mut files = Vec::new();
    if job["status"] == "completed" {
        for format in formats {
            let body = api.bytes(&format!("/v1/jobs/{id}/transcript.{format}")).await?;
            let path = out.map(|(dir, name)| dir.join(format!("{name}.{format}")));
            client::write_out(path.as_ref(), &body)?;
            files.extend(path.map(|p| p.display().to_string()));
        }
    }
    Ok(json!({ "input": input, "id": id, "status": job["status"], "error": job["error"], "files": files }))
}

pub async fn jobs(ctx: &Context, command: JobsCommand) -> anyhow::Result<()> {
    let api = ctx.api()?;
    let job = match command {
        JobsCommand::List { status, limit } => {
            let filter = status.map(|s| format!("&status={s}")).unwrap_or_default();
            let page = api.get(&format!("/v1/jobs?limit={limit}{filter}")).await?;
            return print_jobs(ctx, &page);
        }
        JobsCommand::Show { id } => api.get(&format!("/v1/jobs/{id}")).await?,
        JobsCommand::Cancel { id } => api.post(&format!("/v1/jobs/{id}/cancel")).await?,
        JobsCommand::Retry { id } => api.post(&format!("/v1/jobs/{id}/retry")).await?,
        JobsCommand::Delete { id } => {
            api.delete(&format!("/v1/jobs/{id}")).await?;
            return print(ctx, &json!({ "id": id, "deleted": true }), || format!("job {id} deleted"));
        }
        JobsCommand::Download { id, format, out } => {
            client::check_printable(&format, out.as_ref())?;
            let file = match format.as_str() {
                "rttm" => "speakers.rttm".to_owned(),
                format => format!("transcript.{format}"),
            };
            let body = api.bytes(&format!("/v1/jobs/{id}/{file}")).await?;
            return client::write_out(out.as_ref(), &body);
        }
    };
    print(ctx, &job, || describe(&job))
}

/// A job in a few lines for people.
fn describe(job: &Value) -> String {
    let text = |key: &str| job[key].as_str().unwrap_or("-").to_owned();
    let source = job["source_url"].as_str().or(job["upload_name"].as_str()).unwrap_or("-");
    let mut lines = vec![
        format!("job       {}", text("id")),
        format!("status    {}{}", text("status"), stage_suffix(job)),
        format!("source    {source}"),
        format!("created   {}", text("created_at")),
    ];
    if let Some(language) = job["language"].as_str() {
        lines.push(format!("language  {language}"));
    }
    if let Some(ms) = job["duration_ms"].as_i64() {
        lines.push(format!("duration  {:.1} s", ms as f64 / 1000.0));
    }
    if let Some(error) = job["error"].as_str() {
        lines.push(format!("error     {error}"));
    }
    if let Some(ready) = job["formats_ready"].as_array().filter(|r| !r.is_empty()) {
        let ready: Vec<&str> = ready.iter().filter_map(Value::as_str).collect();
        lines.push(format!("formats   {} (steno jobs download ID -f FORMAT)", ready.join(", ")));
    }
    lines.join("\n")
}

fn stage_suffix(job: &Value) -> String {
    match (job["status"].as_str(), job["stage"].as_str()) {
        (Some("running"), Some(stage)) => {
            format!(" ({stage} {:.0}%)", job["progress"].as_f64().unwrap_or(0.0) * 100.0)
        }
        _ => String::new(),
    }
}

fn print_jobs(ctx: &Context, page: &Value) -> anyhow::Result<()> {
    print(ctx, page, || {
        let mut lines = vec![format!("{:<38} {:<24} {:<20} SOURCE", "ID", "STATUS", "CREATED")];
        for job in page["jobs"].as_array().into_iter().flatten() {
            let status = format!("{}{}", job["status"].as_str().unwrap_or("-"), stage_suffix(job));
            let created = job["created_at"].as_str().unwrap_or("-").get(..19).unwrap_or("-").replace('T', " ");
            let source = job["source_url"].as_str().or(job["upload_name"].as_str()).unwrap_or("-");
            lines.push(format!("{:<38} {status:<24} {created:<20} {source}", job["id"].as_str().unwrap_or("-")));
        }
        if page["next_cursor"].is_string() {
            lines.push("(more: raise --limit)".to_owned());
        }
        lines.join("\n")
    })
}

/// `steno speakers ID [S1=Ann …]`: renames when names are given; then lists.
pub async fn speakers(ctx: &Context, id: &str, names: &[String]) -> anyhow::Result<()> {
    let api = ctx.api()?;
    let path = format!("/v1/jobs/{id}/speakers");
    let answer = match names.is_empty() {
        true => api.get(&path).await?,
        false => {
            let mut renames = serde_json::Map::new();
            for pair in names {
                let (label, name) =
                    pair.split_once('=').ok_or_else(|| anyhow::anyhow!("{pair:?} is not LABEL=NAME (e.g. S1=Ann)"))?;
                renames.insert(label.to_owned(), json!(name));
            }
            api.patch(&path, &Value::Object(renames)).await?
        }
    };
    print(ctx, &answer, || {
        let speakers = answer["speakers"].as_array().into_iter().flatten();
        speakers
            .map(|s| format!("{}\t{}", s["id"].as_str().unwrap_or("-"), s["name"].as_str().unwrap_or("-")))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// `steno voices enrol|list|delete`: the tenant's known voices.
pub async fn voices(ctx: &Context, command: VoicesCommand) -> anyhow::Result<()> {
    let api = ctx.api()?;
    let line = |v: &Value| {
        let field = |name: &str| v[name].as_str().unwrap_or("-").to_owned();
        let detail = v["error"].as_str().map(|e| format!("\t{e}")).unwrap_or_default();
        format!("{}\t{}\t{}{detail}", field("id"), field("name"), field("status"))
    };
    match command {
        VoicesCommand::Enrol { name, clip } => {
            let voice = api.enrol(&name, &clip).await?;
            let path = format!("/v1/speakers/{}", voice["id"].as_str().unwrap_or_default());
            let voice = loop {
                let voice = api.get(&path).await?;
                if voice["status"] != "enrolling" {
                    break voice;
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            };
            print(ctx, &voice, || line(&voice))?;
            anyhow::ensure!(voice["status"] == "ready", "the voice was not enrolled: {}", voice["error"]);
            Ok(())
        }
        VoicesCommand::List => {
            let answer = api.get("/v1/speakers").await?;
            let voices = answer["speakers"].as_array().cloned().unwrap_or_default();
            print(ctx, &answer, || voices.iter().map(line).collect::<Vec<_>>().join("\n"))
        }
        VoicesCommand::Delete { id } => {
            api.delete(&format!("/v1/speakers/{id}")).await?;
            print(ctx, &json!({ "id": id, "deleted": true }), || format!("voice {id} deleted"))
        }
    }
}

/// `steno webhooks secret [--rotate]`: the tenant's signing secret.
pub async fn webhook_secret(ctx: &Context, rotate: bool) -> anyhow::Result<()> {
    let api = ctx.api()?;
    let answer = if rotate { api.post("/v1/webhooks/secret").await? } else { api.get("/v1/webhooks/secret").await? };
    print(ctx, &answer, || answer["secret"].as_str().unwrap_or_default().to_owned())
}

/// `value` as JSON with `--json`, else as `text` renders it.
fn print(ctx: &Context, value: &Value, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    match ctx.json {
        true => println!("{}", serde_json::to_string_pretty(value)?),
        false => println!("{}", text()),
    }
    Ok(())
}

pub async fn keys(ctx: &Context, command: KeysCommand) -> anyhow::Result<()> {
    let database = ctx.config.gateway.database_url.as_str();
    match command {
        KeysCommand::Create { tenant, label, admin } => keys::create(database, &tenant, &label, admin).await,
        KeysCommand::List => keys::list(database).await,
        KeysCommand::Revoke { id } => keys::revoke(database, &id).await,
    }
}

pub async fn models(ctx: &Context, command: ModelsCommand) -> anyhow::Result<()> {
    let transcribe = &ctx.config.transcribe;
    let dir = &transcribe.models_dir;
    // `out`, else `file` in the models directory; its directory made.
    let place = |out: Option<PathBuf>, file: &str| -> anyhow::Result<PathBuf> {
        let path = out.unwrap_or_else(|| dir.join(file));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| anyhow::anyhow!("create {}: {e}", parent.display()))?;
        }
        Ok(path)
    };
    match command {
        ModelsCommand::Dir => println!("{}", dir.display()),
        ModelsCommand::List => {
            let listed = models::installed(dir, &transcribe.default_model, &transcribe.vad_model, &ctx.config.diarize)?;
            print(ctx, &serde_json::to_value(&listed)?, || models::table(dir, &listed))?;
        }
        ModelsCommand::Fetch { name, dir: to } => {
            let path = models::fetch::fetch_model(&name, to.as_ref().unwrap_or(dir)).await?;
            eprintln!("model ready at {}", path.display());
        }
        ModelsCommand::ImportCt2 { ct2_dir, name, quantize, out } => {
            let out = place(out, &models::fetch::model_file_name(&name))?;
            let encoding = quantize.as_deref().and_then(models::ct2::Encoding::quantized);
            let r = models::ct2::import_ct2(&ct2_dir, &out, encoding)?;
            let kind = if r.is_multilingual { "multilingual" } else { "English-only" };
            eprintln!(
                "wrote {} ({} bytes): {} tensors, {} tokens of {}, {kind}",
                out.display(),
                r.output_bytes,
                r.tensor_count,
                r.n_tokens,
                r.n_vocab
            );
        }
        ModelsCommand::ImportSilero { safetensors, out } => {
            let out = place(out, &transcribe.vad_model.display().to_string())?;
            models::silero::import_silero(&safetensors, &out)?;
            eprintln!("wrote {}", out.display());
        }
        ModelsCommand::Remove { name } => {
            let file = dir.join(models::fetch::model_file_name(&name));
            std::fs::remove_file(&file).map_err(|e| anyhow::anyhow!("remove {}: {e}", file.display()))?;
            eprintln!("removed {}", file.display());
        }
    }
    Ok(())
}
