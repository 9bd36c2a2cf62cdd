//! `steno`: run the system (`up`), transcribe through it (`transcribe`),
//! manage API keys (`keys`) and models (`models import-ct2`, `models fetch`).

mod client;
mod keys;
mod local;
mod processes;
mod up;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use steno_cli::models;

#[derive(Parser)]
#[command(name = "steno", version, about = "Self-hosted transcription: media in, timed transcripts out")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Where steno keeps its own files (the admin key `steno up` writes);
    /// default `$XDG_DATA_HOME/steno` or `~/.local/share/steno`.
    #[arg(long, global = true, env = "STENO_HOME")]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Start every steno service as its own process; Ctrl-C stops them all.
    Up {
        /// Config file passed to every service (default: config/steno.toml when present).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Directory holding the steno-* binaries (default: next to this one).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
    },
    /// Transcribe a file or URL and print the transcript: through the running
    /// gateway, or, when none answers, an ephemeral local system.
    Transcribe {
        /// A local media file, or an http(s) URL the download stage fetches.
        input: String,
        #[arg(long, short, default_value = "txt", value_parser = ["srt", "vtt", "json", "txt"])]
        format: String,
        /// Spoken language (ISO 639-1); the model decides when omitted.
        #[arg(long)]
        language: Option<String>,
        /// Model name (`ggml-<model>.bin` in the models directory).
        #[arg(long)]
        model: Option<String>,
        /// Number of speakers, when known (found automatically otherwise).
        #[arg(long, conflicts_with = "no_diarize")]
        speakers: Option<u32>,
        /// Do not label speakers.
        #[arg(long)]
        no_diarize: bool,
        /// Translate into English (multilingual models only).
        #[arg(long)]
        translate: bool,
        /// Gateway REST address (default http://127.0.0.1:8080; when nothing
        /// answers there, a local system is started for this one file).
        #[arg(long, env = "STENO_SERVER")]
        server: Option<String>,
        /// Always start an ephemeral local system, even if a gateway answers.
        #[arg(long, conflicts_with = "server")]
        local: bool,
        /// API key for the gateway (default: the one `steno up` wrote in the data directory).
        #[arg(long, env = "STENO_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
    },
    /// Manage API keys in the configured ledger database (`gateway.database_url` or `DATABASE_URL`).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        /// Config file naming the database (default: config/steno.toml when present).
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
    },
    /// Manage whisper.cpp models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
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
enum ModelsCommand {
    /// Convert a CTranslate2 Whisper model directory to a ggml model file.
    ImportCt2 {
        ct2_dir: PathBuf,
        out: PathBuf,
        /// Quantize the weight matrices (whisper.cpp loads the result as is).
        #[arg(long, value_parser = ["q8_0", "q5_1"])]
        quantize: Option<String>,
    },
    /// Convert Silero VAD (16 kHz, the `silero-vad` package's safetensors) to
    /// the ggml file whisper.cpp's voice-activity detector loads.
    ImportSilero { safetensors: PathBuf, out: PathBuf },
    /// Download an official ggml model by name (checksum verified).
    Fetch {
        name: String,
        #[arg(long, default_value = "models")]
        dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let data_dir = cli.data_dir.unwrap_or_else(default_data_dir);
    let result = match cli.command {
        Command::Up { config, bin_dir } => up::run(config, bin_dir, &data_dir).await,
        Command::Transcribe {
            input,
            format,
            language,
            model,
            speakers,
            no_diarize,
            translate,
            server,
            local,
            api_key,
        } => {
            let request = client::Request { input, format, language, model, speakers, diarize: !no_diarize, translate };
            let api_key = keys::resolve(api_key, &data_dir);
            client::transcribe_anywhere(server, local, api_key, std::env::var("DATABASE_URL").ok(), &request).await
        }
        Command::Keys { command, config } => match steno_runtime::config::Config::load(config.as_deref()) {
            Err(e) => Err(e.into()),
            Ok(config) => {
                let database = config.gateway.database_url.as_str();
                match command {
                    KeysCommand::Create { tenant, label, admin } => {
                        keys::create(database, &tenant, &label, admin).await
                    }
                    KeysCommand::List => keys::list(database).await,
                    KeysCommand::Revoke { id } => keys::revoke(database, &id).await,
                }
            }
        },
        Command::Models { command: ModelsCommand::ImportCt2 { ct2_dir, out, quantize } } => {
            models::ct2::import_ct2(&ct2_dir, &out, quantize.as_deref().and_then(models::ct2::Encoding::quantized)).map(
                |r| {
                    let kind = if r.is_multilingual { "multilingual" } else { "English-only" };
                    eprintln!(
                        "wrote {} ({} bytes): {} tensors, {} tokens of {}, {kind}",
                        out.display(),
                        r.output_bytes,
                        r.tensor_count,
                        r.n_tokens,
                        r.n_vocab
                    );
                    eprintln!("{:?}", r.hparams);
                },
            )
        }
        Command::Models { command: ModelsCommand::ImportSilero { safetensors, out } } => {
            models::silero::import_silero(&safetensors, &out).map(|()| eprintln!("wrote {}", out.display()))
        }
        Command::Models { command: ModelsCommand::Fetch { name, dir } } => {
            models::fetch::fetch_model(&name, &dir).await.map(|path| eprintln!("model ready at {}", path.display()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("steno: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `$XDG_DATA_HOME/steno`, else `~/.local/share/steno`.
fn default_data_dir() -> PathBuf {
    let xdg = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()).map(PathBuf::from);
    let home = || std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")).unwrap_or_default();
    xdg.unwrap_or_else(home).join("steno")
}
