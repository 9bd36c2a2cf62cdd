//! A job's events for a client: every event so far (or after a resume
//! point), replayed from `STENO_EVENTS`, then live ones, ending after the
//! terminal event: gRPC `Watch` and REST `GET /v1/jobs/{id}/events` (SSE);
//! and every job of a tenant's progress from now on (`GET /v1/events`, the
//! web app's job list).

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::{Stream, StreamExt};
use prost::Message as _;
use steno_runtime::{
    JobId,
    proto::{EventKind, JobEvent},
    subjects,
};

use crate::{auth::Caller, error::ApiError, jobs::Jobs};

/// One event read from `STENO_EVENTS`: its sequence number and the event.
type Sequenced = Result<(u64, JobEvent), ApiError>;

fn unavailable(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::unavailable("cannot read job events", &anyhow::anyhow!("{e}"))
}

impl Jobs {
    /// The caller's job's events with their `STENO_EVENTS` sequence
    /// numbers (an SSE client's `Last-Event-ID`), from after `after` when
    /// given. Each open stream holds one of the tenant's event-stream slots
    /// until it ends or the client goes.
    pub async fn events(
        &self,
        caller: &Caller,
        id: &JobId,
        after: Option<u64>,
    ) -> Result<impl Stream<Item = Sequenced> + Send + use<>, ApiError> {
        let job = self.get(caller, id).await?;
        let permit = self.limits.open_watch(&caller.tenant)?;
        let messages = self.read_events(subjects::job_events_filter(id), after, DeliverPolicy::All).await?;
        // A finished job whose events have aged out still ends the stream.
        let idle_limit = job.is_terminal().then_some(std::time::Duration::from_secs(2));
        let jobs = self.clone();
        let events = futures::stream::unfold((messages, false, permit), move |(mut messages, ended, permit)| {
            let jobs = jobs.clone();
            async move {
                if ended {
                    return None;
                }
                let event = match idle_limit {
                    Some(limit) => tokio::time::timeout(limit, messages.next()).await.ok()?,
                    None => messages.next().await,
                }?;
                let ended = event.as_ref().map_or(true, |(_, e)| is_terminal(e.kind()));
                if let Ok((_, event)) = &event
                    && is_terminal(event.kind())
                {
                    ledger_caught_up(&jobs, &event.job_id).await;
                }
                Some((event, (messages, ended, permit)))
            }
        });
        Ok(events)
    }

    /// The progress of every job of the caller's tenant (every tenant's for
    /// an admin) from now, or from after `after`, without end: each job's
    /// lifecycle events, not its transcribed text or webhook attempts.
    pub async fn tenant_events(
        &self,
        caller: &Caller,
        after: Option<u64>,
    ) -> Result<impl Stream<Item = Sequenced> + Send + use<>, ApiError> {
        let permit = self.limits.open_watch(&caller.tenant)?;
        let messages = self.read_events(subjects::EVENTS_WILDCARD.into(), after, DeliverPolicy::New).await?;
        let scope = caller.scope().map(str::to_owned);
        let jobs = self.clone();
        let wanted = messages.filter(move |event| {
            let _held = &permit;
            let wanted = event.as_ref().map_or(true, |(_, e)| {
                scope.as_deref().is_none_or(|tenant| e.tenant == tenant)
                    && !matches!(e.kind(), EventKind::Text | EventKind::Webhook)
            });
            std::future::ready(wanted)
        });
        // As a job's own stream: a client that saw a job end reads it ended.
        Ok(wanted.then(move |event| {
            let jobs = jobs.clone();
            async move {
                if let Ok((_, e)) = &event
                    && is_terminal(e.kind())
                {
                    ledger_caught_up(&jobs, &e.job_id).await;
                }
                event
            }
        }))
    }

    /// `STENO_EVENTS` on `filter`, from after `after` or else by `policy`,
    /// decoded, through an ordered consumer.
    async fn read_events(
        &self,
        filter: String,
        after: Option<u64>,
        policy: DeliverPolicy,
    ) -> Result<impl Stream<Item = Sequenced> + Send + use<>, ApiError> {
        let stream = self.bus.js.get_stream(subjects::EVENTS_STREAM).await.map_err(|e| unavailable(&e))?;
        let deliver_policy =
            after.map_or(policy, |sequence| DeliverPolicy::ByStartSequence { start_sequence: sequence + 1 });
        let config = OrderedConfig { filter_subject: filter, deliver_policy, ..Default::default() };
        let consumer = stream.create_consumer(config).await.map_err(|e| unavailable(&e))?;
        let messages = consumer.messages().await.map_err(|e| unavailable(&e))?;
        Ok(messages.map(|message| {
            let message = message.map_err(|e| unavailable(&e))?;
            let sequence = message.info().map_err(|e| unavailable(&e))?.stream_sequence;
            let event = JobEvent::decode(message.payload.clone())
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("bad event: {e}")))?;
            Ok((sequence, event))
        }))
    }
}

/// Waits (briefly) until the ledger shows the job finished, so a client
/// that saw the terminal event gets the same answer from `Get` and
/// `GetTranscript` (read-your-writes).
async fn ledger_caught_up(jobs: &Jobs, id: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if jobs.store.get(id, None).await.ok().flatten().is_some_and(|row| row.is_terminal()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tracing::warn!(job_id = id, "the ledger has not caught up with the job's terminal event");
}

fn is_terminal(kind: EventKind) -> bool {
    matches!(kind, EventKind::Completed | EventKind::Failed | EventKind::Cancelled)
}
