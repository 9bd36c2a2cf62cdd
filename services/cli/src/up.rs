//! `steno up`: every service as its own process, each restarted if it
//! exits; stopped together on Ctrl-C, or when one keeps crashing.

use std::path::{Path, PathBuf};

use steno_gateway::store::Store;
use steno_runtime::config::{AUTH_KEYS, Config};

use crate::{
    keys,
    processes::{Processes, SERVICES},
};

pub async fn run(config: Option<PathBuf>, bin_dir: Option<PathBuf>, data_dir: &Path) -> anyhow::Result<()> {
    let loaded = Config::load(config.as_deref())?;
    if loaded.gateway.auth == AUTH_KEYS {
        // The ledger is migrated here first, so the key can be stored.
        let store = Store::connect(&loaded.gateway.database_url).await?;
        let file = keys::key_file(data_dir);
        keys::ensure_admin_key(&store, &file).await?;
        eprintln!("steno: admin API key in {} (the CLI uses it; `steno keys create` makes more)", file.display());
    }
    let mut processes = Processes::new(bin_dir)?;
    let args: Vec<String> = config.iter().flat_map(|c| ["--config".to_owned(), c.display().to_string()]).collect();
    for service in SERVICES {
        if let Err(e) = processes.spawn(service, None, &args, &[], None) {
            processes.stop_all().await;
            return Err(e);
        }
    }
    eprintln!("steno: {} services started; Ctrl-C (or SIGTERM) stops them", SERVICES.len());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let result = tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminate.recv() => Ok(()),
        gave_up = processes.supervise() => gave_up,
    };
    processes.stop_all().await;
    result.map_err(|e| e.context("stopped the other services"))
}
