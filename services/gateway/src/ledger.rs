//! Writes the job ledger from the events stream: every stage reports
//! through `steno.events.<job_id>.<kind>`, and only the gateway turns that
//! into rows. A finished job is never changed again (but by a retry), a
//! job's stage and progress never move back, and events of an attempt a
//! retry replaced are ignored. While the database cannot be reached the
//! event is held and tried again, so an outage uses up no deliveries; an
//! event the database refuses is terminated and reaches the dead letters.

use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};
use prost::Message as _;
use steno_runtime::{
    artifacts::Artifacts,
    bus::Bus,
    consume::{consume, durable},
    metrics,
    proto::{EventKind, JobEvent},
    subjects,
};
use tokio_util::sync::CancellationToken;

use crate::{
    search,
    store::{JobStatus, Store, Update, is_unavailable},
};

/// Deliveries of one event before it is dead-lettered (a gateway killed
/// while applying it each time).
const MAX_DELIVER: i64 = 10;
/// The longest wait between tries while the database is unreachable.
const MAX_HOLD_WAIT: Duration = Duration::from_secs(5);

pub async fn run(bus: Bus, store: Store, shutdown: CancellationToken) -> anyhow::Result<()> {
    let stopping = shutdown.clone();
    let objects = bus.artifacts.clone();
    consume(&bus, subjects::EVENTS_STREAM, durable(subjects::LEDGER_CONSUMER, MAX_DELIVER), shutdown, |message| {
        let (store, objects, stopping) = (store.clone(), objects.clone(), stopping.clone());
        async move {
            let ack = match JobEvent::decode(message.payload.clone()) {
                Ok(event) => apply_when_possible(&store, &objects, &message, &event, &stopping).await,
                Err(e) => {
                    tracing::warn!(error = %e, subject = %message.subject, "undecodable event dead-lettered");
                    AckKind::Term
                }
            };
            (message, ack)
        }
    })
    .await
}

/// Applies `event`, holding it (with in-progress acks) while the database
/// is unreachable.
async fn apply_when_possible(
    store: &Store,
    objects: &Artifacts,
    message: &Message,
    event: &JobEvent,
    shutdown: &CancellationToken,
) -> AckKind {
    let mut wait = Duration::from_millis(250);
    loop {
        match apply(store, objects, event).await {
            Ok(()) => return AckKind::Ack,
            Err(e) if is_unavailable(&e) => {
                tracing::warn!(error = %e, job_id = event.job_id, "ledger database unavailable; holding the event");
                if let Err(e) = message.ack_with(AckKind::Progress).await {
                    tracing::debug!(error = %e, "in-progress ack");
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => return AckKind::Nak(None),
                }
                wait = (wait * 2).min(MAX_HOLD_WAIT);
            }
            Err(e) => {
                tracing::error!(error = %e, job_id = event.job_id, "the ledger refused an event; dead-lettering it");
                return AckKind::Term;
            }
        }
    }
}

/// The ledger change an event makes; a job that completed is indexed for
/// search from the transcript its event names.
async fn apply(store: &Store, objects: &Artifacts, event: &JobEvent) -> Result<(), sqlx::Error> {
    let stage = Some(subjects::stage_name(event.stage())).filter(|s| *s != "unspecified");
    let artifacts = event.artifacts.clone().unwrap_or_default();
    let duration = i64::try_from(event.duration_ms).ok().filter(|d| *d > 0);
    let language = Some(event.language.as_str()).filter(|l| !l.is_empty());
    let base = Update { attempt: i64::from(event.attempt), stage, stage_rank: event.stage, ..Default::default() };
    let update = match event.kind() {
        EventKind::Started => Update { status: Some(JobStatus::Running), progress: Some(0.0), ..base },
        EventKind::Progress => Update { progress: Some(event.progress), ..base },
        EventKind::StageCompleted => Update { progress: Some(1.0), duration_ms: duration, language, ..base },
        EventKind::Completed => Update {
            status: Some(JobStatus::Completed),
            progress: Some(1.0),
            duration_ms: duration,
            language,
            exports: Some(artifacts.exports),
            ..base
        },
        EventKind::Failed => Update { status: Some(JobStatus::Failed), error: Some(event.message.as_str()), ..base },
        EventKind::Cancelled => Update { status: Some(JobStatus::Cancelled), ..base },
        EventKind::Webhook => {
            if let Some(attempt) = &event.webhook {
                store.record_webhook(&event.job_id, attempt).await?;
            }
            return Ok(());
        }
        EventKind::Queued | EventKind::Retrying | EventKind::Text | EventKind::Unspecified => return Ok(()),
    };
    if event.kind() == EventKind::Completed {
        index_before_completion(store, objects, event, &artifacts.transcript).await?;
    }
    let terminal = update.status.filter(|s| s.is_terminal());
    if let (Some(status), Some(job)) = (terminal, store.update(&event.job_id, update).await?) {
        metrics::job_finished(status.name(), &job.submitted_via);
    }
    Ok(())
}

/// Indexes the transcript a `completed` event names while its job still
/// runs, so that a search made once the job reads completed finds it
/// (search only shows completed jobs). A redelivered event of a job that
/// already ended, or one of an attempt a retry replaced, indexes nothing.
async fn index_before_completion(
    store: &Store,
    objects: &Artifacts,
    event: &JobEvent,
    transcript: &str,
) -> Result<(), sqlx::Error> {
    let Some(job) = store.get(&event.job_id, None).await? else { return Ok(()) };
    let replaced = event.attempt != 0 && i64::from(job.attempt) > i64::from(event.attempt);
    // An enrolment makes a voiceprint, not a transcript.
    if job.is_terminal() || replaced || job.submitted_via == crate::submission::Via::Speakers.as_str() {
        return Ok(());
    }
    let transcript = Some(transcript).filter(|t| !t.is_empty()).unwrap_or(steno_runtime::artifacts::TRANSCRIPT);
    search::index_completed(store, objects, &job.id, &job.tenant, transcript).await;
    Ok(())
}
