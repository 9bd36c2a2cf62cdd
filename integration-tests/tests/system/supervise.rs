//! `steno up` supervises its services: one that dies is restarted and the
//! system goes on working; one that keeps crashing makes `steno up` stop
//! everything and say which and why; one that cannot start at all is named
//! at once, with its last log lines.

use std::{
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use crate::{
    api::Api,
    fixtures::serve_media,
    harness::{SERVICES, bin_dir, drop_database, free_port, models_dir, postgres_admin_url, start_nats, wait_until},
};

/// `steno up` against a private nats-server and a fresh database, with
/// every port free and its stderr in `dir/up.log`.
struct Up {
    child: Child,
    nats: Child,
    http: String,
    ops: Vec<(&'static str, u16)>,
    log: std::path::PathBuf,
    database: String,
}

impl Up {
    async fn start(dir: &Path, extra_env: &[(&str, &str)]) -> Self {
        let (nats, nats_url) = start_nats(dir).await;
        let database = format!("steno_test_{}", uuid::Uuid::new_v4().simple());
        let http = free_port();
        let mut command = Command::new(bin_dir().join("steno"));
        command
            .arg("up")
            .current_dir(dir)
            .env("STENO_HOME", dir)
            .env("STENO_NATS__URL", nats_url)
            .env("DATABASE_URL", format!("{}/{database}", postgres_admin_url()))
            .env("STENO_GATEWAY__HTTP_ADDR", format!("127.0.0.1:{http}"))
            .env("STENO_GATEWAY__GRPC_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("STENO_TRANSCRIBE__MODELS_DIR", models_dir())
            .env("STENO_TRANSCRIBE__THREADS", "1")
            .env("STENO_DIARIZE__MODEL_PATH", models_dir().join("resemblyzer-ge2e.pt"))
            .env("STENO_DOWNLOAD__ALLOW_NETWORKS", "[\"127.0.0.1\"]")
            .envs(extra_env.iter().copied());
        let mut ops = Vec::new();
        for service in SERVICES {
            let port = free_port();
            command.env(format!("STENO_{}__OPS_ADDR", service.to_uppercase()), format!("127.0.0.1:{port}"));
            ops.push((service, port));
        }
        let log = dir.join("up.log");
        let child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start steno up");
        Self { child, nats, http: format!("http://127.0.0.1:{http}"), ops, log, database }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until every service is ready and `steno up` says so: it
    /// supervises only from then on (a service that exits before is a
    /// failure to start, and ends it).
    async fn started(&self) {
        for (service, _) in &self.ops {
            self.ready(service).await;
        }
        wait_until("steno up to say it is up", Duration::from_secs(60), || async {
            self.log().contains("steno is up").then_some(())
        })
        .await;
    }

    async fn ready(&self, service: &str) {
        let port = self.ops.iter().find(|(s, _)| *s == service).map(|(_, p)| *p).expect("service");
        let url = format!("http://127.0.0.1:{port}/readyz");
        wait_until(&format!("steno-{service} to be ready"), Duration::from_secs(90), || async {
            reqwest::get(&url).await.ok().filter(|r| r.status().is_success()).map(|_| ())
        })
        .await;
    }

    /// The pid of the `steno-<service>` process `steno up` runs.
    fn child_pid(&self, service: &str) -> Option<u32> {
        let parent = self.child.id().to_string();
        let program = format!("steno-{service}");
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid …; comm is cut at 15 characters.
            let ppid = stat.rsplit_once(") ").and_then(|(_, rest)| rest.split_whitespace().nth(1));
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let argv0 = cmdline.split(|b| *b == 0).next().map(String::from_utf8_lossy).unwrap_or_default();
            if ppid == Some(parent.as_str()) && argv0.ends_with(&program) {
                return entry.file_name().to_str()?.parse().ok();
            }
        }
        None
    }

    /// Waits for `steno up` to exit, doing `meanwhile` at every poll; its status.
    async fn exited_within(&mut self, timeout: Duration, meanwhile: impl Fn(&Self)) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            meanwhile(self);
            if let Some(status) = self.child.try_wait().expect("steno up's status") {
                return status;
            }
            assert!(Instant::now() < deadline, "steno up did not exit within {timeout:?}: {}", self.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = self.nats.kill();
        let _ = self.nats.wait();
        drop_database(&postgres_admin_url(), &self.database).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn steno_up_restarts_a_service_that_dies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let up = Up::start(dir.path(), &[]).await;
    up.started().await;
    let pid = up.child_pid("transcribe").expect("steno-transcribe runs under steno up");
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    wait_until("steno up to restart transcribe", Duration::from_secs(30), || async {
        up.log().contains("steno: steno-transcribe restarted").then_some(())
    })
    .await;
    assert!(up.log().contains("steno-transcribe exited (signal: 9"), "{}", up.log());
    up.ready("transcribe").await;
    assert_ne!(up.child_pid("transcribe"), Some(pid));

    let media = serve_media().await;
    let key = std::fs::read_to_string(dir.path().join("api-key")).expect("steno up wrote its admin key");
    assert!(up.log().contains("api-key (admin"), "the summary names the key file: {}", up.log());
    let api = Api::new(&up.http, key.trim());
    let id = api.submit_plain(&format!("{media}/speech.wav")).await;
    let job = api.finished(&id, Duration::from_secs(120)).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", up.log());
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn steno_up_gives_up_on_a_service_that_keeps_crashing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut up = Up::start(dir.path(), &[]).await;
    up.started().await;
    // Killed as soon as each restart runs: the fifth exit within a minute ends it.
    let status = up
        .exited_within(Duration::from_secs(120), |up| {
            if let Some(pid) = up.child_pid("transcribe") {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        })
        .await;
    let log = up.log();
    assert!(!status.success(), "{log}");
    assert!(log.contains("steno-transcribe exited 5 times within 60 s"), "{log}");
    assert!(log.contains("stopped the other services"), "{log}");
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn steno_up_names_a_service_that_cannot_start_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut up = Up::start(dir.path(), &[("STENO_TRANSCRIBE__DEFAULT_MODEL", "no-such-model")]).await;
    let status = up.exited_within(Duration::from_secs(30), |_| {}).await;
    let log = up.log();
    assert!(!status.success(), "{log}");
    assert!(log.contains("steno-transcribe exited while steno was starting"), "{log}");
    assert!(log.contains("model no-such-model is not installed"), "with its last log lines: {log}");
    assert!(!log.contains("restarting"), "not restarted over and over: {log}");
    up.stop().await;
}
