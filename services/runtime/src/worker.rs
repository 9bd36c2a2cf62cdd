//! The one worker loop every stage runs: pull a task from the stage's
//! durable consumer, process it, publish the next task and events, then ack.
//! How a delivery is settled is [`crate::settle`]'s decision: retryable
//! errors and panics nak with back-off up to `max_deliver`; permanent errors
//! and the last attempt put the task in the dead letters, publish `failed`
//! with the reason and term it. A job cancelled while its task runs stops
//! it: the work is dropped and the stage's `JobContext::is_cancelled` turns
//! true for blocking work to check. A stage may split a task into parts ([`crate::parts`]): the loop queues
//! them, and joins them once when the last is done.
//! On shutdown it stops pulling, lets in-flight tasks finish for
//! `drain_secs`, then naks what is left.

use std::{
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use async_nats::jetstream::{
    AckKind, Message,
    consumer::{AckPolicy, PullConsumer, pull},
    kv,
};
use futures::{FutureExt, StreamExt};
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
    bus::{Bus, DeadLetter, event},
    config::WorkerConfig,
    metrics::StageMetrics,
    parts::{self, Parts},
    settle::{self, Outcome, Settlement},
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

/// Creates the stage's durable pull consumer if missing, and brings its
/// `ack_wait` and `max_deliver` in line with the config if they differ.
async fn ensure_consumer(bus: &Bus, kind: StageKind, config: &WorkerConfig) -> anyhow::Result<PullConsumer> {
    let name = subjects::stage_consumer(kind);
    let stream = bus.js.get_stream(subjects::stage_stream(kind)).await?;
    let wanted = pull::Config {
        durable_name: Some(name.into()),
        filter_subject: subjects::stage_subject(kind),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(config.ack_wait_secs),
        max_deliver: config.max_deliver,
        ..Default::default()
    };
    let mut consumer: PullConsumer = stream
        .get_or_create_consumer(name, wanted.clone())
        .await
        .map_err(|e| anyhow::anyhow!("create consumer {name}: {e}"))?;
    let current = &consumer.cached_info().config;
    if current.ack_wait != wanted.ack_wait || current.max_deliver != wanted.max_deliver {
        tracing::info!(
            consumer = name,
            ack_wait_secs = config.ack_wait_secs,
            max_deliver = config.max_deliver,
            "updating consumer"
        );
        consumer = stream.update_consumer(wanted).await.map_err(|e| anyhow::anyhow!("update consumer {name}: {e}"))?;
    }
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

/// How running the stage's work ended.
enum Worked<T> {
    Finished(T),
    /// The job was cancelled meanwhile: the work was dropped.
    Cancelled,
    /// The drain period ran out first.
    Interrupted,
}

/// One delivery of a task of a known job.
struct Delivery<'a> {
    message: &'a Message,
    job_id: JobId,
    attempt: u32,
    delivered: i64,
}

impl Delivery<'_> {
    fn event(&self, kind: EventKind, stage: StageKind) -> JobEvent {
        JobEvent { attempt: self.attempt, ..event(self.job_id.as_str(), kind, stage) }
    }
}

impl<S: Stage> Worker<S> {
    fn name(&self) -> &'static str {
        subjects::stage_name(S::KIND)
    }

    async fn handle(&self, message: Message) {
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
        let task = match StageTask::decode(message.payload.clone()) {
            Ok(task) => task,
            Err(e) => return self.reject_undecodable(&message, delivered, e).await,
        };
        let Ok(job_id) = JobId::parse(&task.job_id) else {
            return self.reject_undecodable(&message, delivered, "invalid job_id").await;
        };
        if delivered > 1 {
            self.metrics.redelivered();
        }
        let span = tracing::info_span!("stage", stage = self.name(), job_id = %job_id, delivered);
        crate::trace::set_parent_from(&span, message.headers.as_ref());
        let delivery = Delivery { message: &message, job_id, attempt: task.attempt, delivered };
        async {
            let outcome = self.run_task(&delivery, task).await;
            self.settle(&delivery, outcome).await;
        }
        .instrument(span)
        .await;
    }

    /// Processes the task with in-progress acks and progress events, then
    /// publishes its successor (or its parts) and events. Everything before
    /// the ack.
    async fn run_task(&self, delivery: &Delivery<'_>, task: StageTask) -> Outcome {
        let job_id = &delivery.job_id;
        match self.bus.is_cancelled(job_id).await {
            Ok(true) => {
                tracing::info!("job cancelled; skipping task");
                return Outcome::Cancelled;
            }
            Ok(false) => {}
            Err(e) => return Outcome::Retry(format!("{:#}", e.context("read job flags"))),
        }
        let options = task.options.clone();
        let part = task.part;
        // Redelivered after an earlier delivery handed the job on (past the
        // duplicate window, where `Nats-Msg-Id` no longer helps): done.
        if let Some(outcome) = self.handed_on(delivery).await {
            return outcome;
        }
        // A part's own progress would jump between replicas: a split job
        // reports the share of parts done instead.
        if part.is_none()
            && let Err(e) = self.bus.publish_event(delivery.event(EventKind::Started, S::KIND)).await
        {
            return Outcome::Retry(format!("{e:#}"));
        }
        let cancelled = CancellationToken::new();
        let watch = tokio::spawn(watch_cancel(self.bus.clone(), job_id.clone(), cancelled.clone()));
        let (progress_tx, progress_rx) = watch::channel(0.0f32);
        let ctx = JobContext::new(job_id.clone(), self.bus.artifacts.clone(), progress_tx, cancelled.clone());
        let progress = forward_progress(self.bus.clone(), delivery.event(EventKind::Progress, S::KIND), progress_rx);
        let progress_events = part.is_none().then(|| tokio::spawn(progress.instrument(tracing::Span::current())));

        self.metrics.started();
        let clock = Instant::now();
        let work = async {
            match part {
                None => self.stage.process(task, &ctx).await.map(Step::from),
                Some(part) => self.process_part(task, part, &ctx).await,
            }
        };
        let worked = self.with_heartbeat(delivery.message, &cancelled, AssertUnwindSafe(work).catch_unwind()).await;
        self.metrics.finished();
        watch.abort();
        drop(ctx);
        if let Some(events) = progress_events {
            events.abort();
        }
        let result = match worked {
            Worked::Finished(Ok(result)) => result,
            Worked::Finished(Err(panic)) => return Outcome::Panicked(panic_message(panic.as_ref())),
            Worked::Cancelled => {
                tracing::info!("job cancelled while running; stopped");
                return Outcome::Cancelled;
            }
            Worked::Interrupted => return Outcome::Interrupted,
        };
        self.metrics.processed(clock.elapsed().as_secs_f64());

        let mut next = match result {
            Ok(Step::Next(next)) => next,
            Ok(Step::Split(parts)) => return self.publish_parts(delivery, parts).await,
            Ok(Step::PartDone { done, count }) => {
                let mut update = delivery.event(EventKind::Progress, S::KIND);
                update.progress = done as f32 / count.max(1) as f32;
                return self.publish(update).await;
            }
            Ok(Step::Duplicate) => return Outcome::Done,
            Err(StageError::Retryable(e)) => return Outcome::Retry(format!("{e:#}")),
            Err(StageError::Permanent(e)) => return Outcome::Fail(format!("{e:#}")),
        };
        next.part = None;
        // Another delivery may have handed it on while this one ran.
        if let Some(outcome) = self.handed_on(delivery).await {
            return outcome;
        }
        let mut done = match next_stage(S::KIND, options.as_ref()) {
            Some(stage) => {
                next.stage = stage.into();
                if let Err(e) = self.bus.publish_task(&next).await {
                    return Outcome::Retry(format!("{e:#}"));
                }
                delivery.event(EventKind::StageCompleted, S::KIND)
            }
            None => delivery.event(EventKind::Completed, S::KIND),
        };
        done.progress = 1.0;
        done.duration_ms = next.duration_ms;
        done.language = next.language.clone();
        done.artifacts = next.artifacts.clone();
        let outcome = self.publish(done).await;
        if let Outcome::Done = outcome
            && let Err(e) = self.bus.mark_handed_on(job_id, S::KIND, delivery.attempt).await
        {
            tracing::warn!(error = format!("{e:#}"), "record the hand-on (a late redelivery may hand on again)");
        }
        outcome
    }

    /// `Some` when this stage already handed the job on (another delivery
    /// published its successor), so this delivery has nothing left to do.
    async fn handed_on(&self, delivery: &Delivery<'_>) -> Option<Outcome> {
        match self.bus.handed_on(&delivery.job_id, S::KIND, delivery.attempt).await {
            Ok(true) => {
                tracing::info!("another delivery already handed the job on; not publishing again");
                Some(Outcome::Done)
            }
            Ok(false) => None,
            Err(e) => Some(Outcome::Retry(format!("{:#}", e.context("read job flags")))),
        }
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
    async fn publish_parts(&self, delivery: &Delivery<'_>, parts: Vec<StageTask>) -> Outcome {
        let count = parts.len();
        for mut part in parts {
            part.stage = S::KIND.into();
            if let Err(e) = self.bus.publish_task(&part).await {
                return Outcome::Retry(format!("{e:#}"));
            }
        }
        let mut split = delivery.event(EventKind::Progress, S::KIND);
        split.message = format!("split into {count} parts");
        self.publish(split).await
    }

    async fn publish(&self, event: JobEvent) -> Outcome {
        match self.bus.publish_event(event).await {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Retry(format!("{e:#}")),
        }
    }

    /// Runs `work` with in-progress acks until it finishes, the job is
    /// cancelled or the drain period runs out.
    async fn with_heartbeat<T>(
        &self,
        message: &Message,
        cancelled: &CancellationToken,
        work: impl Future<Output = T>,
    ) -> Worked<T> {
        tokio::pin!(work);
        let mut heartbeat = tokio::time::interval(Duration::from_secs(self.config.ack_wait_secs / 3));
        heartbeat.tick().await;
        loop {
            tokio::select! {
                result = &mut work => return Worked::Finished(result),
                _ = heartbeat.tick() => {
                    if let Err(e) = message.ack_with(AckKind::Progress).await {
                        tracing::warn!(error = %e, "in-progress ack failed");
                    }
                }
                () = cancelled.cancelled() => return Worked::Cancelled,
                () = self.hard_stop.cancelled() => return Worked::Interrupted,
            }
        }
    }

    /// Settles a delivery as [`settle::decide`] says, counting the outcome.
    async fn settle(&self, delivery: &Delivery<'_>, outcome: Outcome) {
        let counted = match &outcome {
            Outcome::Done => Some("ok"),
            Outcome::Cancelled => Some("cancelled"),
            Outcome::Panicked(panic) => {
                tracing::error!(panic, "stage panicked");
                Some("panicked")
            }
            Outcome::Retry(_) | Outcome::Fail(_) | Outcome::Interrupted => None,
        };
        let settlement = settle::decide(self.name(), outcome, delivery.delivered, &self.config);
        if let Some(outcome) = counted {
            self.metrics.outcome(outcome);
        }
        match settlement {
            Settlement::Ack => ack(delivery.message, AckKind::Ack).await,
            Settlement::Return => {
                tracing::info!("shutdown: returning task to the queue");
                ack(delivery.message, AckKind::Nak(None)).await;
            }
            Settlement::Retry { delay, reason } => {
                tracing::warn!(error = reason, delay_secs = delay.as_secs(), "stage task failed; will retry");
                if counted.is_none() {
                    self.metrics.outcome("retried");
                }
                let mut retrying = delivery.event(EventKind::Retrying, S::KIND);
                retrying.message = reason;
                if let Err(e) = self.bus.publish_event(retrying).await {
                    tracing::debug!(error = %e, "publish retrying event");
                }
                ack(delivery.message, AckKind::Nak(Some(delay))).await;
            }
            Settlement::Fail { reason } => self.fail(delivery, reason, counted.is_none()).await,
        }
    }

    /// Keeps the task in the dead letters, publishes `failed` with a
    /// user-facing reason, then terms the task. If either cannot be
    /// published the task is naked, so the failure is not lost (on its last
    /// delivery JetStream's advisory brings it to the dead-letter listener).
    async fn fail(&self, delivery: &Delivery<'_>, reason: String, count: bool) {
        tracing::warn!(reason, "stage task failed permanently");
        let mut failed = delivery.event(EventKind::Failed, S::KIND);
        failed.message = reason.clone();
        let kept = async {
            self.dead_letter(delivery.message, delivery.job_id.as_str(), delivery.delivered, &reason).await?;
            self.bus.publish_event(failed).await
        };
        match kept.await {
            Ok(()) => {
                if count {
                    self.metrics.outcome("failed");
                }
                ack(delivery.message, AckKind::Term).await;
            }
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "cannot record the failure; retrying later");
                ack(delivery.message, AckKind::Nak(Some(Duration::from_secs(5)))).await;
            }
        }
    }

    async fn dead_letter(&self, message: &Message, id: &str, delivered: i64, reason: &str) -> anyhow::Result<()> {
        let info = message.info().map_err(|e| anyhow::anyhow!("message info: {e}"))?;
        let letter = DeadLetter {
            source: self.name(),
            id,
            payload: message.payload.clone(),
            attempts: delivered,
            reason,
            stream: info.stream,
            sequence: info.stream_sequence,
            stranded: false,
        };
        self.bus.dead_letter(letter).await
    }

    async fn reject_undecodable(&self, message: &Message, delivered: i64, error: impl std::fmt::Display) {
        let msg_id = message.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.as_str().to_owned());
        tracing::warn!(error = %error, msg_id, "undecodable stage task");
        let reason = format!("{} received a malformed task: {error}", self.name());
        if let Some(job_id) = msg_id.as_deref().and_then(subjects::job_id_from_msg_id) {
            let delivery = Delivery { message, job_id, attempt: 0, delivered };
            return self.fail(&delivery, reason, true).await;
        }
        let sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
        if let Err(e) = self.dead_letter(message, &format!("unreadable-{sequence}"), delivered, &reason).await {
            tracing::warn!(error = format!("{e:#}"), "dead-letter an unreadable task");
        }
        self.metrics.outcome("failed");
        ack(message, AckKind::Term).await;
    }
}

async fn ack(message: &Message, kind: AckKind) {
    let result = match kind {
        AckKind::Ack => message.double_ack().await,
        kind => message.ack_with(kind).await,
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "acknowledging task failed; it will be redelivered");
    }
}

/// Fires `cancelled` when the job's cancel flag is set (also if it already
/// is: the watch starts from the key's current value).
async fn watch_cancel(bus: Bus, job_id: JobId, cancelled: CancellationToken) {
    let mut updates = match bus.flags.watch_with_history(subjects::cancel_key(&job_id)).await {
        Ok(updates) => updates,
        Err(e) => return tracing::debug!(error = %e, "watch the cancel flag"),
    };
    while let Some(Ok(entry)) = updates.next().await {
        if entry.operation == kv::Operation::Put {
            return cancelled.cancel();
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_owned(),
        (_, Some(text)) => text.clone(),
        _ => "panic with no message".to_owned(),
    }
}

/// Publishes `template` with the latest progress, at most once per
/// [`PROGRESS_EVENT_INTERVAL`].
async fn forward_progress(bus: Bus, template: JobEvent, mut progress: watch::Receiver<f32>) {
    while progress.changed().await.is_ok() {
        let update = JobEvent { progress: *progress.borrow_and_update(), ..template.clone() };
        if let Err(e) = bus.publish_event(update).await {
            tracing::debug!(error = %e, "publish progress event");
        }
        tokio::time::sleep(PROGRESS_EVENT_INTERVAL).await;
    }
}
