//! The ledger's database going away for 30 s mid-run loses nothing: the gateway
//! reports unready, stages go on (they never touch the database), the
//! events wait in JetStream, and once Postgres is back the ledger catches
//! up with no job moved backwards. Runs a private Postgres server, so
//! stopping it touches no other test.

use std::{path::Path, process::Command, time::Duration};

use crate::{
    fixtures::serve_media,
    harness::{System, free_port, wait_until},
};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A Postgres 15 server of the test's own (Debian's binaries, run as the
/// `postgres` user), trust auth on a free loopback port.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let _ = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status();
        let data = dir.path().join("data");
        as_postgres(&[&format!("{BIN}/initdb"), "-D", &data.display().to_string(), "-A", "trust", "-U", "postgres"]);
        let server = Self { dir, port: free_port() };
        server.pg_ctl("start");
        server
    }

    fn pg_ctl(&self, action: &str) {
        let data = self.dir.path().join("data").display().to_string();
        let log = self.dir.path().join("postgres.log").display().to_string();
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.path().display());
        let mut args = vec![format!("{BIN}/pg_ctl"), "-D".into(), data, "-w".into(), "-l".into(), log];
        match action {
            "start" => args.extend(["-o".into(), options, "start".into()]),
            _ => args.extend(["-m".into(), "fast".into(), action.into()]),
        }
        as_postgres(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        if Path::new(&data).join("postmaster.pid").exists() {
            self.pg_ctl("stop");
        }
    }
}

fn as_postgres(args: &[&str]) {
    let output = Command::new("runuser").args(["-u", "postgres", "--"]).args(args).output().expect("runuser");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_catches_up_after_postgres_comes_back() {
    let postgres = PrivatePostgres::start();
    let system = System::start_on_postgres(postgres.url(), &[]).await;
    let media = serve_media().await;
    let api = system.api();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(api.submit_plain(&format!("{media}/speech.wav")).await);
    }

    postgres.pg_ctl("stop");
    let stopped = tokio::time::Instant::now();
    let ready = format!("http://127.0.0.1:{}/readyz", system.ops_port("gateway"));
    wait_until("the gateway to report unready", Duration::from_secs(30), || async {
        let status = reqwest::get(&ready).await.ok()?.status();
        (status == 503).then_some(())
    })
    .await;
    let (status, body) = api.get(&format!("/v1/jobs/{}", ids[0])).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("not available"), "{body}");
    // The stages finish every job meanwhile: their events wait in JetStream.
    wait_until("every job to complete while the ledger is down", Duration::from_secs(180), || async {
        let done = system.completions().await;
        ids.iter().all(|id| done.get(id) == Some(&1)).then_some(())
    })
    .await;

    // The outage the scenario names: 30 s, whatever the stages took.
    tokio::time::sleep_until(stopped + Duration::from_secs(30)).await;
    postgres.pg_ctl("start");
    for id in &ids {
        let job = api.finished(id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
        // Caught up to the end, not left at an earlier stage.
        assert_eq!((job["stage"].as_str(), job["progress"].as_f64()), (Some("export"), Some(1.0)), "{job}");
    }
    assert!(reqwest::get(&ready).await.expect("readyz").status().is_success());
    system.stop().await;
}
