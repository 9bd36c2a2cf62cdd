//! The one worker loop every stage runs: pull a task from the stage's
//! durable consumer, process it, publish the next task and events, then ack.
//! Retryable errors nak with back-off up to `max_deliver`; permanent errors
//! and the last attempt term the task and publish `failed` with the reason.
//! A stage may split a task into parts ([`crate::parts`]): the loop queues
//! them, and joins them once when the last is done.
//! On shutdown it stops pulling, lets in-flight tasks finish for
//! `drain_secs`, then naks what is left.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_nats::jetstream::{
    AckKind, Message,
    consumer::{AckPolicy, PullConsumer, pull},
};
use futures::StreamExt;
use prost::Message as _;
use steno_proto::v1::{EventKind, JobEvent, Part, Stage as StageKind, StageTask};
use tokio::{
    sync::{Semaphore, watch},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    JobId,
    bus::{Bus, event},
    config::WorkerConfig,
    metrics::StageMetrics,
    parts::{self, Parts},
    stage::{JobContext, Output, Stage, StageError, next_stage},
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

/// Creates the stage's durable pull consumer if missing.
async fn ensure_consumer(bus: &Bus, kind: StageKind, config: &WorkerConfig) -> anyhow::Result<PullConsumer> {
    let stream = bus.js.get_stream(subjects::stage_stream(kind)).await?;
    let consumer = stream
        .get_or_create_consumer(
            subjects::stage_consumer(kind),
            pull::Config {
                durable_name: Some(subjects::stage_consumer(kind).into()),
                filter_subject: subjects::stage_subject(kind),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(config.ack_wait_secs),
                max_deliver: config.max_deliver,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("create consumer {}: {e}", subjects::stage_consumer(kind)))?;
    Ok(consumer)
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

/// What processing a delivery made.
#[allow(clippy::large_enum_variant)] // one per task, moved once
enum Step {
    Next(StageTask),
    Split(Vec<StageTask>),
    /// A part processed; `done` of `count` are.
    PartDone {
        done: u32,
        count: u32,
    },
    /// A part an earlier delivery processed.
    Duplicate,
}

impl From<Output> for Step {
    fn from(output: Output) -> Self {
        match output {
            Output::Next(task) => Self::Next(task),
            Output::Split(parts) => Self::Split(parts),
        }
    }
}

/// What became of one delivery.
enum Outcome {
    Done,
    Retry(anyhow::Error),
    Fail(String),
    Interrupted,
}

impl<S: Stage> Worker<S> {
    async fn handle(&self, message: Message) {
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
        let task = match StageTask::decode(message.payload.clone()) {
            Ok(task) => task,
            Err(e) => return self.reject_undecodable(&message, e).await,
        };
        let Ok(job_id) = JobId::parse(&task.job_id) else {
            return self.reject_undecodable(&message, "invalid job_id").await;
        };
        if delivered > 1 {
            self.metrics.redelivered();
        }
        let span = tracing::info_span!("stage", stage = subjects::stage_name(S::KIND), job_id = %job_id, delivered);
        crate::trace::set_parent_from(&span, message.headers.as_ref());
        self.handle_task(&message, task, &job_id, delivered).instrument(span).await;
    }

    async fn handle_task(&self, message: &Message, task: StageTask, job_id: &JobId, delivered: i64) {
        match self.bus.is_cancelled(job_id).await {
            Ok(true) => {
                tracing::info!("job cancelled; skipping task");
                self.metrics.outcome("cancelled");
                return settle(message, AckKind::Ack).await;
            }
            Ok(false) => {}
            Err(e) => return self.retry_later(message, delivered, job_id, &e.context("read job flags")).await,
        }

        match self.run_task(message, task, job_id).await {
            Outcome::Done => {
                self.metrics.outcome("ok");
                settle(message, AckKind::Ack).await;
            }
            Outcome::Retry(e) if delivered < self.config.max_deliver => {
                self.retry_later(message, delivered, job_id, &e).await;
            }
            Outcome::Retry(e) => {
                let reason = format!("{} failed after {delivered} attempts: {e:#}", subjects::stage_name(S::KIND));
                self.fail(message, job_id, reason).await;
            }
            Outcome::Fail(reason) => self.fail(message, job_id, reason).await,
            Outcome::Interrupted => {
                tracing::info!("shutdown: returning task to the queue");
                settle(message, AckKind::Nak(None)).await;
            }
        }
    }

    /// Processes the task with in-progress acks and progress events, then
    /// publishes its successor (or its parts) and events. Everything before
    /// the ack.
    async fn run_task(&self, message: &Message, task: StageTask, job_id: &JobId) -> Outcome {
        let options = task.options.clone();
        let part = task.part;
        // A part's own progress would jump between replicas: a split job
        // reports the share of parts done instead.
        if part.is_none() {
            let started = event(job_id.as_str(), EventKind::Started, S::KIND);
            if let Err(e) = self.bus.publish_event(started).await {
                return Outcome::Retry(e);
            }
        }
        let (progress_tx, progress_rx) = watch::channel(0.0f32);
        let ctx = JobContext::new(job_id.clone(), self.bus.artifacts.clone(), progress_tx);
        let progress = forward_progress(self.bus.clone(), job_id.clone(), S::KIND, progress_rx);
        let progress_events = part.is_none().then(|| tokio::spawn(progress.instrument(tracing::Span::current())));

        self.metrics.started();
        let clock = Instant::now();
        let result = match part {
            None => self.with_heartbeat(message, async { self.stage.process(task, &ctx).await.map(Step::from) }).await,
            Some(part) => self.with_heartbeat(message, self.process_part(task, part, &ctx)).await,
        };
        self.metrics.finished();
        drop(ctx);
        if let Some(events) = progress_events {
            events.abort();
        }
        let Some(result) = result else { return Outcome::Interrupted };
        self.metrics.processed(clock.elapsed().as_secs_f64());

        let mut next = match result {
            Ok(Step::Next(next)) => next,
            Ok(Step::Split(parts)) => return self.publish_parts(job_id, parts).await,
            Ok(Step::PartDone { done, count }) => {
                let mut update = event(job_id.as_str(), EventKind::Progress, S::KIND);
                update.progress = done as f32 / count.max(1) as f32;
                return self.publish(update).await;
            }
            Ok(Step::Duplicate) => return Outcome::Done,
            Err(StageError::Retryable(e)) => return Outcome::Retry(e),
            Err(StageError::Permanent(e)) => return Outcome::Fail(format!("{e:#}")),
        };
        next.part = None;
        let mut done = match next_stage(S::KIND, options.as_ref()) {
            Some(stage) => {
                next.stage = stage.into();
                if let Err(e) = self.bus.publish_task(&next).await {
                    return Outcome::Retry(e);
                }
                event(job_id.as_str(), EventKind::StageCompleted, S::KIND)
            }
            None => event(job_id.as_str(), EventKind::Completed, S::KIND),
        };
        done.progress = 1.0;
        done.duration_ms = next.duration_ms;
        done.language = next.language.clone();
        done.artifacts = next.artifacts.clone();
        self.publish(done).await
    }

    /// One part of a split task: processed unless an earlier delivery did
    /// it; the delivery that completes the set joins the parts.
    async fn process_part(&self, task: StageTask, part: Part, ctx: &JobContext) -> Result<Step, StageError> {
        let parts = Parts::new(self.bus.flags.clone(), &ctx.job_id, S::KIND, task.attempt, part);
        match parts.status().await? {
            parts::Status::Done => return Ok(Step::Duplicate),
            parts::Status::Join => tracing::info!(part = part.index, "joining again: an earlier join did not finish"),
            parts::Status::ToDo => {
                if let Output::Split(_) = self.stage.process(task.clone(), ctx).await? {
                    return Err(StageError::permanent("a part of a split task cannot split again"));
                }
                if let parts::Marked::Waiting { done, count } = parts.mark_done().await? {
                    return Ok(Step::PartDone { done, count });
                }
            }
        }
        tracing::info!(parts = part.count, "last part done; joining");
        Ok(Step::Next(self.stage.join(task, ctx).await?))
    }

    /// Queues the parts of a split task, then tells the job how many.
    async fn publish_parts(&self, job_id: &JobId, parts: Vec<StageTask>) -> Outcome {
        let count = parts.len();
        for mut part in parts {
            part.stage = S::KIND.into();
            if let Err(e) = self.bus.publish_task(&part).await {
                return Outcome::Retry(e);
            }
        }
        let mut split = event(job_id.as_str(), EventKind::Progress, S::KIND);
        split.message = format!("split into {count} parts");
        self.publish(split).await
    }

    async fn publish(&self, event: JobEvent) -> Outcome {
        match self.bus.publish_event(event).await {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Retry(e),
        }
    }

    /// Runs `work` with in-progress acks; `None` when the drain period ran
    /// out first.
    async fn with_heartbeat<T>(&self, message: &Message, work: impl Future<Output = T>) -> Option<T> {
        tokio::pin!(work);
        let mut heartbeat = tokio::time::interval(Duration::from_secs(self.config.ack_wait_secs / 3));
        heartbeat.tick().await;
        loop {
            tokio::select! {
                result = &mut work => return Some(result),
                _ = heartbeat.tick() => {
                    if let Err(e) = message.ack_with(AckKind::Progress).await {
                        tracing::warn!(error = %e, "in-progress ack failed");
                    }
                }
                () = self.hard_stop.cancelled() => return None,
            }
        }
    }

    async fn retry_later(&self, message: &Message, delivered: i64, job_id: &JobId, error: &anyhow::Error) {
        let backoff = &self.config.backoff_secs;
        let index = usize::try_from(delivered - 1).unwrap_or(0).min(backoff.len().saturating_sub(1));
        let delay = Duration::from_secs(backoff.get(index).copied().unwrap_or(5));
        tracing::warn!(error = format!("{error:#}"), delay_secs = delay.as_secs(), "stage task failed; will retry");
        self.metrics.outcome("retried");
        let mut retrying = event(job_id.as_str(), EventKind::Retrying, S::KIND);
        retrying.message = format!("{error:#}");
        if let Err(e) = self.bus.publish_event(retrying).await {
            tracing::debug!(error = %e, "publish retrying event");
        }
        settle(message, AckKind::Nak(Some(delay))).await;
    }

    /// Publishes `failed` with a user-facing reason, then terms the task. If
    /// the event cannot be published, the task is naked so the failure is
    /// not lost.
    async fn fail(&self, message: &Message, job_id: &JobId, reason: String) {
        tracing::warn!(reason, "stage task failed permanently");
        let mut failed = event(job_id.as_str(), EventKind::Failed, S::KIND);
        failed.message = reason;
        match self.bus.publish_event(failed).await {
            Ok(()) => {
                self.metrics.outcome("failed");
                settle(message, AckKind::Term).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot publish failed event; retrying later");
                settle(message, AckKind::Nak(Some(Duration::from_secs(5)))).await;
            }
        }
    }

    async fn reject_undecodable(&self, message: &Message, error: impl std::fmt::Display) {
        let msg_id = message.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.as_str().to_owned());
        tracing::warn!(error = %error, msg_id, "undecodable stage task");
        if let Some(job_id) = msg_id.as_deref().and_then(subjects::job_id_from_msg_id) {
            let reason = format!("{} received a malformed task: {error}", subjects::stage_name(S::KIND));
            return self.fail(message, &job_id, reason).await;
        }
        self.metrics.outcome("failed");
        settle(message, AckKind::Term).await;
    }
}

async fn settle(message: &Message, kind: AckKind) {
    let result = match kind {
        AckKind::Ack => message.double_ack().await,
        kind => message.ack_with(kind).await,
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "acknowledging task failed; it will be redelivered");
    }
}

async fn forward_progress(bus: Bus, job_id: JobId, stage: StageKind, mut progress: watch::Receiver<f32>) {
    while progress.changed().await.is_ok() {
        let fraction = *progress.borrow_and_update();
        let mut update: JobEvent = event(job_id.as_str(), EventKind::Progress, stage);
        update.progress = fraction;
        if let Err(e) = bus.publish_event(update).await {
            tracing::debug!(error = %e, "publish progress event");
        }
        tokio::time::sleep(PROGRESS_EVENT_INTERVAL).await;
    }
}
