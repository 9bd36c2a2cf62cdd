//! The submission outbox: a job row is written before its first task is
//! published, and marked `dispatched` after. A gateway that stops in
//! between, or a NATS outage at submission, leaves the row queued and
//! undispatched; this loop publishes it once it is older than a grace
//! period. Every gateway replica may run it: the task's `Nats-Msg-Id`
//! drops a second copy.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::jobs::Jobs;

/// How long a new job may stay undispatched before the loop takes over
/// (its own submission is usually publishing it).
const GRACE_SECS: i64 = 10;
const EVERY: Duration = Duration::from_secs(5);
const BATCH: i64 = 100;

pub async fn run(jobs: Jobs, shutdown: CancellationToken) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = shutdown.cancelled() => return Ok(()),
        }
        let stranded = match jobs.store.undispatched(GRACE_SECS, BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "look for undispatched jobs");
                continue;
            }
        };
        for row in stranded {
            match jobs.dispatch(&row).await {
                Ok(()) => tracing::info!(job_id = row.id, "queued a job whose first task had not been published"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), job_id = row.id, "dispatch a queued job"),
            }
        }
    }
}
