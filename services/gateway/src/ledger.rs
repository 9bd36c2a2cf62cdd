//! Writes the job ledger from the events stream: every stage reports
//! through `steno.events.<job_id>.<kind>`, and only the gateway turns that
//! into rows. A finished job is never changed again.

use std::time::Duration;

use async_nats::jetstream::AckKind;
use prost::Message as _;
use steno_runtime::{
    bus::Bus,
    metrics,
    proto::{EventKind, JobEvent},
    subjects,
};
use tokio_util::sync::CancellationToken;

use crate::{
    consume::consume,
    store::{Store, Update},
};

pub async fn run(bus: Bus, store: Store, shutdown: CancellationToken) -> anyhow::Result<()> {
    consume(&bus, subjects::EVENTS_STREAM, subjects::LEDGER_CONSUMER, shutdown, |message| {
        let store = store.clone();
        async move {
            let ack = match JobEvent::decode(message.payload.clone()) {
                Ok(event) => match apply(&store, &event).await {
                    Ok(()) => AckKind::Ack,
                    Err(e) => {
                        tracing::warn!(error = %e, job_id = event.job_id, "ledger update failed; will retry");
                        AckKind::Nak(Some(Duration::from_secs(2)))
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, subject = %message.subject, "undecodable event dropped");
                    AckKind::Term
                }
            };
            (message, ack)
        }
    })
    .await
}

/// The ledger change an event makes.
async fn apply(store: &Store, event: &JobEvent) -> Result<(), sqlx::Error> {
    let stage = Some(subjects::stage_name(event.stage())).filter(|s| *s != "unspecified");
    let artifacts = event.artifacts.clone().unwrap_or_default();
    let duration = i64::try_from(event.duration_ms).ok().filter(|d| *d > 0);
    let language = Some(event.language.as_str()).filter(|l| !l.is_empty());
    let update = match event.kind() {
        EventKind::Started => Update { status: Some("running"), stage, progress: Some(0.0), ..Default::default() },
        EventKind::Progress => Update { stage, progress: Some(event.progress), ..Default::default() },
        EventKind::StageCompleted => {
            Update { stage, progress: Some(1.0), duration_ms: duration, language, ..Default::default() }
        }
        EventKind::Completed => Update {
            status: Some("completed"),
            stage,
            progress: Some(1.0),
            duration_ms: duration,
            language,
            exports: Some(artifacts.exports),
            ..Default::default()
        },
        EventKind::Failed => {
            Update { status: Some("failed"), stage, error: Some(event.message.as_str()), ..Default::default() }
        }
        EventKind::Cancelled => Update { status: Some("cancelled"), ..Default::default() },
        EventKind::Queued | EventKind::Retrying | EventKind::Unspecified => return Ok(()),
    };
    let terminal = update.status.filter(|s| ["completed", "failed", "cancelled"].contains(s));
    let changed = store.update(&event.job_id, update).await?;
    if let (Some(status), Some(job)) = (terminal, changed) {
        metrics::job_finished(status, &job.submitted_via);
    }
    Ok(())
}
