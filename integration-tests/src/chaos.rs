//! Chaos: many short jobs at once, two transcribers, and a random worker
//! killed (SIGKILL) and started again every few seconds. Every job must be
//! in the ledger once and end completed, with one set of outputs. The test
//! runs 100 jobs; `cargo bench -p integration-tests --bench chaos` runs
//! 1,000 and prints the table.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

use crate::{fixtures::serve_media, harness::System};

/// The workers a kill may hit (the gateway is not a worker).
const WORKERS: [&str; 4] = ["download", "transcode", "transcribe", "export"];

#[derive(Debug, Default)]
pub struct Report {
    pub submitted: usize,
    pub in_ledger: usize,
    pub completed: usize,
    /// Failed, each with a reason.
    pub failed: usize,
    /// Jobs with more than one `completed` event.
    pub duplicated: usize,
    /// Submitted jobs that did not end (or are not in the ledger).
    pub lost: usize,
    pub kills: usize,
    pub seconds: f64,
}

impl Report {
    pub fn table(&self) -> String {
        format!(
            "| jobs | in ledger | completed | failed with a reason | duplicated | lost | workers killed | wall s | jobs/min |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n\
             | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.1} |",
            self.submitted,
            self.in_ledger,
            self.completed,
            self.failed,
            self.duplicated,
            self.lost,
            self.kills,
            self.seconds,
            self.submitted as f64 / (self.seconds / 60.0),
        )
    }
}

/// A small generator for which worker to kill (the seed is printed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// Submits `jobs` short jobs at once and kills a random worker every
/// `kill_every` until every job has ended or `deadline` passed.
pub async fn run(jobs: usize, kill_every: Duration, deadline: Duration) -> (System, Report) {
    // All jobs at once, from one tenant: no quotas.
    let env = [
        ("STENO_WORKER__ACK_WAIT_SECS", "5"),
        ("STENO_WORKER__MAX_DELIVER", "10"),
        ("STENO_GATEWAY__SUBMISSIONS_PER_MINUTE", "0"),
        ("STENO_GATEWAY__MAX_JOBS_IN_FLIGHT", "0"),
    ];
    let mut system = System::start_with_transcribers(2, &env).await;
    let media = serve_media().await;
    let api = system.api();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    eprintln!("chaos: {jobs} jobs, a worker killed every {kill_every:?}, seed {seed}");
    let mut random = Lcg(seed);
    let clock = Instant::now();

    let body = json!({ "source_url": format!("{media}/speech.wav"), "formats": ["txt"], "diarize": false });
    let submitted: Vec<u16> = futures::stream::iter(0..jobs)
        .map(|_| {
            let (api, body) = (&api, body.clone());
            async move { api.submit(body).await.0 }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(submitted.iter().all(|s| *s == 201), "every submission accepted: {submitted:?}");

    let ledger = sqlx::PgPool::connect(&system.database_url()).await.expect("ledger");
    let mut report = Report { submitted: jobs, ..Default::default() };
    let mut next_kill = Instant::now() + kill_every;
    loop {
        let unfinished: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
            .fetch_one(&ledger)
            .await
            .expect("count");
        if unfinished == 0 || clock.elapsed() > deadline {
            break;
        }
        if Instant::now() >= next_kill {
            let service = WORKERS[random.below(WORKERS.len())];
            let replicas = system.replica_ports(service);
            let victim = replicas[random.below(replicas.len())];
            system.kill_replica(victim);
            system.start_service(service);
            report.kills += 1;
            next_kill += kill_every;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.seconds = clock.elapsed().as_secs_f64();

    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, error FROM jobs").fetch_all(&ledger).await.expect("rows");
    report.in_ledger = rows.len();
    report.completed = rows.iter().filter(|(s, _)| s == "completed").count();
    report.failed = rows.iter().filter(|(s, e)| s == "failed" && e.as_deref().is_some_and(|e| !e.is_empty())).count();
    report.lost = jobs.saturating_sub(report.completed + report.failed);
    report.duplicated = system.completions().await.values().filter(|n| **n > 1).count();
    ledger.close().await;
    (system, report)
}
