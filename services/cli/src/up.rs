//! `steno up`: every service as its own process, stopped together.

use std::{path::PathBuf, process::Stdio, time::Duration};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use tokio::process::{Child, Command};

/// The service binaries, in start order.
pub const SERVICES: [&str; 6] = ["gateway", "download", "transcode", "transcribe", "diarize", "export"];

pub async fn run(config: Option<PathBuf>, bin_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let bin_dir = match bin_dir {
        Some(dir) => dir,
        None => std::env::current_exe()?.parent().map(PathBuf::from).unwrap_or_default(),
    };
    let mut children = Vec::new();
    for service in SERVICES {
        let binary = bin_dir.join(format!("steno-{service}"));
        let mut command = Command::new(&binary);
        if let Some(config) = &config {
            command.arg("--config").arg(config);
        }
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("start {} ({e}); build it with `cargo build --release`", binary.display()));
        match child {
            Ok(child) => children.push((service, child)),
            Err(e) => {
                stop_all(&mut children).await;
                return Err(e);
            }
        }
    }
    eprintln!("steno: {} services started; Ctrl-C stops them", children.len());

    let exited = tokio::select! {
        _ = tokio::signal::ctrl_c() => None,
        exited = first_exit(&mut children) => Some(exited),
    };
    stop_all(&mut children).await;
    match exited {
        None => Ok(()),
        Some((service, status)) => anyhow::bail!("steno-{service} exited ({status}); stopped the others"),
    }
}

async fn first_exit(children: &mut [(&'static str, Child)]) -> (&'static str, String) {
    loop {
        for (service, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return (service, status.to_string());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// SIGTERM to each (they drain), then SIGKILL whatever is left after 35 s.
async fn stop_all(children: &mut [(&'static str, Child)]) {
    for (_, child) in children.iter() {
        if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
    }
    for (service, child) in children.iter_mut() {
        match tokio::time::timeout(Duration::from_secs(35), child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                eprintln!("steno: steno-{service} did not stop; killing it");
                let _ = child.kill().await;
            }
        }
    }
}
