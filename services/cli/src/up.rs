//! `steno up`: every service as its own process, each restarted if it
//! exits; stopped together on Ctrl-C, or when one keeps crashing.

use std::path::PathBuf;

use crate::processes::{Processes, SERVICES};

pub async fn run(config: Option<PathBuf>, bin_dir: Option<PathBuf>) -> anyhow::Result<()> {
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
