//! `steno up`: every service as its own process (see [`System::up`]), each
//! restarted if it exits; stopped together on Ctrl-C or SIGTERM, or when one
//! keeps crashing.

use std::path::{Path, PathBuf};

use steno_cli::{keys, system::System};
use steno_runtime::config::{AUTH_KEYS, Config};

pub async fn run(config: &Config, config_file: Option<&Path>, bin_dir: Option<PathBuf>) -> anyhow::Result<()> {
    eprintln!("steno: starting (data directory {})", config.home.display());
    let mut system = System::up(config, config_file, bin_dir).await?;
    print_summary(config, &system);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let result = tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminate.recv() => Ok(()),
        gave_up = system.supervise() => gave_up,
    };
    eprintln!("steno: stopping");
    system.stop().await;
    result.map_err(|e| e.context("stopped the other services"))
}

/// Where everything is, once every service is ready.
fn print_summary(config: &Config, system: &System) {
    let a = &system.addresses;
    let ports: Vec<String> = a.ops.iter().map(|(service, port)| format!("{service} {port}")).collect();
    let nats = match &a.nats_store {
        Some(store) => format!("{} (steno's own; store {})", a.nats, store.display()),
        None => a.nats.clone(),
    };
    let key = match config.gateway.auth == AUTH_KEYS {
        true => format!("{} (admin; the CLI uses it)", keys::key_file(&config.home).display()),
        false => "none asked for (gateway.auth = \"none\")".to_owned(),
    };
    eprintln!(
        "steno is up:\n  REST      {}\n  gRPC      {}\n  metrics   http://127.0.0.1:<port>/metrics — {}\n  NATS      {nats}\n  ledger    {}\n  models    {}\n  API key   {key}\n  logs      {}\nCtrl-C stops it.",
        a.rest,
        a.grpc,
        ports.join(", "),
        steno_runtime::redact::password(&a.database),
        config.transcribe.models_dir.display(),
        a.logs.display(),
    );
}
