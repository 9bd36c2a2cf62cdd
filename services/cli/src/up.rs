//! `steno up`: every service as its own process, stopped together.

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
    eprintln!("steno: {} services started; Ctrl-C stops them", SERVICES.len());
    let exited = tokio::select! {
        _ = tokio::signal::ctrl_c() => None,
        exited = processes.first_exit() => Some(exited),
    };
    processes.stop_all().await;
    match exited {
        None => Ok(()),
        Some((service, status)) => anyhow::bail!("steno-{service} exited ({status}); stopped the others"),
    }
}
