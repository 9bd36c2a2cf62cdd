//! A whole steno system started by the CLI, each service its own process:
//!
//! - [`System::up`] (`steno up`): the configured NATS when a 2.10+ server
//!   answers there, else a nats-server with its store in the data
//!   directory; the configured ledger (by default SQLite in the data
//!   directory), so jobs survive a restart; the configured addresses; logs
//!   in `<data dir>/logs`.
//! - [`System::ephemeral`] (`steno transcribe` with no gateway answering):
//!   the same, with everything (store, ledger when embedded, logs) in a
//!   temporary directory and every address on a free loopback port;
//!   removed at stop.
//!
//! Either way a service that exits while the system starts ends the start
//! at once, with the last lines of every log.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use steno_gateway::{auth, store::Store};
use steno_runtime::config::{AUTH_KEYS, Config};

use crate::{
    keys,
    kit::{self, SERVICES, display, loopback},
    processes::Processes,
};

/// How long a system may take to become ready; a service that exits
/// meanwhile ends the wait at once.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Log lines shown for each process when the start fails.
const TAIL_LINES: usize = 8;

/// Where everything of a running system is, for the start-up summary.
pub struct Addresses {
    pub rest: String,
    pub grpc: SocketAddr,
    /// Each service's ops port (`/metrics`, `/readyz`).
    pub ops: Vec<(&'static str, u16)>,
    pub nats: String,
    /// The nats-server's store, when the system runs its own.
    pub nats_store: Option<PathBuf>,
    pub database: String,
    pub logs: PathBuf,
}

pub struct System {
    processes: Processes,
    /// Removed at stop (ephemeral systems).
    _temp: Option<tempfile::TempDir>,
    pub addresses: Addresses,
    /// An admin key the CLI uses against this system.
    pub api_key: String,
    /// Revoked at stop (an ephemeral run's key; its ledger may be shared).
    revoke: Option<(Store, String)>,
}

impl System {
    /// `steno up`: `config_file` is passed on to every service.
    pub async fn up(config: &Config, config_file: Option<&Path>, bin_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let home = &config.home;
        let plan = Plan {
            run_dir: home.clone(),
            logs: home.join("logs"),
            nats_port: kit::port_or_free(4222)?,
            database: config.gateway.database_url.clone(),
            free_ports: false,
            config_file: config_file.map(Path::to_owned),
            key: (config.gateway.auth == AUTH_KEYS).then(|| keys::key_file(home)),
        };
        Self::start(Processes::new(bin_dir)?, None, plan, config).await
    }

    /// A throwaway system for one `steno transcribe`, with an admin key of its own.
    pub async fn ephemeral(config: &Config, config_file: Option<&Path>) -> anyhow::Result<Self> {
        let temp = tempfile::Builder::new().prefix("steno-local-").tempdir()?;
        let dir = temp.path().to_owned();
        let database = match config.embedded_ledger() {
            true => format!("sqlite://{}", dir.join("steno.db").display()),
            false => config.gateway.database_url.clone(),
        };
        let plan = Plan {
            run_dir: dir.clone(),
            logs: dir,
            nats_port: kit::free_port()?,
            database,
            free_ports: true,
            config_file: config_file.map(Path::to_owned),
            key: None,
        };
        Self::start(Processes::new(None)?, Some(temp), plan, config).await
    }

    async fn start(
        processes: Processes,
        temp: Option<tempfile::TempDir>,
        plan: Plan,
        config: &Config,
    ) -> anyhow::Result<Self> {
        let gateway = &config.gateway;
        let addresses = Addresses {
            rest: format!("http://{}", loopback(gateway.http_addr)),
            grpc: loopback(gateway.grpc_addr),
            ops: Vec::new(),
            nats: config.nats.url.clone(),
            nats_store: None,
            database: plan.database.clone(),
            logs: plan.logs.clone(),
        };
        let mut system = Self { processes, _temp: temp, addresses, api_key: String::new(), revoke: None };
        match system.boot(config, &plan).await {
            Ok(()) => Ok(system),
            Err(failure) => {
                let logs = match &failure.culprit {
                    Some(name) => format!("\nits last log lines ({}):\n{}", display(name), system.log_tail(name)),
                    None => String::new(),
                };
                system.processes.stop_all_within(Duration::from_secs(2)).await;
                system.stop().await;
                Err(anyhow::anyhow!("{:#}{logs}", failure.error))
            }
        }
    }

    /// NATS, the ledger and a key, every service, then their readiness.
    async fn boot(&mut self, config: &Config, plan: &Plan) -> Result<(), Failure> {
        std::fs::create_dir_all(&plan.logs).map_err(|e| anyhow::anyhow!("create {}: {e}", plan.logs.display()))?;
        if let Err(reason) = kit::usable_nats(&config.nats).await {
            eprintln!("steno: {reason}; starting its own nats-server");
            self.start_nats(plan).await?;
        }
        let store = Store::connect(&plan.database).await?;
        match &plan.key {
            Some(file) => self.api_key = keys::ensure_admin_key(&store, file).await?,
            None if config.gateway.auth != AUTH_KEYS => {}
            None => {
                let (key, row) =
                    auth::create_key(&store, auth::DEFAULT_TENANT, "steno transcribe (local)", true).await?;
                self.api_key = key;
                self.revoke = Some((store, row.id));
            }
        }
        let mut env = vec![
            ("STENO_HOME".to_owned(), config.home.display().to_string()),
            ("STENO_NATS__URL".to_owned(), self.addresses.nats.clone()),
            ("STENO_GATEWAY__DATABASE_URL".to_owned(), plan.database.clone()),
        ];
        let ops_addrs = [
            config.gateway.ops_addr,
            config.download.ops_addr,
            config.transcode.ops_addr,
            config.transcribe.ops_addr,
            config.diarize.ops_addr,
            config.export.ops_addr,
            config.notify.ops_addr,
        ];
        for (service, configured) in SERVICES.into_iter().zip(ops_addrs) {
            let port = if plan.free_ports { kit::free_port()? } else { configured.port() };
            if plan.free_ports {
                env.push((format!("STENO_{}__OPS_ADDR", service.to_uppercase()), format!("127.0.0.1:{port}")));
            }
            self.addresses.ops.push((service, port));
        }
        if plan.free_ports {
            let (http, grpc) = (kit::free_port()?, kit::free_port()?);
            env.push(("STENO_GATEWAY__HTTP_ADDR".to_owned(), format!("127.0.0.1:{http}")));
            env.push(("STENO_GATEWAY__GRPC_ADDR".to_owned(), format!("127.0.0.1:{grpc}")));
            self.addresses.rest = format!("http://127.0.0.1:{http}");
            self.addresses.grpc = ([127, 0, 0, 1], grpc).into();
        }
        let args: Vec<String> =
            plan.config_file.iter().flat_map(|c| ["--config".to_owned(), c.display().to_string()]).collect();
        for service in SERVICES {
            self.processes.spawn(service, None, &args, &env, Some(plan.logs.join(format!("{service}.log"))))?;
        }
        self.wait_ready().await
    }

    /// Runs `nats-server -js` with its store under the run directory.
    async fn start_nats(&mut self, plan: &Plan) -> Result<(), Failure> {
        let store = plan.run_dir.join("nats");
        let args = kit::nats_args(plan.nats_port, &store);
        self.processes.spawn("nats-server", Some(kit::nats_server()?), &args, &[], Some(plan.logs.join("nats.log")))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !kit::listening(plan.nats_port).await {
            self.fail_if_exited()?;
            if Instant::now() > deadline {
                let error = anyhow::anyhow!("nats-server did not start listening");
                return Err(Failure { error, culprit: Some("nats-server".to_owned()) });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.addresses.nats = format!("nats://127.0.0.1:{}", plan.nats_port);
        self.addresses.nats_store = Some(store);
        Ok(())
    }

    /// Waits for every service's `/readyz`; a service that exits meanwhile
    /// ends the wait at once.
    async fn wait_ready(&mut self) -> Result<(), Failure> {
        let deadline = Instant::now() + START_TIMEOUT;
        for (service, port) in self.addresses.ops.clone() {
            while !kit::ready(port).await {
                self.fail_if_exited()?;
                if Instant::now() > deadline {
                    let error = anyhow::anyhow!("steno-{service} did not become ready");
                    return Err(Failure { error, culprit: Some(service.to_owned()) });
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// A failure naming a process that exited while the system was starting.
    fn fail_if_exited(&mut self) -> Result<(), Failure> {
        match self.processes.exited() {
            Some((name, status)) => Err(Failure {
                error: anyhow::anyhow!("{} exited while steno was starting ({status})", display(&name)),
                culprit: Some(name),
            }),
            None => Ok(()),
        }
    }

    /// The last lines of a process's log.
    fn log_tail(&self, name: &str) -> String {
        let file = self.addresses.logs.join(format!("{}.log", name.trim_end_matches("-server")));
        kit::log_tail(&file, TAIL_LINES)
    }

    /// Restarts services that exit (see [`Processes::supervise`]).
    pub async fn supervise(&mut self) -> anyhow::Result<()> {
        self.processes.supervise().await
    }

    /// Stops every process, revokes an ephemeral run's key and removes its directory.
    pub async fn stop(mut self) {
        self.processes.stop_all().await;
        if let Some((store, id)) = self.revoke.take()
            && let Err(e) = store.revoke_key(&id).await
        {
            eprintln!("steno: could not revoke the local run's key {id}: {e}");
        }
    }
}

/// Why a start failed, and the process at fault (exited or never
/// ready), whose log's last lines go with the error.
struct Failure {
    error: anyhow::Error,
    culprit: Option<String>,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self { error, culprit: None }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        anyhow::Error::from(error).into()
    }
}

/// How one system is laid out.
struct Plan {
    /// Holds the nats-server store (when steno runs its own).
    run_dir: PathBuf,
    logs: PathBuf,
    nats_port: u16,
    database: String,
    /// Every address on a free loopback port rather than the configured ones.
    free_ports: bool,
    config_file: Option<PathBuf>,
    /// Where the CLI's admin key is kept; `None`: a key for this run only.
    key: Option<PathBuf>,
}
