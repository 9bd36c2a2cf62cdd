//! Retention: every `retention.sweep_interval_secs`, the janitor removes
//! jobs finished more than `retention.days` ago (row, artifacts, events,
//! flags, dead letters), fails jobs that made no progress for that long, and
//! removes what no job owns: artifacts of jobs that do not exist (an upload
//! whose job was never recorded) and chunks left by uploads or downloads
//! that failed midway. Running it on several gateways at once is harmless.

use std::time::Duration;

use steno_runtime::{JobId, config::RetentionConfig, metrics};
use tokio_util::sync::CancellationToken;

use crate::{jobs::Jobs, store::JobStatus};

/// Expired jobs removed per sweep (the rest wait for the next).
const BATCH: i64 = 500;

pub async fn run(jobs: Jobs, config: RetentionConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let every = Duration::from_secs(config.sweep_interval_secs);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return Ok(()),
        }
        if let Err(e) = sweep(&jobs, &config).await {
            tracing::warn!(error = format!("{e:#}"), "retention sweep failed; trying again next time");
        }
    }
}

async fn sweep(jobs: &Jobs, config: &RetentionConfig) -> anyhow::Result<()> {
    if config.days > 0 {
        let reason = format!("the job made no progress for {} days (retention.days) and was given up", config.days);
        for job in jobs.store.fail_stalled(config.days, &reason).await? {
            tracing::warn!(job_id = job.id, "stalled job failed");
            metrics::job_finished(JobStatus::Failed.name(), &job.submitted_via);
        }
        let expired = jobs.store.expired(config.days, BATCH).await?;
        for job in &expired {
            jobs.remove(&JobId::parse(&job.id)?).await?;
        }
        if !expired.is_empty() {
            tracing::info!(jobs = expired.len(), days = config.days, "removed finished jobs past retention");
        }
    }
    let store = jobs.store.clone();
    let (objects, chunks) = jobs
        .artifacts
        .sweep_orphans(i64::try_from(config.orphan_grace_secs).unwrap_or(i64::MAX), |job| {
            let store = store.clone();
            async move { Ok(store.exists(&job).await?) }
        })
        .await?;
    if objects + chunks > 0 {
        tracing::info!(objects, chunks, "removed artifacts no job owns");
    }
    Ok(())
}
