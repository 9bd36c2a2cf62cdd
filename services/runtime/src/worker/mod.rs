//! The one worker loop every stage runs: pull a task from the stage's
//! durable consumer, process it, publish the next task and events, then ack.
//! How a delivery is settled is [`crate::settle`]'s decision: retryable
//! errors and panics nak with back-off up to `max_deliver`; permanent errors
//! and the last attempt put the task in the dead letters, publish `failed`
//! with the reason and term it. A job cancelled while its task runs stops
//! it: the work is dropped, and `JobContext::cancellation` fires for
//! blocking work to check. A stage may split a task into parts
//! ([`crate::parts`]): the loop queues them, and joins them once when the
//! last is done.
//! On shutdown it stops pulling, lets in-flight tasks finish for
//! `drain_secs`, then naks what is left.
//!
//! This file holds the loop; [`task`] what one delivery does, [`settling`]
//! how it is acked, retried or failed.

mod settling;
mod task;

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{
    Message,
    consumer::{AckPolicy, PullConsumer, pull},
};
use futures::StreamExt;
use steno_proto::v1::{EventKind, JobEvent, Stage as StageKind};
use tokio::{sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    JobId,
    bus::{Bus, event},
    config::WorkerConfig,
    metrics::StageMetrics,
    stage::Stage,
    subjects,
};

/// How long one pull request waits for a task before asking again.
const PULL_EXPIRY: Duration = Duration::from_secs(5);
/// Progress events are published at most this often.
const PROGRESS_EVENT_INTERVAL: Duration = Duration::from_secs(1);

/// Runs `stage` until `shutdown` fires, then drains.
pub async fn run<S: Stage>(
    stage: S,
    bus: Bus,
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let name = subjects::stage_name(S::KIND);
    let consumer = ensure_consumer(&bus, S::KIND, &config).await?;
    let every = Duration::from_secs(config.queue_depth_interval_secs.max(1));
    tokio::spawn(crate::queue::sample(bus.js.clone(), vec![S::KIND], every, shutdown.clone()));

    let worker = Arc::new(Worker {
        stage,
        bus,
        metrics: StageMetrics::new(name),
        config: config.clone(),
        hard_stop: CancellationToken::new(),
    });
    let permits = Arc::new(Semaphore::new(config.concurrency));
    let mut in_flight = JoinSet::new();
    tracing::info!(stage = name, concurrency = config.concurrency, "worker started");

    while !shutdown.is_cancelled() {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit?,
            () = shutdown.cancelled() => break,
        };
        let message = tokio::select! {
            message = pull_one(&consumer) => message,
            () = shutdown.cancelled() => break,
        };
        while in_flight.try_join_next().is_some() {}
        let Some(message) = message else { continue };
        let worker = worker.clone();
        in_flight.spawn(async move {
            worker.handle(message).await;
            drop(permit);
        });
    }

    while in_flight.try_join_next().is_some() {}
    tracing::info!(stage = name, in_flight = in_flight.len(), "shutting down: draining");
    let drained = tokio::time::timeout(Duration::from_secs(config.drain_secs), async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        worker.hard_stop.cancel();
        while in_flight.join_next().await.is_some() {}
    }
    tracing::info!(stage = name, "worker stopped");
    Ok(())
}

/// The stage's durable pull consumer, shared by every replica.
async fn ensure_consumer(bus: &Bus, kind: StageKind, config: &WorkerConfig) -> anyhow::Result<PullConsumer> {
    let consumer = pull::Config {
        durable_name: Some(subjects::stage_consumer(kind).into()),
        filter_subject: subjects::stage_subject(kind),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(config.ack_wait_secs),
        max_deliver: config.max_deliver,
        ..Default::default()
    };
    bus.ensure_consumer(&subjects::stage_stream(kind), consumer).await
}

/// Asks for one task; `None` when none came within [`PULL_EXPIRY`] or the
/// pull failed (logged; the loop asks again).
async fn pull_one(consumer: &PullConsumer) -> Option<Message> {
    let batch = consumer.batch().max_messages(1).expires(PULL_EXPIRY).messages().await;
    let mut batch = match batch {
        Ok(batch) => batch,
        Err(e) => {
            tracing::warn!(error = %e, "pull request failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            return None;
        }
    };
    match batch.next().await {
        Some(Ok(message)) => Some(message),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "pull failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            None
        }
        None => None,
    }
}

struct Worker<S> {
    stage: S,
    bus: Bus,
    metrics: StageMetrics,
    config: WorkerConfig,
    /// Fired when the drain period is over: in-flight tasks nak and return.
    hard_stop: CancellationToken,
}

/// One delivery of a task of a known job.
struct Delivery<'a> {
    message: &'a Message,
    job_id: JobId,
    /// The job's tenant, copied onto every event (empty when the task is unreadable).
    tenant: String,
    attempt: u32,
    delivered: i64,
}

impl<S: Stage> Worker<S> {
    fn name(&self) -> &'static str {
        subjects::stage_name(S::KIND)
    }
}

impl Delivery<'_> {
    fn event(&self, kind: EventKind, stage: StageKind) -> JobEvent {
        JobEvent { attempt: self.attempt, tenant: self.tenant.clone(), ..event(self.job_id.as_str(), kind, stage) }
    }
}
