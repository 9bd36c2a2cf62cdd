//! Service processes the CLI starts (`steno up`, local mode): spawned from
//! the binaries next to `steno`, supervised (`steno up` restarts one that
//! exits, with back-off, as compose's `restart: unless-stopped` does), and
//! stopped together with SIGTERM (they drain), then SIGKILL for any that
//! outstay the grace period.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use tokio::process::{Child, Command};

use crate::kit::display;

/// How long a stopping service may drain before it is killed.
const GRACE: Duration = Duration::from_secs(35);
/// A service that exits this often within [`CRASH_WINDOW`] is given up on.
const MAX_CRASHES: usize = 5;
const CRASH_WINDOW: Duration = Duration::from_secs(60);
/// The longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(16);

/// How to start one process again.
struct Spec {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: Option<PathBuf>,
}

impl Spec {
    fn start(&self, append: bool) -> anyhow::Result<Child> {
        let mut command = Command::new(&self.program);
        command.args(&self.args).envs(self.env.iter().cloned()).stdin(Stdio::null()).kill_on_drop(true);
        if let Some(log) = &self.log {
            let file =
                std::fs::OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(log)?;
            command.stdout(file.try_clone()?).stderr(file);
        }
        command.spawn().map_err(|e| {
            anyhow::anyhow!("start {} ({e}); `scripts/setup.sh` builds the binaries", self.program.display())
        })
    }
}

pub struct Processes {
    bin_dir: PathBuf,
    children: Vec<(Spec, Child)>,
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
        let spec = Spec { name: name.to_owned(), program, args: args.to_vec(), env: env.to_vec(), log };
        let child = spec.start(false)?;
        self.children.push((spec, child));
        Ok(())
    }

    /// A process that has exited, by name and status, if any (does not wait).
    pub fn exited(&mut self) -> Option<(String, String)> {
        self.children.iter_mut().find_map(|(spec, child)| match child.try_wait() {
            Ok(Some(status)) => Some((spec.name.clone(), status.to_string())),
            _ => None,
        })
    }

    /// Waits until one process exits; its index and status.
    async fn next_exit(&mut self) -> (usize, String) {
        loop {
            for (index, (_, child)) in self.children.iter_mut().enumerate() {
                if let Ok(Some(status)) = child.try_wait() {
                    return (index, status.to_string());
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Restarts every process that exits, after a back-off that doubles
    /// with its recent exits; returns an error naming the service once one
    /// has exited [`MAX_CRASHES`] times within [`CRASH_WINDOW`].
    pub async fn supervise(&mut self) -> anyhow::Result<()> {
        let mut exits: HashMap<String, Vec<Instant>> = HashMap::new();
        loop {
            let (index, status) = self.next_exit().await;
            let name = self.children[index].0.name.clone();
            let recent = exits.entry(name.clone()).or_default();
            recent.retain(|at| at.elapsed() < CRASH_WINDOW);
            recent.push(Instant::now());
            if recent.len() >= MAX_CRASHES {
                anyhow::bail!(
                    "{} exited {} times within {} s (last: {status}); giving up",
                    display(&name),
                    recent.len(),
                    CRASH_WINDOW.as_secs()
                );
            }
            let delay = restart_delay(recent.len());
            eprintln!("steno: {} exited ({status}); restarting it in {} s", display(&name), delay.as_secs());
            tokio::time::sleep(delay).await;
            let child = self.children[index].0.start(true)?;
            self.children[index].1 = child;
            eprintln!("steno: {} restarted", display(&name));
        }
    }

    /// SIGTERM to every process (newest first), then SIGKILL after the grace period.
    pub async fn stop_all(&mut self) {
        self.stop_all_within(GRACE).await;
    }

    /// As [`Processes::stop_all`], with SIGKILL after `grace` (a system that
    /// never became ready has nothing to drain).
    pub async fn stop_all_within(&mut self, grace: Duration) {
        for (_, child) in self.children.iter().rev() {
            if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        for (spec, child) in self.children.iter_mut().rev() {
            if tokio::time::timeout(grace, child.wait()).await.is_err() {
                if grace == GRACE {
                    eprintln!("steno: {} did not stop; killing it", spec.name);
                }
                let _ = child.kill().await;
            }
        }
        self.children.clear();
    }
}

/// The wait before restarting a service that exited `recent` times lately:
/// 1 s, 2 s, 4 s, … up to [`MAX_BACKOFF`].
fn restart_delay(recent: usize) -> Duration {
    let doubling = u32::try_from(recent.saturating_sub(1)).unwrap_or(u32::MAX).min(4);
    Duration::from_secs(1 << doubling).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_back_off_doubling_to_a_cap() {
        let delays: Vec<u64> = (1..=7).map(|n| restart_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 16, 16]);
    }
}
