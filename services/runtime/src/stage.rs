//! What a stage implements ([`Stage`]), what it makes of a task
//! ([`Output`]), what it can fail with ([`StageError`]), what it gets to
//! work with ([`JobContext`]), and the route a job takes through the stages.

use std::future::Future;

use steno_proto::v1::{JobOptions, Stage as StageKind, StageTask};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{JobId, artifacts::Artifacts};

/// One pipeline stage. The runtime's worker loop ([`crate::worker`]) owns
/// pulling, acks, retries, events, metrics and shutdown; a stage only turns
/// a task into the task for the next stage.
pub trait Stage: Send + Sync + 'static {
    /// Which stage this is: its subject, stream, consumer and metric label.
    const KIND: StageKind;

    /// Does the stage's work: reads its inputs from and writes its outputs
    /// to `ctx.artifacts`, and returns the task updated with what it made,
    /// or the parts it split the work into.
    fn process(&self, task: StageTask, ctx: &JobContext) -> impl Future<Output = Result<Output, StageError>> + Send;

    /// Puts the results of a split task's parts together, once, after the
    /// last part was processed; `task` is that part's. Only stages that
    /// return [`Output::Split`] need it.
    fn join(&self, task: StageTask, ctx: &JobContext) -> impl Future<Output = Result<StageTask, StageError>> + Send {
        let _ = (task, ctx);
        async { Err(StageError::permanent(format!("the {:?} stage cannot join parts", Self::KIND))) }
    }
}

/// What a stage made of a task.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per task, moved once
pub enum Output {
    /// The task for the next stage on the job's route (for a part, only
    /// that it is done: [`Stage::join`] gets the part's own task).
    Next(StageTask),
    /// Parts of the work, each a task for this same stage (their `part` set)
    /// that any replica may take; the route goes on from [`Stage::join`].
    Split(Vec<StageTask>),
}

impl From<StageTask> for Output {
    fn from(task: StageTask) -> Self {
        Self::Next(task)
    }
}

/// Why a stage could not finish a task.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// May work later (network, NATS, disk): retried with back-off up to
    /// `worker.max_deliver`.
    #[error("{0:#}")]
    Retryable(anyhow::Error),
    /// Will never work (unreadable media, refused URL): fails the job now.
    /// The message is shown to the user.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl StageError {
    pub fn permanent(reason: impl std::fmt::Display) -> Self {
        Self::Permanent(anyhow::anyhow!("{reason}"))
    }
}

/// Transient by default: `?` on I/O or NATS errors retries the task.
impl From<anyhow::Error> for StageError {
    fn from(e: anyhow::Error) -> Self {
        Self::Retryable(e)
    }
}

/// A missing or unreadable artifact may be a NATS hiccup and is retried; a
/// malformed one never gets better.
impl From<crate::artifacts::ArtifactError> for StageError {
    fn from(e: crate::artifacts::ArtifactError) -> Self {
        match e {
            crate::artifacts::ArtifactError::Malformed(..) => Self::Permanent(e.into()),
            e => Self::Retryable(e.into()),
        }
    }
}

/// What a stage gets besides its task.
pub struct JobContext {
    pub job_id: JobId,
    pub artifacts: Artifacts,
    progress: watch::Sender<f32>,
    text: mpsc::UnboundedSender<String>,
    cancelled: CancellationToken,
}

impl JobContext {
    pub(crate) fn new(
        job_id: JobId,
        artifacts: Artifacts,
        progress: watch::Sender<f32>,
        text: mpsc::UnboundedSender<String>,
        cancelled: CancellationToken,
    ) -> Self {
        Self { job_id, artifacts, progress, text, cancelled }
    }

    /// A context outside the worker loop (tests of a stage's `process`,
    /// tools): progress and text go nowhere and the job is never cancelled.
    pub fn standalone(job_id: JobId, artifacts: Artifacts) -> Self {
        Self::new(job_id, artifacts, watch::channel(0.0).0, mpsc::unbounded_channel().0, CancellationToken::new())
    }

    /// Reports text as soon as it is transcribed, in order: the worker
    /// publishes each piece as a `text` event for live views (nothing for a
    /// part of a split job, whose pieces arrive out of order).
    pub fn transcribed(&self, text: String) {
        // No receiver: nobody is watching (standalone, or the task ended).
        let _ = self.text.send(text);
    }

    /// A token that fires when the job is cancelled. The worker drops a
    /// cancelled stage's future; blocking work (whisper.cpp, diarization)
    /// checks it to stop early.
    pub fn cancellation(&self) -> CancellationToken {
        self.cancelled.clone()
    }

    /// Reports progress within the stage (0..1). Cheap and callable from
    /// blocking threads; the worker publishes it as events at most once a
    /// second.
    pub fn progress(&self) -> ProgressReporter {
        ProgressReporter::new(self.progress.clone())
    }
}

#[derive(Clone)]
pub struct ProgressReporter {
    sender: watch::Sender<f32>,
    start: f32,
    share: f32,
}

impl ProgressReporter {
    /// A reporter sending to `progress`, for running a stage's blocking work
    /// outside the worker (benches, tools).
    pub fn new(progress: watch::Sender<f32>) -> Self {
        Self { sender: progress, start: 0.0, share: 1.0 }
    }

    /// A reporter for one part of the work: its 0..1 is `start..start +
    /// share` of the whole.
    pub fn part(&self, start: f32, share: f32) -> Self {
        Self { sender: self.sender.clone(), start: self.start + start * self.share, share: share * self.share }
    }

    pub fn report(&self, fraction: f32) {
        self.sender.send_replace((self.start + fraction.clamp(0.0, 1.0) * self.share).clamp(0.0, 1.0));
    }
}

/// The stage after `current` for a job with `options`; `None` after the last.
pub fn next_stage(current: StageKind, options: Option<&JobOptions>) -> Option<StageKind> {
    // Diarization is on unless the job turned it off.
    let diarize = options.is_none_or(|o| o.diarize != Some(false));
    // An enrolment only needs its audio's voiceprint.
    let enrolment = options.is_some_and(|o| !o.enrol_voice.is_empty());
    match current {
        StageKind::Unspecified => Some(StageKind::Download),
        StageKind::Download => Some(StageKind::Transcode),
        StageKind::Transcode if enrolment => Some(StageKind::Diarize),
        StageKind::Diarize if enrolment => None,
        StageKind::Transcode => Some(StageKind::Transcribe),
        StageKind::Transcribe if diarize => Some(StageKind::Diarize),
        StageKind::Transcribe | StageKind::Diarize => Some(StageKind::Export),
        StageKind::Export => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_skips_diarize_only_when_turned_off() {
        let plain = JobOptions { diarize: Some(false), ..Default::default() };
        let diarized = JobOptions::default();
        assert_eq!(next_stage(StageKind::Transcribe, Some(&plain)), Some(StageKind::Export));
        assert_eq!(next_stage(StageKind::Transcribe, Some(&diarized)), Some(StageKind::Diarize));
        assert_eq!(next_stage(StageKind::Diarize, Some(&diarized)), Some(StageKind::Export));
        assert_eq!(next_stage(StageKind::Export, Some(&diarized)), None);
        let enrolment = JobOptions { enrol_voice: "v_1".into(), ..Default::default() };
        assert_eq!(next_stage(StageKind::Transcode, Some(&enrolment)), Some(StageKind::Diarize));
        assert_eq!(next_stage(StageKind::Diarize, Some(&enrolment)), None);
    }
}
