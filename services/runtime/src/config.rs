//! The one config loader: defaults → `config/steno.toml` (or `--config FILE`)
//! → `STENO_…` environment variables split on `__` (plus `DATABASE_URL` and
//! `STENO_HOME`) → paths resolved against the data directory →
//! [`Config::validate`].

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Where the loader looks when no `--config` is given; missing is fine.
pub const DEFAULT_CONFIG_FILE: &str = "config/steno.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid config: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("invalid config key `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("unknown config key `{0}` (from environment variable STENO_{1}); see config/steno.toml for the keys")]
    UnknownKey(String, String),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The data directory: models, the embedded ledger and NATS store,
    /// keys and logs. `STENO_HOME`; default `$XDG_DATA_HOME/steno` or
    /// `~/.local/share/steno`. Relative model paths and the default ledger
    /// are resolved against it.
    pub home: PathBuf,
    pub nats: NatsConfig,
    pub worker: WorkerConfig,
    pub log: LogConfig,
    pub tracing: TracingConfig,
    pub gateway: GatewayConfig,
    pub download: DownloadConfig,
    pub transcode: TranscodeConfig,
    pub transcribe: TranscribeConfig,
    pub diarize: DiarizeConfig,
    pub export: ExportConfig,
    pub notify: NotifyConfig,
    pub retention: RetentionConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsConfig {
    pub url: String,
    pub connect_timeout_secs: u64,
    /// Replicas of every stream and bucket (3 on a NATS cluster).
    pub replicas: usize,
    /// How long job events are kept in `STENO_EVENTS`.
    pub events_max_age_hours: u64,
    /// Seconds within which a task published twice (same `Nats-Msg-Id`) is
    /// kept once; past it, the `steno-jobs` hand-on records stop repeats.
    pub duplicate_window_secs: u64,
    /// Credentials, one kind at most: a `.creds` file (JWT and nkey), an
    /// nkey seed file, or a user and password.
    pub creds_file: PathBuf,
    pub nkey_seed_file: PathBuf,
    pub user: String,
    pub password: String,
    /// CA that signed the server's certificate (TLS is then required).
    pub tls_ca: PathBuf,
    /// Client certificate and key, when the server asks for one.
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            connect_timeout_secs: 10,
            replicas: 1,
            events_max_age_hours: 24 * 7,
            duplicate_window_secs: 120,
            creds_file: PathBuf::new(),
            nkey_seed_file: PathBuf::new(),
            user: String::new(),
            password: String::new(),
            tls_ca: PathBuf::new(),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
        }
    }
}

/// How every stage worker pulls and retries; shared by all stages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerConfig {
    /// Tasks one replica works on at once.
    pub concurrency: usize,
    /// Seconds before an unacknowledged task is redelivered; in-progress
    /// acks are sent every third of it.
    pub ack_wait_secs: u64,
    /// Deliveries of one task before it fails the job.
    pub max_deliver: i64,
    /// Nak delays by delivery count (the last repeats).
    pub backoff_secs: Vec<u64>,
    /// On SIGTERM, how long in-flight tasks may finish before they are naked.
    pub drain_secs: u64,
    /// How often queue depth is read from JetStream.
    pub queue_depth_interval_secs: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 1,
            ack_wait_secs: 60,
            max_deliver: 5,
            backoff_secs: vec![1, 5, 15, 30],
            drain_secs: 30,
            queue_depth_interval_secs: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `text` (readable) or `json` (deployed).
    pub format: String,
    /// `tracing` filter, e.g. `info,steno=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: "text".into(), level: "info,whisper_rs=warn".into() }
    }
}

/// Traces: every stage task is a span; a job is one trace.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TracingConfig {
    /// OTLP/gRPC collector, e.g. `http://otel-collector:4317`; empty = spans
    /// stay in the process (trace context still crosses NATS).
    pub otlp_endpoint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayConfig {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub ops_addr: SocketAddr,
    /// `postgres://…` or `sqlite:…`; empty = the embedded SQLite ledger,
    /// `steno.db` in the data directory.
    pub database_url: String,
    pub max_upload_bytes: u64,
    /// Page size of `GET /v1/jobs` when `limit` is not given (max 500).
    pub default_page_size: u32,
    /// `keys` (every request needs an API key) or `none` (every request
    /// acts as an admin of the `default` tenant; only when every listener
    /// is on loopback).
    pub auth: String,
    /// Submissions a tenant may make per minute, per gateway replica
    /// (a token bucket that holds a minute's worth); 0 = no limit.
    pub submissions_per_minute: u32,
    /// Queued and running jobs a tenant may have at once; 0 = no limit.
    pub max_jobs_in_flight: u32,
    /// Event streams (gRPC `Watch`) a tenant may hold open per replica; 0 = no limit.
    pub max_event_streams: usize,
    /// Largest gRPC request, which bounds a `Submit` carrying the media
    /// itself (larger uploads go through REST multipart).
    pub grpc_max_message_bytes: usize,
    /// How long `POST /v1/audio/transcriptions` (and translations) waits
    /// for the job before answering with its id to poll instead.
    pub openai_wait_secs: u64,
}

/// `gateway.auth` when API keys are required (the default).
pub const AUTH_KEYS: &str = "keys";
/// `gateway.auth` when no key is asked for (loopback listeners only).
pub const AUTH_NONE: &str = "none";

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            http_addr: ([0, 0, 0, 0], 8080).into(),
            grpc_addr: ([0, 0, 0, 0], 50051).into(),
            ops_addr: ([0, 0, 0, 0], 9400).into(),
            database_url: String::new(),
            max_upload_bytes: 2 << 30,
            default_page_size: 50,
            auth: AUTH_KEYS.into(),
            submissions_per_minute: 600,
            max_jobs_in_flight: 1000,
            max_event_streams: 100,
            grpc_max_message_bytes: 64 << 20,
            openai_wait_secs: 600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DownloadConfig {
    pub ops_addr: SocketAddr,
    pub max_bytes: u64,
    pub connect_timeout_secs: u64,
    /// Whole-transfer limit.
    pub timeout_secs: u64,
    pub max_redirects: usize,
    /// Non-public addresses or networks (`127.0.0.1`, `10.0.0.0/8`) that
    /// URLs may resolve to anyway. Public addresses are always allowed.
    pub allow_networks: Vec<String>,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        Self {
            ops_addr: ([0, 0, 0, 0], 9401).into(),
            max_bytes: 2 << 30,
            connect_timeout_secs: 10,
            timeout_secs: 1800,
            max_redirects: 5,
            allow_networks: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TranscodeConfig {
    pub ops_addr: SocketAddr,
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Longest media accepted (checked with ffprobe, enforced with `-t`).
    pub max_duration_secs: u64,
    /// Longest ffprobe or ffmpeg may run on one file.
    pub timeout_secs: u64,
}

impl Default for TranscodeConfig {
    fn default() -> Self {
        Self {
            ops_addr: ([0, 0, 0, 0], 9402).into(),
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            max_duration_secs: 6 * 3600,
            timeout_secs: 1800,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TranscribeConfig {
    pub ops_addr: SocketAddr,
    /// Directory holding `ggml-<model>.bin` files.
    pub models_dir: PathBuf,
    /// Model used when a job names none.
    pub default_model: String,
    /// Silero VAD in ggml (`steno models import-silero`), in `models_dir`
    /// (or a path): with it, audio must also be speech to it to be
    /// transcribed; empty or missing = silence found by loudness alone.
    pub vad_model: PathBuf,
    /// CPU threads for whisper.cpp; 0 = all cores.
    pub threads: usize,
    /// Use the GPU when built with the `cuda` feature.
    pub use_gpu: bool,
    /// Audio longer than this is split into parts that every transcribe
    /// replica can take at once; 0 = never split.
    pub split_after_secs: u64,
    /// Length of each part, cut at a silence near it.
    pub part_secs: u64,
    /// Most models held loaded at once (a model with and without word
    /// alignment counts twice); the least recently used goes first. 0 = no limit.
    pub max_loaded_models: usize,
    /// Most MiB of model files held loaded at once; 0 = no limit.
    pub max_loaded_mb: u64,
    /// A piece no longer than this many seconds is encoded as this long
    /// (whisper.cpp's `audio_ctx`) rather than padded to whisper's 30 s
    /// window; 0 pads every piece. Under about 8 s tiny.en read
    /// one-sentence clips over and over.
    pub min_window_secs: f32,
    /// A longer piece too is encoded at its own length plus a second (but
    /// as at least `fit_min_secs`) rather than padded to 30 s.
    pub fit_encoder: bool,
    /// With `fit_encoder`, a longer piece is encoded as at least this many
    /// seconds; 0: at its own length. Fitted with no such floor, tiny.en
    /// misheard some espeak-ng voices' 15–25 s pieces ("home" as "foam").
    pub fit_min_secs: f32,
}

impl Default for TranscribeConfig {
    fn default() -> Self {
        Self {
            ops_addr: ([0, 0, 0, 0], 9403).into(),
            models_dir: "models".into(),
            default_model: "tiny.en-q8_0".into(),
            vad_model: "ggml-silero-vad.bin".into(),
            threads: 0,
            use_gpu: true,
            split_after_secs: 600,
            part_secs: 120,
            max_loaded_models: 4,
            max_loaded_mb: 0,
            min_window_secs: 10.0,
            fit_encoder: true,
            fit_min_secs: 20.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DiarizeConfig {
    pub ops_addr: SocketAddr,
    /// The GE2E speaker encoder (`scripts/fetch-speaker-model.sh` writes it).
    pub model_path: PathBuf,
    /// pyannote's segmentation-3.0 (ONNX), which marks overlapped speech
    /// (`scripts/fetch-speaker-model.sh` writes it); empty: not marked. A
    /// file that is not there is logged at start and not marked either.
    pub segmentation_path: PathBuf,
    /// Most speakers the automatic count may find (a job's own bounds win).
    pub max_speakers: usize,
    /// Least cosine similarity between a speaker's voiceprint and a known
    /// voice's for the speaker to take the voice's name.
    pub known_voice_threshold: f32,
}

impl Default for DiarizeConfig {
    fn default() -> Self {
        Self {
            ops_addr: ([0, 0, 0, 0], 9404).into(),
            model_path: "models/resemblyzer-ge2e.pt".into(),
            segmentation_path: "models/pyannote-segmentation-3.0.onnx".into(),
            max_speakers: 8,
            known_voice_threshold: 0.85,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportConfig {
    pub ops_addr: SocketAddr,
    pub max_line_chars: usize,
    pub max_lines: usize,
    pub max_cue_ms: u64,
    /// Shortest time a cue stays up (where the next cue leaves room).
    pub min_cue_ms: u64,
    /// Fastest reading speed a cue asks for (where the next cue leaves room).
    pub max_chars_per_second: u32,
}

/// The webhook deliverer. Target URLs pass `download.allow_networks`'s
/// address policy, as downloads do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyConfig {
    pub ops_addr: SocketAddr,
    /// Longest wait for a receiver's answer, per attempt.
    pub timeout_secs: u64,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// Wait before each retry (the last repeats): about a day over 10 attempts.
    pub backoff_secs: Vec<u64>,
    /// Where the gateway is reached from outside (`https://steno.example.org`),
    /// for the links in a webhook; empty = links are paths.
    pub public_url: String,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            ops_addr: ([0, 0, 0, 0], 9406).into(),
            timeout_secs: 10,
            max_attempts: 10,
            backoff_secs: vec![5, 30, 120, 600, 1800, 3600, 7200, 14400, 43200],
            public_url: String::new(),
        }
    }
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            ops_addr: ([0, 0, 0, 0], 9405).into(),
            max_line_chars: 42,
            max_lines: 2,
            max_cue_ms: 7000,
            min_cue_ms: 833,
            max_chars_per_second: 17,
        }
    }
}

/// How long finished jobs are kept; the gateway's janitor removes the rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionConfig {
    /// Days a finished job (row, artifacts, events, flags) is kept; 0 keeps
    /// them forever. A job with no progress for this long is failed.
    pub days: u64,
    /// How often the janitor runs.
    pub sweep_interval_secs: u64,
    /// Artifacts no job owns (an upload whose job was never recorded,
    /// chunks of a failed upload) are removed once this old.
    pub orphan_grace_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { days: 30, sweep_interval_secs: 3600, orphan_grace_secs: 3600 }
    }
}

impl Config {
    /// Loads from `file` (which must exist) or, without one, from
    /// [`DEFAULT_CONFIG_FILE`] when present; then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(file, env)
    }

    /// As [`Config::load`], with the data directory `home` (when given)
    /// in place of `STENO_HOME`.
    pub fn load_in(file: Option<&Path>, home: Option<&Path>) -> Result<Self, ConfigError> {
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        if let Some(home) = home {
            env.push(("STENO_HOME".to_owned(), home.display().to_string()));
        }
        Self::load_with_env(file, env)
    }

    /// As [`Config::load`], with the environment passed in (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        }
        let env: Vec<(String, String)> = env.into_iter().collect();
        if let Some((key, var)) = unknown_env_keys(&env).into_iter().next() {
            return Err(ConfigError::UnknownKey(key, var));
        }
        let steno_env: String = config_vars(&env).map(|(k, v)| env_to_toml(k, v)).collect();
        figment = figment.merge(Toml::string(&steno_env));
        // The last of a name wins (as `load_in` relies on).
        let var = |name: &str| env.iter().rev().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.clone());
        if let Some(url) = var("DATABASE_URL") {
            figment = figment.merge(Serialized::default("gateway.database_url", url));
        }
        if let Some(home) = var("STENO_HOME") {
            figment = figment.merge(Serialized::default("home", home));
        }
        let mut config: Config = figment.extract().map_err(Box::new)?;
        if config.home.as_os_str().is_empty() {
            config.home = default_home(var("XDG_DATA_HOME"), var("HOME"));
        }
        config.resolve_paths();
        config.validate()?;
        Ok(config)
    }

    /// Model paths relative to the data directory, and the embedded ledger
    /// there when no database is named; absolute paths stay as given.
    fn resolve_paths(&mut self) {
        self.transcribe.models_dir = self.home.join(&self.transcribe.models_dir);
        self.diarize.model_path = self.home.join(&self.diarize.model_path);
        if !self.diarize.segmentation_path.as_os_str().is_empty() {
            self.diarize.segmentation_path = self.home.join(&self.diarize.segmentation_path);
        }
        if self.gateway.database_url.is_empty() {
            self.gateway.database_url = self.embedded_ledger_url();
        }
    }

    /// Whether the ledger is the embedded SQLite one in the data directory.
    pub fn embedded_ledger(&self) -> bool {
        self.gateway.database_url == self.embedded_ledger_url()
    }

    fn embedded_ledger_url(&self) -> String {
        format!("sqlite://{}", self.home.join("steno.db").display())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| Err(ConfigError::Invalid { key, reason: reason.into() });
        if !self.nats.url.starts_with("nats://") && !self.nats.url.starts_with("tls://") {
            return invalid("nats.url", "must start with nats:// or tls://");
        }
        let credentials = [
            !self.nats.creds_file.as_os_str().is_empty(),
            !self.nats.nkey_seed_file.as_os_str().is_empty(),
            !self.nats.user.is_empty(),
        ];
        if credentials.iter().filter(|given| **given).count() > 1 {
            return invalid("nats.creds_file", "give one of nats.creds_file, nats.nkey_seed_file or nats.user");
        }
        if self.nats.tls_cert.as_os_str().is_empty() != self.nats.tls_key.as_os_str().is_empty() {
            return invalid("nats.tls_cert", "nats.tls_cert and nats.tls_key go together");
        }
        if self.nats.duplicate_window_secs == 0 {
            return invalid("nats.duplicate_window_secs", "must be at least 1");
        }
        if self.worker.concurrency == 0 {
            return invalid("worker.concurrency", "must be at least 1");
        }
        if self.worker.ack_wait_secs < 3 {
            return invalid("worker.ack_wait_secs", "must be at least 3");
        }
        if self.worker.max_deliver < 1 {
            return invalid("worker.max_deliver", "must be at least 1");
        }
        if !self.gateway.database_url.starts_with("postgres") && !self.gateway.database_url.starts_with("sqlite:") {
            return invalid("gateway.database_url", "must be a postgres:// or sqlite: URL");
        }
        if ![AUTH_KEYS, AUTH_NONE].contains(&self.gateway.auth.as_str()) {
            return invalid("gateway.auth", "must be \"keys\" or \"none\"");
        }
        if self.transcode.max_duration_secs == 0 || self.transcode.timeout_secs == 0 {
            return invalid("transcode", "max_duration_secs and timeout_secs must be at least 1");
        }
        if self.transcribe.part_secs < 10 {
            return invalid("transcribe.part_secs", "must be at least 10");
        }
        if self.transcribe.split_after_secs != 0 && self.transcribe.split_after_secs < self.transcribe.part_secs {
            return invalid("transcribe.split_after_secs", "must be 0 (never split) or at least transcribe.part_secs");
        }
        if !(1..=20).contains(&self.diarize.max_speakers) {
            return invalid("diarize.max_speakers", "must be between 1 and 20");
        }
        if self.retention.sweep_interval_secs == 0 {
            return invalid("retention.sweep_interval_secs", "must be at least 1");
        }
        let export = &self.export;
        if export.max_line_chars < 10
            || export.max_lines == 0
            || export.max_cue_ms < 1000
            || export.min_cue_ms > export.max_cue_ms
            || export.max_chars_per_second == 0
        {
            return invalid(
                "export",
                "max_line_chars ≥ 10, max_lines ≥ 1, max_cue_ms ≥ 1000, min_cue_ms ≤ max_cue_ms and max_chars_per_second ≥ 1",
            );
        }
        let notify = &self.notify;
        if notify.timeout_secs == 0 || notify.max_attempts == 0 || notify.backoff_secs.is_empty() {
            return invalid("notify", "timeout_secs ≥ 1, max_attempts ≥ 1 and at least one backoff_secs");
        }
        if !notify.public_url.is_empty() && !notify.public_url.starts_with("http") {
            return invalid("notify.public_url", "must be an http or https URL, or empty");
        }
        Ok(())
    }

    /// The config as TOML, for `--print-config`, with its secrets (NATS
    /// and database passwords) shown as `redacted`.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        shown.nats.url = crate::redact::password(&shown.nats.url);
        if !shown.nats.password.is_empty() {
            shown.nats.password = "redacted".into();
        }
        shown.gateway.database_url = crate::redact::password(&shown.gateway.database_url);
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render config: {e}"))
    }
}

/// `$XDG_DATA_HOME/steno`, else `$HOME/.local/share/steno`, else `./steno-data`.
fn default_home(xdg_data_home: Option<String>, home: Option<String>) -> PathBuf {
    match (xdg_data_home, home) {
        (Some(xdg), _) => PathBuf::from(xdg).join("steno"),
        (None, Some(home)) => PathBuf::from(home).join(".local/share/steno"),
        (None, None) => PathBuf::from("steno-data"),
    }
}

/// The data directory as the loader finds it from the environment alone
/// (`STENO_HOME`, else the XDG default), for tools that need it without a config.
pub fn data_home() -> PathBuf {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    var("STENO_HOME").map(PathBuf::from).unwrap_or_else(|| default_home(var("XDG_DATA_HOME"), var("HOME")))
}

/// `STENO_…` variables that name no config key, as (dotted key, variable
/// suffix): a typo must not be silently ignored.
fn unknown_env_keys(env: &[(String, String)]) -> Vec<(String, String)> {
    let known: Vec<String> = match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(sections)) => sections
            .iter()
            .flat_map(|(section, keys)| {
                keys.as_table().into_iter().flat_map(move |t| t.keys().map(move |k| format!("{section}.{k}")))
            })
            .collect(),
        _ => Vec::new(),
    };
    config_vars(env)
        .map(|(suffix, _)| (suffix.split("__").map(str::to_lowercase).collect::<Vec<_>>().join("."), suffix.to_owned()))
        .filter(|(key, _)| !known.contains(key))
        .collect()
}

/// `STENO_<SECTION>__<KEY>` variables, without the prefix. Others that start
/// with `STENO_` (`STENO_SERVER` for the CLI) are not config.
fn config_vars(env: &[(String, String)]) -> impl Iterator<Item = (&str, &String)> {
    env.iter().filter_map(|(k, v)| k.strip_prefix("STENO_").filter(|k| k.contains("__")).map(|k| (k, v)))
}

/// `NATS__URL=nats://x` → `nats.url = <value>`: values that parse as TOML
/// (numbers, booleans, arrays) keep their type, anything else is a string.
fn env_to_toml(key: &str, value: &str) -> String {
    let key = key.split("__").map(str::to_lowercase).collect::<Vec<_>>().join(".");
    let typed = toml::from_str::<toml::Table>(&format!("v = {value}")).is_ok();
    let value = if typed { value.to_owned() } else { toml::Value::String(value.to_owned()).to_string() };
    format!("{key} = {value}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn environment_overrides_defaults_with_types() {
        let config = Config::load_with_env(
            Some(Path::new("/dev/null")),
            env(&[
                ("STENO_NATS__URL", "nats://10.0.0.1:4222"),
                ("STENO_WORKER__MAX_DELIVER", "9"),
                ("STENO_DOWNLOAD__ALLOW_NETWORKS", "[\"127.0.0.1\"]"),
                ("STENO_GATEWAY__HTTP_ADDR", "127.0.0.1:0"),
                ("DATABASE_URL", "postgres://db/steno"),
                ("UNRELATED", "x"),
                ("STENO_SERVER", "http://not-config"),
            ]),
        )
        .expect("loads");
        assert_eq!(config.nats.url, "nats://10.0.0.1:4222");
        assert_eq!(config.worker.max_deliver, 9);
        assert_eq!(config.download.allow_networks, vec!["127.0.0.1"]);
        assert_eq!(config.gateway.http_addr.port(), 0);
        assert_eq!(config.gateway.database_url, "postgres://db/steno");
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = Config::load_with_env(Some(Path::new("/dev/null")), env(&[("STENO_WORKER__CONCURRENCY", "0")]))
            .expect_err("rejected");
        assert!(err.to_string().contains("worker.concurrency"), "{err}");
        let err = Config::load_with_env(Some(Path::new("/dev/null")), env(&[("STENO_WORKER__MAX_DELIVER", "many")]))
            .expect_err("rejected");
        assert!(err.to_string().contains("max_deliver"), "{err}");
    }

    #[test]
    fn unknown_environment_keys_are_refused_by_name() {
        let err = Config::load_with_env(Some(Path::new("/dev/null")), env(&[("STENO_NATS__URLL", "nats://x:4222")]))
            .expect_err("rejected");
        assert!(err.to_string().contains("nats.urll"), "{err}");
        assert!(err.to_string().contains("STENO_NATS__URLL"), "{err}");
    }

    #[test]
    fn model_paths_and_the_default_ledger_live_in_the_data_directory() {
        let config = Config::load_with_env(Some(Path::new("/dev/null")), env(&[("HOME", "/home/ann")])).expect("loads");
        assert_eq!(config.home, Path::new("/home/ann/.local/share/steno"));
        assert_eq!(config.transcribe.models_dir, Path::new("/home/ann/.local/share/steno/models"));
        assert_eq!(config.diarize.model_path, Path::new("/home/ann/.local/share/steno/models/resemblyzer-ge2e.pt"));
        assert_eq!(config.gateway.database_url, "sqlite:///home/ann/.local/share/steno/steno.db");
        assert!(config.embedded_ledger());

        let config = Config::load_with_env(
            Some(Path::new("/dev/null")),
            env(&[
                ("HOME", "/home/ann"),
                ("XDG_DATA_HOME", "/xdg"),
                ("STENO_HOME", "/srv/steno"),
                ("STENO_TRANSCRIBE__MODELS_DIR", "/models"),
                ("DATABASE_URL", "postgres://db/steno"),
            ]),
        )
        .expect("loads");
        assert_eq!(config.home, Path::new("/srv/steno"), "STENO_HOME wins over XDG");
        assert_eq!(config.transcribe.models_dir, Path::new("/models"), "absolute paths stay");
        assert_eq!(config.diarize.model_path, Path::new("/srv/steno/models/resemblyzer-ge2e.pt"));
        assert!(!config.embedded_ledger());
        let xdg =
            Config::load_with_env(Some(Path::new("/dev/null")), env(&[("HOME", "/h"), ("XDG_DATA_HOME", "/xdg")]));
        assert_eq!(xdg.expect("loads").home, Path::new("/xdg/steno"));
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err = Config::load_with_env(Some(Path::new("/nonexistent/steno.toml")), env(&[])).expect_err("rejected");
        assert!(matches!(err, ConfigError::MissingFile(_)));
    }

    #[test]
    fn printed_config_hides_passwords() {
        let config = Config::load_with_env(
            None,
            env(&[
                ("DATABASE_URL", "postgres://steno:pg-secret@db/steno"),
                ("STENO_NATS__USER", "gateway"),
                ("STENO_NATS__PASSWORD", "nats-secret"),
            ]),
        )
        .expect("config");
        let printed = config.to_toml();
        assert!(!printed.contains("pg-secret") && !printed.contains("nats-secret"), "{printed}");
        assert!(printed.contains("postgres://steno:redacted@db/steno"), "{printed}");
        assert_eq!(config.nats.password, "nats-secret", "only the printed copy is redacted");
    }
}
