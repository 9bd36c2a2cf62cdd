//! `steno`: run the system (`up`), transcribe through it (`transcribe`),
//! look after jobs (`jobs`, `speakers`), API keys (`keys`) and models
//! (`models`).
//!
//! Exit codes: 0 success; 1 an error (bad input, gateway unreachable or
//! refusing); 2 a usage error; 3 a job ended failed or cancelled.

mod client;
mod commands;
mod up;

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, CommandFactory, Parser, Subcommand, builder::PossibleValuesParser};
use steno_export::render::ExportFormat;
use steno_runtime::config::Config;

#[derive(Parser)]
#[command(name = "steno", version, about = "Self-hosted transcription: media in, timed transcripts out")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
pub struct Global {
    /// Config file (default: config/steno.toml when present); `steno up`
    /// and local mode pass it on to every service.
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
    /// The data directory: models, the embedded ledger and NATS store, the
    /// API key `steno up` writes, logs [default: $XDG_DATA_HOME/steno or ~/.local/share/steno].
    #[arg(long, global = true, env = "STENO_HOME")]
    pub data_dir: Option<PathBuf>,
    /// Gateway REST address [default: from gateway.http_addr, http://127.0.0.1:8080].
    #[arg(long, global = true, env = "STENO_SERVER")]
    pub server: Option<String>,
    /// API key [default: the admin key `steno up` wrote in the data directory].
    #[arg(long, global = true, env = "STENO_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Machine-readable JSON on stdout instead of tables and progress bars.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Start every steno service as its own process (with its own NATS and
    /// ledger in the data directory unless configured); Ctrl-C stops them.
    Up {
        /// Directory holding the steno-* binaries (default: next to this one).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
    },
    /// Transcribe files or URLs, side by side: through the running gateway,
    /// or, when none answers, an ephemeral local system.
    Transcribe {
        /// Local media files and/or http(s) URLs the download stage fetches.
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Write `<dir>/<name>.<format>` for each input and format (needed
        /// for several inputs or formats); without it the transcript goes to stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Output formats (repeat for several).
        #[arg(long = "format", short, default_value = "txt", value_parser = format_names(&[]))]
        formats: Vec<String>,
        #[command(flatten)]
        options: commands::JobArgs,
        /// Always start an ephemeral local system, even if a gateway answers.
        #[arg(long, conflicts_with = "server")]
        local: bool,
    },
    /// List, inspect, cancel, retry, delete and download jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Show a job's speakers, or rename them: `steno speakers ID S1=Ann S2=Bob`
    /// (an empty name restores the default).
    Speakers {
        id: String,
        #[arg(value_name = "LABEL=NAME")]
        names: Vec<String>,
    },
    /// Known voices, named in every diarized job of the tenant:
    /// `steno voices enrol NAME CLIP`, `list`, `delete ID`.
    Voices {
        #[command(subcommand)]
        command: VoicesCommand,
    },
    /// Manage API keys in the ledger (`gateway.database_url`; by default the
    /// embedded one in the data directory).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Webhooks: `steno webhooks secret [--rotate]` prints the tenant's
    /// signing secret (`whsec_…`) for verifying deliveries.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Manage the whisper.cpp models in the data directory.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Print a shell completion script: `steno completions bash > /etc/bash_completion.d/steno`.
    Completions { shell: clap_complete::Shell },
}

/// The transcript formats the export stage writes, and `extra` names.
fn format_names(extra: &[&'static str]) -> PossibleValuesParser {
    ExportFormat::ALL.iter().map(|f| f.extension()).chain(extra.iter().copied()).collect::<Vec<_>>().into()
}

#[derive(Subcommand)]
pub enum JobsCommand {
    /// The newest jobs first.
    List {
        /// Only jobs in this state (queued, running, completed, failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One job in full.
    Show { id: String },
    /// Cancel a queued or running job.
    Cancel { id: String },
    /// Run a failed or cancelled job again.
    Retry { id: String },
    /// Delete a finished job and everything it produced.
    Delete { id: String },
    /// Fetch a transcript (or `rttm`, the speaker turns) to a file or stdout.
    Download {
        id: String,
        #[arg(long, short, default_value = "txt", value_parser = format_names(&["rttm"]))]
        format: String,
        /// File to write (default: stdout).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum VoicesCommand {
    /// Enrol a voice from a 5-30 s clip of the person talking alone; waits
    /// until it is ready (or says why it failed).
    Enrol { name: String, clip: PathBuf },
    /// The tenant's voices.
    List,
    /// Forget a voice (and delete its clip).
    Delete { id: String },
}

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// Print the tenant's signing secret (made on first use).
    Secret {
        /// Replace it with a new one (deliveries are signed with the new one from now on).
        #[arg(long)]
        rotate: bool,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once) on stdout.
    Create {
        /// The tenant whose jobs the key reads and writes.
        #[arg(long)]
        tenant: String,
        /// A note on who or what uses it.
        #[arg(long, default_value = "")]
        label: String,
        /// The key sees every tenant's jobs.
        #[arg(long)]
        admin: bool,
    },
    /// List keys (ids, tenants, state; never the keys themselves).
    List,
    /// Revoke a key by id: requests with it get 401 at once.
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// The models in the models directory, and which are in use.
    List,
    /// Print the models directory.
    Dir,
    /// Download an official ggml model by name (checksum verified); `NAME-q8_0`
    /// (or `-q5_1`, `-q4_0`, `-iq4_nl`) downloads NAME and quantizes it here.
    Fetch {
        name: String,
        /// Directory to write to (default: the models directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Convert a CTranslate2 Whisper model directory to `ggml-<NAME>.bin`.
    ImportCt2 {
        ct2_dir: PathBuf,
        /// The model's name, as jobs ask for it (`--model NAME`).
        name: String,
        /// Quantize the weight matrices (whisper.cpp loads the result as is).
        #[arg(long, value_parser = ["q8_0", "q5_1", "q4_0", "iq4_nl"])]
        quantize: Option<String>,
        /// Write here instead of the models directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Convert Silero VAD (16 kHz, the `silero-vad` package's safetensors) to
    /// the ggml file whisper.cpp's voice-activity detector loads (`transcribe.vad_model`).
    ImportSilero {
        safetensors: PathBuf,
        /// Write here instead of the models directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Remove `ggml-<NAME>.bin` from the models directory.
    Remove { name: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match Config::load_in(cli.global.config.as_deref(), cli.global.data_dir.as_deref()) {
        Ok(config) => run(cli.command, &cli.global, config).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("steno: {e:#}");
            match e.is::<client::JobEnded>() {
                true => ExitCode::from(3),
                false => ExitCode::FAILURE,
            }
        }
    }
}

async fn run(command: Command, global: &Global, config: Config) -> anyhow::Result<()> {
    let ctx = commands::Context::new(global, config);
    match command {
        Command::Up { bin_dir } => up::run(&ctx.config, global.config.as_deref(), bin_dir).await,
        Command::Transcribe { inputs, out, formats, options, local } => {
            commands::transcribe(&ctx, &inputs, out, &formats, options.to_json(&formats), local).await
        }
        Command::Jobs { command } => commands::jobs(&ctx, command).await,
        Command::Speakers { id, names } => commands::speakers(&ctx, &id, &names).await,
        Command::Voices { command } => commands::voices(&ctx, command).await,
        Command::Keys { command } => commands::keys(&ctx, command).await,
        Command::Webhooks { command: WebhooksCommand::Secret { rotate } } => {
            commands::webhook_secret(&ctx, rotate).await
        }
        Command::Models { command } => commands::models(&ctx, command).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "steno", &mut script);
            Ok(std::io::Write::write_all(&mut std::io::stdout(), &script)?)
        }
    }
}
