//! `steno transcribe`: submit to the gateway (a running one, or an
//! ephemeral local system), follow the job, print the transcript.

use std::{io::Write, path::Path, time::Duration};

use serde_json::{Value, json};
use steno_runtime::config::Config;

use crate::local::LocalSystem;

/// How often the job is polled for progress.
const POLL: Duration = Duration::from_millis(500);
const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

pub struct Request {
    /// A file path or an http(s) URL.
    pub input: String,
    pub format: String,
    pub language: Option<String>,
    pub model: Option<String>,
    /// Exact speaker count; found automatically when `None`.
    pub speakers: Option<u32>,
    pub diarize: bool,
    /// Translate into English (multilingual models).
    pub translate: bool,
}

impl Request {
    fn json(&self) -> serde_json::Value {
        json!({
            "source_url": self.input, "formats": [self.format], "diarize": self.diarize,
            "language": self.language, "model": self.model, "num_speakers": self.speakers,
            "translate": self.translate,
        })
    }

    /// The job options as multipart form fields.
    fn form_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("formats", self.format.clone()),
            ("diarize", self.diarize.to_string()),
            ("translate", self.translate.to_string()),
        ];
        fields.extend(self.language.clone().map(|l| ("language", l)));
        fields.extend(self.model.clone().map(|m| ("model", m)));
        fields.extend(self.speakers.map(|n| ("num_speakers", n.to_string())));
        fields
    }
}

/// Uses the gateway at `server` (or the default address when something
/// answers there); otherwise, or with `local`, an ephemeral local system.
pub async fn transcribe_anywhere(
    server: Option<String>,
    local: bool,
    api_key: Option<String>,
    database_url: Option<String>,
    request: &Request,
) -> anyhow::Result<()> {
    if !local {
        if let Some(server) = server {
            return transcribe(&server, api_key.as_deref(), request).await;
        }
        if reqwest::get(format!("{DEFAULT_SERVER}/v1/jobs?limit=1")).await.is_ok() {
            return transcribe(DEFAULT_SERVER, api_key.as_deref(), request).await;
        }
    }
    let config = Config::load(None)?;
    if !local {
        eprintln!("steno: no gateway answers at {DEFAULT_SERVER}");
    }
    eprintln!("steno: starting a local system for this file");
    let system = LocalSystem::start(&config, database_url).await?;
    let result = transcribe(&system.server, Some(&system.api_key), request).await;
    system.stop().await;
    result
}

pub async fn transcribe(server: &str, api_key: Option<&str>, request: &Request) -> anyhow::Result<()> {
    let (input, format) = (request.input.as_str(), request.format.as_str());
    let server = server.trim_end_matches('/');
    let http = client(api_key)?;
    let submit = if input.starts_with("http://") || input.starts_with("https://") {
        http.post(format!("{server}/v1/jobs")).json(&request.json())
    } else {
        let path = Path::new(input);
        if !path.is_file() {
            anyhow::bail!("{input} is not a file or an http(s) URL");
        }
        let form =
            request.form_fields().into_iter().fold(reqwest::multipart::Form::new(), |form, (k, v)| form.text(k, v));
        let form = form.file("file", path).await.map_err(|e| anyhow::anyhow!("read {input}: {e}"))?;
        http.post(format!("{server}/v1/jobs")).multipart(form)
    };
    let response = submit
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the gateway at {server} ({e}); is `steno up` running?"))?;
    let job = json_or_error(response).await?;
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    eprintln!("job {id} submitted");

    let job = follow(&http, server, &id).await?;
    match job["status"].as_str() {
        Some("completed") => {
            let response = http.get(format!("{server}/v1/jobs/{id}/transcript.{format}")).send().await?;
            if !response.status().is_success() {
                anyhow::bail!("fetch transcript: {}", response.text().await.unwrap_or_default());
            }
            let body = response.bytes().await?;
            std::io::stdout().write_all(&body)?;
            Ok(())
        }
        Some(status) => anyhow::bail!("job {id} {status}: {}", job["error"].as_str().unwrap_or("no reason given")),
        None => anyhow::bail!("unexpected job document: {job}"),
    }
}

/// An HTTP client that sends the API key with every request (without
/// one, the gateway's 401 says how to get one).
fn client(api_key: Option<&str>) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = api_key {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| anyhow::anyhow!("the API key holds characters a header cannot carry"))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(reqwest::Client::builder().default_headers(headers).build()?)
}

/// Polls the job until it finishes, showing stage and progress on stderr.
async fn follow(http: &reqwest::Client, server: &str, id: &str) -> anyhow::Result<Value> {
    let mut last = String::new();
    loop {
        let job = json_or_error(http.get(format!("{server}/v1/jobs/{id}")).send().await?).await?;
        let status = job["status"].as_str().unwrap_or("unknown");
        let stage = job["stage"].as_str().unwrap_or("queued");
        let percent = (job["progress"].as_f64().unwrap_or(0.0) * 100.0).round();
        let line = format!("{status}: {stage} {percent:.0}%");
        if line != last {
            eprintln!("{line}");
            last = line;
        }
        if matches!(status, "completed" | "failed" | "cancelled") {
            return Ok(job);
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn json_or_error(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        anyhow::bail!("gateway answered {status}: {}", body["error"].as_str().unwrap_or("no detail"));
    }
    Ok(body)
}
