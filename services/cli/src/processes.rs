//! Service processes the CLI starts (`steno up`, local mode): spawned from
//! the binaries next to `steno`, stopped together with SIGTERM (they drain),
//! then SIGKILL for any that outstay the grace period.

use std::{path::PathBuf, process::Stdio, time::Duration};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use tokio::process::{Child, Command};

/// The service binaries, in start order.
pub const SERVICES: [&str; 6] = ["gateway", "download", "transcode", "transcribe", "diarize", "export"];

/// How long a stopping service may drain before it is killed.
const GRACE: Duration = Duration::from_secs(35);

pub struct Processes {
    bin_dir: PathBuf,
    children: Vec<(String, Child)>,
}

impl Processes {
    /// `bin_dir` holds the `steno-*` binaries; default: next to this one.
    pub fn new(bin_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let bin_dir = match bin_dir {
            Some(dir) => dir,
            None => std::env::current_exe()?.parent().map(PathBuf::from).unwrap_or_default(),
        };
        Ok(Self { bin_dir, children: Vec::new() })
    }

    /// Starts `program` (a path, or a `steno-<service>` name looked up in the
    /// binary directory) with `args`, extra `env`, and output to `log` or the
    /// terminal.
    pub fn spawn(
        &mut self,
        name: &str,
        program: Option<PathBuf>,
        args: &[String],
        env: &[(String, String)],
        log: Option<PathBuf>,
    ) -> anyhow::Result<()> {
        let program = program.unwrap_or_else(|| self.bin_dir.join(format!("steno-{name}")));
        let mut command = Command::new(&program);
        command.args(args).envs(env.iter().cloned()).stdin(Stdio::null()).kill_on_drop(true);
        if let Some(log) = log {
            let file = std::fs::File::create(&log)?;
            command.stdout(file.try_clone()?).stderr(file);
        }
        let child = command
            .spawn()
            .map_err(|e| anyhow::anyhow!("start {} ({e}); build it with `cargo build --release`", program.display()))?;
        self.children.push((name.to_owned(), child));
        Ok(())
    }

    /// Waits until one process exits; its name and status.
    pub async fn first_exit(&mut self) -> (String, String) {
        loop {
            for (name, child) in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    return (name.clone(), status.to_string());
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGTERM to every process (newest first), then SIGKILL after the grace period.
    pub async fn stop_all(&mut self) {
        for (_, child) in self.children.iter().rev() {
            if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        for (name, child) in self.children.iter_mut().rev() {
            if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
                eprintln!("steno: {name} did not stop; killing it");
                let _ = child.kill().await;
            }
        }
        self.children.clear();
    }
}
