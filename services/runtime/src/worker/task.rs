//! One delivery: check the job's flags, run the stage with in-progress
//! acks, a cancel watch and panic catching, then hand the job on (publish
//! its successor or its parts, and events) exactly once.

use std::{
    panic::AssertUnwindSafe,
    time::{Duration, Instant},
};

use async_nats::jetstream::{AckKind, Message, kv};
use futures::{FutureExt, StreamExt};
use prost::Message as _;
use steno_proto::v1::{EventKind, JobEvent, Part, StageTask};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Delivery, PROGRESS_EVENT_INTERVAL, Worker};
use crate::{
    JobId,
    bus::Bus,
    parts::{self, Parts},
    settle::Outcome,
    stage::{JobContext, Output, Stage, StageError, next_stage},
    subjects,
};

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

impl<S: Stage> Worker<S> {
    pub(super) async fn handle(&self, message: Message) {
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
        let delivery =
            Delivery { message: &message, job_id, tenant: task.tenant.clone(), attempt: task.attempt, delivered };
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
        let (text_tx, text_rx) = mpsc::unbounded_channel();
        let ctx = JobContext::new(job_id.clone(), self.bus.artifacts.clone(), progress_tx, text_tx, cancelled.clone());
        let progress = forward_progress(self.bus.clone(), delivery.event(EventKind::Progress, S::KIND), progress_rx);
        let progress_events = part.is_none().then(|| tokio::spawn(progress.instrument(tracing::Span::current())));
        let text = forward_text(self.bus.clone(), delivery.event(EventKind::Text, S::KIND), text_rx);
        let text_events = part.is_none().then(|| tokio::spawn(text.instrument(tracing::Span::current())));

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
        // The text so far goes out before the stage's end (the context,
        // and so the sender, is gone: the forwarder ends once it is sent).
        if let Some(events) = text_events
            && tokio::time::timeout(TEXT_DRAIN_LIMIT, events).await.is_err()
        {
            tracing::warn!("text events still unsent after {TEXT_DRAIN_LIMIT:?}; going on without them");
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
/// Longest wait for a stage's last text events before its end is published.
const TEXT_DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Publishes each piece of text the stage reports, in order; best effort
/// (live views only: the transcript artifact is the record).
async fn forward_text(bus: Bus, template: JobEvent, mut text: mpsc::UnboundedReceiver<String>) {
    while let Some(piece) = text.recv().await {
        if let Err(e) = bus.publish_event(JobEvent { text: piece, ..template.clone() }).await {
            tracing::debug!(error = %e, "publish text event");
        }
    }
}

async fn forward_progress(bus: Bus, template: JobEvent, mut progress: watch::Receiver<f32>) {
    while progress.changed().await.is_ok() {
        let update = JobEvent { progress: *progress.borrow_and_update(), ..template.clone() };
        if let Err(e) = bus.publish_event(update).await {
            tracing::debug!(error = %e, "publish progress event");
        }
        tokio::time::sleep(PROGRESS_EVENT_INTERVAL).await;
    }
}
