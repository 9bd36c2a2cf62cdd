//! Starts the topology `deploy/docker-compose.yml` describes, as processes
//! on loopback: the same services with the same command and environment
//! (read through `docker-compose config`), with compose's hosts and ports
//! translated: a current nats-server with its own store, a fresh Postgres
//! database, free loopback ports. Tests may layer `STENO_…` settings on top.
//! Each test gets its own of everything and cleans up in `stop`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use sqlx::{Connection, Executor, PgConnection};
pub use steno_cli::kit::{self, SERVICES};

/// A gRPC `JobService` client that sends an API key with every call.
pub type Grpc = steno_proto::v1::job_service_client::JobServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, ApiKey>,
>;

#[derive(Clone)]
pub struct ApiKey(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for ApiKey {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub async fn grpc_client(address: &str, key: &str) -> Grpc {
    let channel = tonic::transport::Endpoint::from_shared(address.to_owned())
        .expect("grpc address")
        .connect()
        .await
        .expect("grpc connect");
    let key = ApiKey(format!("Bearer {key}").parse().expect("key as metadata"));
    steno_proto::v1::job_service_client::JobServiceClient::with_interceptor(channel, key)
}

/// Waits until `check` returns `Some`, polling; panics with `what` after `timeout`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The Prometheus text served on an ops port.
pub async fn metrics_at(port: u16) -> String {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.expect("metrics");
    response.text().await.expect("metrics body")
}

/// A port free now and never handed out before in this process: tests run
/// side by side in one process, and a port one test was given but has not
/// bound yet must not go to another (whose service would then answer for it).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = kit::free_port().expect("free port");
        if GIVEN.lock().map(|mut given| given.insert(port)).unwrap_or(true) {
            return port;
        }
    }
}

/// The models `scripts/setup.sh` installed: the data directory's.
pub fn models_dir() -> PathBuf {
    steno_runtime::config::data_home().join("models")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_owned()
}

/// `target/<profile>` of this test binary, where the service binaries are.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    exe.parent().and_then(Path::parent).expect("target dir").to_owned()
}

/// The Python with the test clients (`openai`, `standardwebhooks`) that
/// `scripts/setup.sh --dev` installs: `<target>/test-venv`, or
/// `$STENO_TEST_PYTHON`.
pub fn test_python() -> PathBuf {
    if let Some(python) = std::env::var_os("STENO_TEST_PYTHON") {
        return python.into();
    }
    let python = bin_dir().parent().expect("target dir").join("test-venv/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/setup.sh --dev", python.display());
    python
}

/// Starts a nats-server with JetStream and its store and log in `dir`, on a
/// free loopback port; returns it once it listens, with its URL.
pub async fn start_nats(dir: &Path) -> (Child, String) {
    let port = free_port();
    (start_nats_on(dir, port, None).await, format!("nats://127.0.0.1:{port}"))
}

/// As [`start_nats`], on `port` (a restart keeps its port and store); with
/// `locked_down`, under `deploy/nats/nats.conf` with each service's
/// password from [`nats_password`].
async fn start_nats_on(dir: &Path, port: u16, locked_down: Option<&str>) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("nats.log")).expect("log file");
    let mut command = Command::new(kit::nats_server().expect("nats-server"));
    if let Some(seed) = locked_down {
        command.arg("-c").arg(repo_root().join("deploy/nats/nats.conf"));
        command.args(["-m", &free_port().to_string()]);
        for service in SERVICES {
            command.env(format!("STENO_NATS_{}_PASSWORD", service.to_uppercase()), nats_password(seed, service));
        }
    }
    let child = command
        .args(kit::nats_args(port, &dir.join("jetstream")))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start nats-server");
    wait_until("nats-server to listen", Duration::from_secs(20), || async { kit::listening(port).await.then_some(()) })
        .await;
    child
}

/// The per-service NATS passwords `docker-compose config` insists on.
pub fn compose_nats_passwords() -> Vec<(String, String)> {
    SERVICES.iter().map(|s| (format!("STENO_NATS_{}_PASSWORD", s.to_uppercase()), "unused".to_owned())).collect()
}

/// A service's NATS password in a locked-down system.
pub fn nats_password(seed: &str, service: &str) -> String {
    format!("{service}-{seed}")
}

/// An ffmpeg that waits 4 s before it runs, so a transcode is still
/// running when a test interrupts it (the real ffmpeg does the work).
pub fn slow_ffmpeg(dir: &Path) -> String {
    let path = dir.join("slow-ffmpeg");
    std::fs::write(&path, "#!/bin/sh\nsleep 4\nexec ffmpeg \"$@\"\n").expect("write");
    let _ = std::process::Command::new("chmod").arg("+x").arg(&path).status();
    path.display().to_string()
}

/// The Postgres server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("STENO_TEST_DATABASE_URL").unwrap_or("postgres://postgres@127.0.0.1:5432".into())
}

/// Drops a test's database.
pub async fn drop_database(admin_url: &str, database: &str) {
    if let Ok(mut conn) = PgConnection::connect(&format!("{admin_url}/postgres")).await {
        let drop = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        let _ = conn.execute(sqlx::AssertSqlSafe(drop)).await;
    }
}

/// A steno service as compose runs it: command arguments and environment.
#[derive(Clone)]
struct ComposeService {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// The steno services of `deploy/docker-compose.yml`, as `docker-compose
/// config` renders them (variables interpolated, anchors merged).
fn compose_services() -> &'static BTreeMap<String, ComposeService> {
    static SERVICES_OF_COMPOSE: OnceLock<BTreeMap<String, ComposeService>> = OnceLock::new();
    SERVICES_OF_COMPOSE.get_or_init(|| {
        let output = Command::new("docker-compose")
            .arg("-f")
            .arg(repo_root().join("deploy/docker-compose.yml"))
            .arg("config")
            .env("POSTGRES_PASSWORD", "unused")
            .env("GRAFANA_ADMIN_PASSWORD", "unused")
            .envs(compose_nats_passwords())
            .output()
            .expect("run docker-compose (Debian package docker-compose)");
        assert!(output.status.success(), "docker-compose config: {}", String::from_utf8_lossy(&output.stderr));
        let compose: serde_yaml::Value = serde_yaml::from_slice(&output.stdout).expect("compose YAML");
        let mut services = BTreeMap::new();
        for name in SERVICES {
            let service = &compose["services"][name];
            let args = service["command"].as_sequence().expect("command").iter();
            let args = args.filter_map(|a| a.as_str().map(str::to_owned)).collect();
            let env = service["environment"].as_mapping().expect("environment").iter();
            let env = env
                .map(|(k, v)| {
                    let value = v.as_str().map_or_else(|| v.as_u64().unwrap_or(0).to_string(), str::to_owned);
                    (k.as_str().expect("key").to_owned(), value)
                })
                .collect();
            services.insert(name.to_owned(), ComposeService { args, env });
        }
        services
    })
}

struct Process {
    name: String,
    child: Child,
    log: PathBuf,
    ops_port: u16,
}

pub struct System {
    pub dir: tempfile::TempDir,
    pub nats_url: String,
    pub http: String,
    pub grpc: String,
    pub ops_ports: Vec<(&'static str, u16)>,
    database: String,
    admin_url: String,
    nats: Process,
    services: Vec<Process>,
    /// Each service's compose command and environment, translated.
    compose: BTreeMap<String, ComposeService>,
    /// Test settings layered over every service's compose environment.
    env: Vec<(String, String)>,
    /// Processes started so far (names their logs).
    started: usize,
    /// A key of tenant `test`, made with `steno keys create` once the ledger is up.
    pub api_key: String,
    /// Set when NATS runs under `deploy/nats/nats.conf`: seeds each
    /// service's password ([`nats_password`]).
    pub nats_lockdown: Option<String>,
}

impl System {
    /// Starts NATS and every service; returns once each `/readyz` answers.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`System::start`], with extra `STENO_…` variables for every service.
    pub async fn start_with(extra_env: &[(&str, &str)]) -> Self {
        Self::start_on_postgres(postgres_admin_url(), extra_env).await
    }

    /// As [`System::start_with`], with the ledger's database created on the
    /// Postgres server at `admin_url`.
    pub async fn start_on_postgres(admin_url: String, extra_env: &[(&str, &str)]) -> Self {
        Self::start_inner(admin_url, extra_env, None).await
    }

    /// As [`System::start`], with NATS under `deploy/nats/nats.conf`: no
    /// anonymous access, and each service connecting as its own user.
    pub async fn start_locked_down() -> Self {
        let seed = uuid::Uuid::new_v4().simple().to_string();
        Self::start_inner(postgres_admin_url(), &[], Some(seed)).await
    }

    async fn start_inner(admin_url: String, extra_env: &[(&str, &str)], nats_lockdown: Option<String>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let nats_child = start_nats_on(dir.path(), port, nats_lockdown.as_deref()).await;
        let nats_url = format!("nats://127.0.0.1:{port}");
        let nats =
            Process { name: "nats-server".into(), child: nats_child, log: dir.path().join("nats.log"), ops_port: 0 };

        let database = format!("steno_test_{}", uuid::Uuid::new_v4().simple());
        let (http_port, grpc_port) = (free_port(), free_port());
        // compose's hosts and container paths, as this machine has them.
        let translations = [
            ("STENO_NATS__URL", nats_url.clone()),
            ("DATABASE_URL", format!("{admin_url}/{database}")),
            ("STENO_GATEWAY__HTTP_ADDR", format!("127.0.0.1:{http_port}")),
            ("STENO_GATEWAY__GRPC_ADDR", format!("127.0.0.1:{grpc_port}")),
            ("STENO_TRANSCRIBE__MODELS_DIR", models_dir().display().to_string()),
            ("STENO_DIARIZE__MODEL_PATH", models_dir().join("resemblyzer-ge2e.pt").display().to_string()),
            (
                "STENO_DIARIZE__SEGMENTATION_PATH",
                models_dir().join("pyannote-segmentation-3.0.onnx").display().to_string(),
            ),
        ];
        // Test settings on top: loopback media servers, quick retries, and
        // one whisper thread per transcriber: tests run several systems at
        // once on two cores, and oversubscribed ggml threads spin.
        let mut env: Vec<(String, String)> = vec![
            ("STENO_TRANSCRIBE__THREADS".into(), "1".into()),
            ("STENO_DOWNLOAD__ALLOW_NETWORKS".into(), "[\"127.0.0.1\"]".into()),
            ("STENO_WORKER__BACKOFF_SECS".into(), "[1]".into()),
            ("STENO_WORKER__MAX_DELIVER".into(), "3".into()),
            ("STENO_WORKER__QUEUE_DEPTH_INTERVAL_SECS".into(), "1".into()),
            ("STENO_LOG__LEVEL".into(), "info,whisper_rs=warn".into()),
        ];
        env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let compose = compose_services()
            .iter()
            .map(|(name, service)| {
                let config_file = repo_root().join("config/steno.toml").display().to_string();
                let args = service
                    .args
                    .iter()
                    .map(|a| if a == "/etc/steno/steno.toml" { config_file.clone() } else { a.clone() });
                let env = service.env.iter().map(|(k, v)| {
                    let translated = translations.iter().find(|(key, _)| key == k).map(|(_, value)| value.clone());
                    (k.clone(), translated.unwrap_or_else(|| v.clone()))
                });
                (name.clone(), ComposeService { args: args.collect(), env: env.collect() })
            })
            .collect();
        let mut system = Self {
            compose,
            dir,
            nats_url,
            http: format!("http://127.0.0.1:{http_port}"),
            grpc: format!("http://127.0.0.1:{grpc_port}"),
            ops_ports: Vec::new(),
            database,
            admin_url,
            nats,
            services: Vec::new(),
            env,
            started: 0,
            api_key: String::new(),
            nats_lockdown,
        };
        for service in SERVICES {
            system.start_service(service);
        }
        system.wait_ready().await;
        system.api_key = system.create_key("test", false);
        system
    }

    /// Makes an API key with `steno keys create` against this system's ledger.
    pub fn create_key(&self, tenant: &str, admin: bool) -> String {
        let mut command = Command::new(bin_dir().join("steno"));
        command.args(["keys", "create", "--tenant", tenant]).current_dir(repo_root());
        command.env("DATABASE_URL", self.database_url());
        if admin {
            command.arg("--admin");
        }
        let output = command.output().expect("run steno keys create");
        assert!(output.status.success(), "steno keys create: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("key is text").trim().to_owned()
    }

    /// A REST client with this system's tenant key.
    pub fn api(&self) -> crate::api::Api {
        crate::api::Api::new(&self.http, &self.api_key)
    }

    /// A gRPC client sending this system's tenant key.
    pub async fn grpc_client(&self) -> Grpc {
        grpc_client(&self.grpc, &self.api_key).await
    }

    /// As [`System::start_with`], with `replicas` transcribe processes.
    pub async fn start_with_transcribers(replicas: usize, extra_env: &[(&str, &str)]) -> Self {
        let mut system = Self::start_with(extra_env).await;
        for _ in 1..replicas {
            system.start_service("transcribe");
        }
        system.wait_ready().await;
        system
    }

    /// Starts one more process of `service` (a replica, or a restart).
    pub fn start_service(&mut self, service: &'static str) {
        let ops_port = free_port();
        let section = service.to_uppercase();
        let binary = bin_dir().join(format!("steno-{service}"));
        assert!(binary.exists(), "{} missing: run `cargo build --workspace --bins` first", binary.display());
        self.started += 1;
        let log = self.dir.path().join(format!("{service}-{}.log", self.started));
        let compose = &self.compose[service];
        let child = Command::new(&binary)
            .args(&compose.args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(compose.env.iter().cloned())
            .envs(self.env.iter().cloned())
            .env(format!("STENO_{section}__OPS_ADDR"), format!("127.0.0.1:{ops_port}"))
            .envs(self.nats_lockdown.iter().flat_map(|seed| {
                [
                    ("STENO_NATS__USER".to_owned(), service.to_owned()),
                    ("STENO_NATS__PASSWORD".into(), nats_password(seed, service)),
                ]
            }))
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(std::fs::File::create(log.with_extension("err")).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        self.services.push(Process { name: service.into(), child, log: log.with_extension("err"), ops_port });
        self.ops_ports.push((service, ops_port));
    }

    /// Sends SIGTERM to every process of `service`; each must drain and
    /// exit successfully.
    pub fn stop_service(&mut self, service: &str) {
        for process in self.services.iter_mut().filter(|p| p.name == service) {
            let _ = Command::new("kill").args(["-TERM", &process.child.id().to_string()]).status();
            let status = process.child.wait().expect("wait for service");
            let log = std::fs::read_to_string(&process.log).unwrap_or_default();
            assert!(status.success(), "steno-{service} exited with {status} on SIGTERM\n{log}");
        }
        self.forget(|p| p.name == service);
    }

    /// Drops stopped processes and their ops ports.
    fn forget(&mut self, stopped: impl Fn(&Process) -> bool) {
        let ports: Vec<u16> = self.services.iter().filter(|p| stopped(p)).map(|p| p.ops_port).collect();
        self.ops_ports.retain(|(_, port)| !ports.contains(port));
        self.services.retain(|p| !stopped(p));
    }

    /// SIGKILLs every process of `service`: a crash, with no chance to drain.
    pub fn kill_service(&mut self, service: &str) {
        for process in self.services.iter_mut().filter(|p| p.name == service) {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
        self.forget(|p| p.name == service);
    }

    /// Stops nats-server (SIGTERM: it flushes its file store) and starts it
    /// again on the same port and store; services reconnect on their own.
    pub async fn restart_nats(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.nats.child.id().to_string()]).status();
        let _ = self.nats.child.wait();
        let port = self.nats_url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("nats port");
        self.nats.child = start_nats_on(self.dir.path(), port, self.nats_lockdown.as_deref()).await;
    }

    /// Sends `signal` (`STOP`, `CONT`, `KILL`, …) to the one process whose
    /// ops port is `ops_port`.
    pub fn signal(&self, ops_port: u16, signal: &str) {
        let process = self.services.iter().find(|p| p.ops_port == ops_port).expect("process");
        let status = Command::new("kill").arg(format!("-{signal}")).arg(process.child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal} {}", process.child.id());
    }

    /// SIGKILLs the one process whose ops port is `ops_port`.
    pub fn kill_replica(&mut self, ops_port: u16) {
        for process in self.services.iter_mut().filter(|p| p.ops_port == ops_port) {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
        self.forget(|p| p.ops_port == ops_port);
    }

    /// Ops ports of every running `service` process.
    pub fn replica_ports(&self, service: &str) -> Vec<u16> {
        self.services.iter().filter(|p| p.name == service).map(|p| p.ops_port).collect()
    }

    /// Peak resident memory (VmHWM, KiB) of the latest `service` process.
    #[allow(dead_code)] // for benches/long_media.rs
    pub fn peak_rss_kib(&self, service: &str) -> u64 {
        let Some(process) = self.services.iter().rev().find(|p| p.name == service) else { return 0 };
        let status = std::fs::read_to_string(format!("/proc/{}/status", process.child.id())).unwrap_or_default();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or_default();
        line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).unwrap_or(0)
    }

    /// The Prometheus text the latest `service` process serves.
    pub async fn metrics(&self, service: &str) -> String {
        metrics_at(self.ops_port(service)).await
    }

    /// Every event of a job so far, with its `traceparent` header.
    pub async fn job_events(&self, job_id: &str) -> Vec<(steno_proto::v1::JobEvent, String)> {
        use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
        use futures::StreamExt;
        use prost::Message as _;
        let js = async_nats::jetstream::new(async_nats::connect(&self.nats_url).await.expect("connect"));
        let stream = js.get_stream("STENO_EVENTS").await.expect("events stream");
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: format!("steno.events.{job_id}.>"),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .expect("consumer");
        let mut messages = consumer.messages().await.expect("messages");
        let mut events = Vec::new();
        while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(2), messages.next()).await {
            let event = steno_proto::v1::JobEvent::decode(message.payload.clone()).expect("event");
            let parent = message.headers.as_ref().and_then(|h| h.get("traceparent")).map(|v| v.as_str().to_owned());
            events.push((event, parent.unwrap_or_default()));
        }
        events
    }

    /// The test's own ledger database.
    /// The ledger's URL: this system's Postgres database, or the
    /// `DATABASE_URL` a test gave (an SQLite file, say).
    pub fn database_url(&self) -> String {
        let given = self.env.iter().rev().find(|(k, _)| k == "DATABASE_URL").map(|(_, v)| v.clone());
        given.unwrap_or_else(|| format!("{}/{}", self.admin_url, self.database))
    }

    /// How many `completed` events each job has (one set of outputs each).
    pub async fn completions(&self) -> std::collections::HashMap<String, usize> {
        use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
        use futures::StreamExt;
        let js = async_nats::jetstream::new(async_nats::connect(&self.nats_url).await.expect("connect"));
        let stream = js.get_stream("STENO_EVENTS").await.expect("events stream");
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: "steno.events.*.completed".into(),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .expect("consumer");
        let mut messages = consumer.messages().await.expect("messages");
        let mut counts = std::collections::HashMap::new();
        while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(2), messages.next()).await {
            let job = message.subject.split('.').nth(2).unwrap_or_default().to_owned();
            *counts.entry(job).or_insert(0) += 1;
        }
        counts
    }

    pub fn ops_port(&self, service: &str) -> u16 {
        self.ops_ports.iter().rev().find(|(s, _)| *s == service).map(|(_, p)| *p).expect("service started")
    }

    pub async fn wait_ready(&mut self) {
        let ports = self.ops_ports.clone();
        for (service, port) in ports {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !kit::ready(port).await {
                if Instant::now() > deadline || self.exited(service) {
                    panic!("steno-{service} did not become ready\n{}", self.logs());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    fn exited(&mut self, service: &str) -> bool {
        self.services.iter_mut().filter(|p| p.name == service).any(|p| matches!(p.child.try_wait(), Ok(Some(_))))
    }

    /// The last lines of every log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for process in std::iter::once(&self.nats).chain(&self.services) {
            // A service logs to stdout (`.log`) and panics to stderr (`.err`).
            let stdout = std::fs::read_to_string(process.log.with_extension("log")).unwrap_or_default();
            let stderr = std::fs::read_to_string(&process.log).unwrap_or_default();
            let text = if process.log.extension().is_some_and(|e| e == "err") { stdout + &stderr } else { stderr };
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            out.push_str(&format!("--- {} ({})\n{tail}\n", process.name, process.log.display()));
        }
        out
    }

    /// Stops every process (SIGTERM, then waits) and drops the database.
    pub async fn stop(mut self) {
        for service in SERVICES.iter().rev() {
            self.stop_service(service);
        }
        let _ = self.nats.child.kill();
        let _ = self.nats.child.wait();
        drop_database(&self.admin_url, &self.database).await;
    }
}

impl Drop for System {
    fn drop(&mut self) {
        for process in self.services.iter_mut().chain(std::iter::once(&mut self.nats)) {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }
}
