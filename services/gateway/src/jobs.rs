//! The job API every front door shares (REST, gRPC, NATS): validate a
//! submission, record it, queue its first stage; read, list and cancel jobs;
//! fetch transcripts.

use prost::Message as _;
use serde::Deserialize;
use steno_export::render::CueOptions;
use steno_runtime::{
    JobId,
    artifacts::{self, Artifacts},
    bus::{Bus, event},
    metrics,
    proto::{self, EventKind, Format, JobEvent, JobOptions, Stage, StageTask},
    transcript::is_whisper_language,
};

use crate::{
    error::ApiError,
    store::{JobRow, NewJobRow, STATUSES, Store, Update},
    views::{OptionsView, format_extension, parse_format, ready_formats},
};

/// The JSON a client submits (REST body, `steno.jobs.submit`, `nats req`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitJson {
    pub source_url: Option<String>,
    pub language: Option<String>,
    pub diarize: Option<bool>,
    pub formats: Option<Vec<String>>,
    pub model: Option<String>,
    pub beam_size: Option<u32>,
    pub temperature: Option<f32>,
    pub initial_prompt: Option<String>,
    pub hotwords: Option<Vec<String>>,
    pub translate: Option<bool>,
    pub word_timestamps: Option<bool>,
    pub num_speakers: Option<u32>,
    pub min_speakers: Option<u32>,
    pub max_speakers: Option<u32>,
    pub job_id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// The most speakers a job may ask for.
pub const MAX_SPEAKERS: u32 = 20;

/// Where the media comes from.
pub enum Source {
    Url(String),
    /// Already stored as the job's `source` artifact.
    Upload {
        filename: String,
    },
}

/// A validated submission.
pub struct Submission {
    pub id: JobId,
    pub idempotency_key: Option<String>,
    pub options: JobOptions,
}

/// How a job arrived, for metrics and the ledger.
#[derive(Clone, Copy)]
pub enum Via {
    Rest,
    Grpc,
    Nats,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Rest => "rest",
            Via::Grpc => "grpc",
            Via::Nats => "nats",
        }
    }
}

impl SubmitJson {
    /// Checks everything but the source; errors name the field.
    pub fn validate(&self) -> Result<Submission, ApiError> {
        self.refuse_unstorable_text()?;
        let id = match &self.job_id {
            Some(id) => JobId::parse(id).map_err(|e| ApiError::invalid("job_id", e.to_string()))?,
            None => JobId::generate(),
        };
        if let Some(key) = &self.idempotency_key
            && (key.is_empty() || key.len() > 200)
        {
            return Err(ApiError::invalid("idempotency_key", "must be 1-200 characters"));
        }
        let language = self.language.clone().unwrap_or_default();
        let language = if language == "auto" { String::new() } else { language };
        if !language.is_empty() && !is_whisper_language(&language) {
            return Err(ApiError::invalid(
                "language",
                format!(
                    "{language:?} is not a language whisper knows: give an ISO 639-1 code such as \"en\" (or \"auto\")"
                ),
            ));
        }
        let diarize = self.diarize.unwrap_or(true);
        let (num_speakers, min_speakers, max_speakers) = self.speaker_count(diarize)?;
        let mut formats = Vec::new();
        for name in self.formats.iter().flatten() {
            let format = parse_format(name).ok_or_else(|| {
                ApiError::invalid("formats", format!("unknown format {name:?} (expected srt, vtt, json or txt)"))
            })?;
            if !formats.contains(&(format as i32)) {
                formats.push(format as i32);
            }
        }
        let model = self.model.clone().unwrap_or_default();
        if !model.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) || model.contains("..") {
            return Err(ApiError::invalid("model", format!("{model:?} is not a model name such as \"tiny.en\"")));
        }
        let beam_size = self.beam_size.unwrap_or(0);
        if beam_size > 10 {
            return Err(ApiError::invalid("beam_size", "must be between 0 (greedy) and 10"));
        }
        let temperature = self.temperature.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&temperature) {
            return Err(ApiError::invalid("temperature", "must be between 0 and 1"));
        }
        let initial_prompt = self.initial_prompt.clone().unwrap_or_default();
        if initial_prompt.chars().count() > 1000 {
            return Err(ApiError::invalid("initial_prompt", "must be at most 1000 characters"));
        }
        let hotwords = self.hotwords.clone().unwrap_or_default();
        if hotwords.len() > 100 || hotwords.iter().any(|w| w.trim().is_empty() || w.chars().count() > 100) {
            return Err(ApiError::invalid("hotwords", "at most 100 words, each 1-100 characters"));
        }
        Ok(Submission {
            id,
            idempotency_key: self.idempotency_key.clone(),
            options: JobOptions {
                language,
                diarize: Some(diarize),
                formats,
                model,
                beam_size,
                temperature,
                initial_prompt,
                hotwords,
                translate: self.translate.unwrap_or(false),
                word_timestamps: Some(self.word_timestamps.unwrap_or(true)),
                num_speakers,
                min_speakers,
                max_speakers,
            },
        })
    }

    /// Text the ledger cannot store (a NUL character; Postgres refuses it)
    /// is refused here, naming the field, rather than failing later.
    fn refuse_unstorable_text(&self) -> Result<(), ApiError> {
        let single = [
            ("source_url", &self.source_url),
            ("language", &self.language),
            ("model", &self.model),
            ("initial_prompt", &self.initial_prompt),
            ("job_id", &self.job_id),
            ("idempotency_key", &self.idempotency_key),
        ];
        let lists = [("formats", &self.formats), ("hotwords", &self.hotwords)];
        let texts = single
            .iter()
            .flat_map(|(field, value)| value.iter().map(move |v| (*field, v.as_str())))
            .chain(lists.iter().flat_map(|(field, values)| values.iter().flatten().map(move |v| (*field, v.as_str()))));
        for (field, text) in texts {
            refuse_nul(field, text)?;
        }
        Ok(())
    }

    /// `(num, min, max)` speakers, 0 where not given.
    fn speaker_count(&self, diarize: bool) -> Result<(u32, u32, u32), ApiError> {
        let fields = [
            ("num_speakers", self.num_speakers),
            ("min_speakers", self.min_speakers),
            ("max_speakers", self.max_speakers),
        ];
        for (field, value) in fields {
            match value {
                Some(_) if !diarize => return Err(ApiError::invalid(field, "needs diarization (diarize is false)")),
                Some(n) if !(1..=MAX_SPEAKERS).contains(&n) => {
                    return Err(ApiError::invalid(field, format!("must be between 1 and {MAX_SPEAKERS}")));
                }
                _ => {}
            }
        }
        let (num, min, max) = (self.num_speakers, self.min_speakers, self.max_speakers);
        if num.is_some() && (min.is_some() || max.is_some()) {
            return Err(ApiError::invalid("num_speakers", "give either num_speakers or min/max_speakers, not both"));
        }
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(ApiError::invalid("min_speakers", format!("{min} is more than max_speakers {max}")));
        }
        Ok((num.unwrap_or(0), min.unwrap_or(0), max.unwrap_or(0)))
    }

    /// The source URL, which must be http or https.
    pub fn url(&self) -> Result<String, ApiError> {
        let raw = self.source_url.as_deref().filter(|u| !u.trim().is_empty()).ok_or_else(|| {
            ApiError::invalid("source_url", "is required (or upload a file as multipart field `file`)")
        })?;
        let url = url::Url::parse(raw.trim())
            .map_err(|e| ApiError::invalid("source_url", format!("is not a valid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ApiError::invalid("source_url", format!("must be http or https, not {}:", url.scheme())));
        }
        Ok(url.to_string())
    }
}

/// Refuses text with a NUL character, which the ledger cannot store.
pub fn refuse_nul(field: &'static str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::invalid(field, "must not contain a NUL character (\\u0000)"));
    }
    Ok(())
}

/// One page of jobs.
pub struct Page {
    pub jobs: Vec<JobRow>,
    pub next_cursor: Option<String>,
}

#[derive(Clone)]
pub struct Jobs {
    pub store: Store,
    pub bus: Bus,
    pub artifacts: Artifacts,
    pub default_page_size: u32,
    /// Subtitle layout, for exports rendered again after a speaker rename.
    pub cues: CueOptions,
}

impl Jobs {
    pub fn new(store: Store, bus: Bus, default_page_size: u32, cues: CueOptions) -> Self {
        let artifacts = bus.artifacts.clone();
        Self { store, bus, artifacts, default_page_size, cues }
    }

    /// The job a resubmission with this id or key refers to, if any. A
    /// resubmission repairs a job whose first task was never published.
    pub async fn existing(&self, submission: &Submission) -> Result<Option<JobRow>, ApiError> {
        let row = self.store.find_existing(submission.id.as_str(), submission.idempotency_key.as_deref()).await?;
        if let Some(row) = row.as_ref().filter(|r| !r.dispatched && r.status == "queued") {
            self.dispatch(row).await.map_err(|e| ApiError::Unavailable(format!("cannot queue the job: {e:#}")))?;
        }
        Ok(row)
    }

    /// Publishes a queued job's `queued` event and first task (download, or
    /// transcode for an upload), then records it as dispatched. Safe to
    /// repeat: the task's `Nats-Msg-Id` drops a second copy.
    pub async fn dispatch(&self, row: &JobRow) -> anyhow::Result<()> {
        let options = serde_json::from_value::<OptionsView>(row.options.0.clone())?.to_proto();
        let mut task = StageTask { job_id: row.id.clone(), attempt: 1, options: Some(options), ..Default::default() };
        match &row.source_url {
            Some(url) => {
                task.stage = Stage::Download as i32;
                task.source_url = url.clone();
            }
            None => {
                task.stage = Stage::Transcode as i32;
                task.artifacts = Some(proto::Artifacts { source: artifacts::SOURCE.into(), ..Default::default() });
            }
        }
        let queued = JobEvent { attempt: 1, ..event(&row.id, EventKind::Queued, task.stage()) };
        self.bus.publish_event(queued).await?;
        self.bus.publish_task(&task).await?;
        self.store.mark_dispatched(&row.id).await?;
        Ok(())
    }

    /// Records the job and queues its first stage. Returns the job and
    /// whether it is new (a resubmission returns the original). The span is
    /// the root of the job's trace; every stage's span descends from it.
    #[tracing::instrument(name = "job.submit", skip_all, fields(job_id = %submission.id, via = via.as_str()))]
    pub async fn create(&self, submission: Submission, source: Source, via: Via) -> Result<(JobRow, bool), ApiError> {
        let options = serde_json::to_value(OptionsView::from(&submission.options)).map_err(anyhow::Error::from)?;
        let (source_url, upload_name) = match &source {
            Source::Url(url) => (Some(url.as_str()), None),
            Source::Upload { filename } => (None, Some(filename.as_str())),
        };
        let inserted = self
            .store
            .insert(NewJobRow {
                id: submission.id.as_str(),
                idempotency_key: submission.idempotency_key.as_deref(),
                submitted_via: via.as_str(),
                source_url,
                upload_name,
                options,
                status: "queued",
                error: None,
            })
            .await?;
        let Some(row) = inserted else {
            let existing = self.existing(&submission).await?;
            return existing
                .map(|row| (row, false))
                .ok_or_else(|| ApiError::Conflict("job was removed concurrently".into()));
        };
        metrics::job_created(via.as_str());
        // The row is the outbox: if the task cannot be published now (NATS
        // down, or this gateway stops), the dispatcher publishes it later.
        if let Err(e) = self.dispatch(&row).await {
            tracing::warn!(
                error = format!("{e:#}"),
                job_id = row.id,
                "first task not published yet; the dispatcher will"
            );
        }
        Ok((row, true))
    }

    /// Records a submission refused on arrival (bad JSON on the submit
    /// subject) as a failed job, so the refusal is visible.
    pub async fn record_refused(&self, id: &JobId, key: Option<&str>, reason: &str) -> Result<JobRow, ApiError> {
        let inserted = self
            .store
            .insert(NewJobRow {
                id: id.as_str(),
                idempotency_key: key,
                submitted_via: Via::Nats.as_str(),
                source_url: None,
                upload_name: None,
                options: serde_json::json!({}),
                status: "failed",
                error: Some(reason),
            })
            .await?;
        match inserted {
            Some(row) => {
                metrics::job_finished("failed", Via::Nats.as_str());
                Ok(row)
            }
            None => self.get(id.as_str()).await,
        }
    }

    pub async fn get(&self, id: &str) -> Result<JobRow, ApiError> {
        self.store.get(id).await?.ok_or_else(|| ApiError::NotFound(format!("job {id} does not exist")))
    }

    pub async fn list(&self, status: Option<&str>, limit: Option<u32>, cursor: Option<&str>) -> Result<Page, ApiError> {
        if let Some(status) = status
            && !STATUSES.contains(&status)
        {
            return Err(ApiError::invalid("status", format!("{status:?} is not one of {}", STATUSES.join(", "))));
        }
        let limit = limit.unwrap_or(self.default_page_size);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::invalid("limit", "must be between 1 and 500"));
        }
        let before = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => Some(c.parse::<i64>().map_err(|_| ApiError::BadRequest(format!("cursor {c:?} is not valid")))?),
            None => None,
        };
        let mut jobs = self.store.list(status, before, i64::from(limit) + 1).await?;
        let more = jobs.len() > limit as usize;
        jobs.truncate(limit as usize);
        let next_cursor = if more { jobs.last().map(|j| j.seq.to_string()) } else { None };
        Ok(Page { jobs, next_cursor })
    }

    /// Cancels a job that has not finished: flags it for the workers, marks
    /// it cancelled and publishes `cancelled`.
    pub async fn cancel(&self, id: &str) -> Result<JobRow, ApiError> {
        let job = self.get(id).await?;
        if job.is_terminal() {
            return Err(ApiError::Conflict(format!("job {id} is already {}", job.status)));
        }
        let job_id = JobId::parse(id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        self.bus
            .set_cancelled(&job_id)
            .await
            .map_err(|e| ApiError::Unavailable(format!("cannot reach NATS: {e:#}")))?;
        let update = Update { status: Some("cancelled"), error: Some("cancelled by request"), ..Default::default() };
        let Some(row) = self.store.update(id, update).await? else {
            return Err(ApiError::Conflict(format!("job {id} finished before it could be cancelled")));
        };
        metrics::job_finished("cancelled", &row.submitted_via);
        if let Err(e) = self.bus.publish_event(event(id, EventKind::Cancelled, Stage::Unspecified)).await {
            tracing::warn!(error = format!("{e:#}"), job_id = id, "publish cancelled event");
        }
        Ok(row)
    }

    /// Requeues a failed job from the stage that failed, as a new attempt,
    /// with the task kept in the dead letters (its artifacts are kept). A
    /// part of a split transcription restarts the whole transcription.
    pub async fn retry(&self, id: &str) -> Result<JobRow, ApiError> {
        let job = self.get(id).await?;
        if job.status != "failed" {
            return Err(ApiError::Conflict(format!("job {id} is {}; only a failed job can be retried", job.status)));
        }
        let unavailable = |e: anyhow::Error| ApiError::Unavailable(format!("cannot reach NATS: {e:#}"));
        let nothing_to_retry = || {
            ApiError::Conflict(format!(
                "job {id} has no task to retry (it was refused before any stage ran): submit it again"
            ))
        };
        let stage = job.stage.clone().ok_or_else(nothing_to_retry)?;
        let letter = self.bus.find_dead_letter(&stage, id).await.map_err(unavailable)?;
        let mut task = letter.and_then(|l| StageTask::decode(l.payload).ok()).ok_or_else(nothing_to_retry)?;
        if task.part.take().is_some()
            && let Some(artifacts) = task.artifacts.as_mut()
        {
            artifacts.audio = artifacts::AUDIO.into();
        }
        task.attempt = task.attempt.max(u32::try_from(job.attempt).unwrap_or(1)) + 1;
        let attempt = i32::try_from(task.attempt).unwrap_or(i32::MAX);
        let Some(row) = self.store.requeue(id, attempt, &stage).await? else {
            return Err(ApiError::Conflict(format!("job {id} changed while it was being retried")));
        };
        let queued = JobEvent { attempt: task.attempt, ..event(id, EventKind::Queued, task.stage()) };
        let requeued = async {
            self.bus.publish_event(queued).await?;
            self.bus.publish_task(&task).await?;
            self.bus.remove_dead_letters(&stage, id).await
        };
        requeued.await.map_err(unavailable)?;
        tracing::info!(job_id = id, stage, attempt = task.attempt, "job retried");
        Ok(row)
    }

    /// Deletes a job now: an unfinished one is cancelled first (its workers
    /// stop), then its artifacts, events, flags, dead letters and row go.
    pub async fn delete(&self, id: &str) -> Result<(), ApiError> {
        let job = self.get(id).await?;
        if !job.is_terminal() {
            self.cancel(id).await?;
        }
        self.remove(&job.id).await?;
        tracing::info!(job_id = id, "job deleted");
        Ok(())
    }

    /// Removes everything of a job (no checks; the janitor's path too).
    pub async fn remove(&self, id: &str) -> Result<(), ApiError> {
        let job_id = JobId::parse(id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        self.bus.remove_job(&job_id).await.map_err(|e| ApiError::Unavailable(format!("cannot reach NATS: {e:#}")))?;
        self.store.delete(id).await?;
        Ok(())
    }

    /// A finished job's transcript in `format`.
    pub async fn transcript(&self, id: &str, format: Format) -> Result<Vec<u8>, ApiError> {
        let job = self.get(id).await?;
        match job.status.as_str() {
            "completed" => {}
            "failed" => return Err(ApiError::Conflict(format!("job {id} failed: {}", job.error.unwrap_or_default()))),
            status => return Err(ApiError::Conflict(format!("job {id} is {status}; its transcript is not ready yet"))),
        }
        let name = artifacts::export_artifact(format_extension(format));
        if !job.exports.0.contains(&name) {
            let ready = ready_formats(&job).join(", ");
            return Err(ApiError::NotFound(format!(
                "job {id} has no {} transcript (formats: {ready})",
                format_extension(format)
            )));
        }
        let job_id = JobId::parse(id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        self.artifacts.get_bytes(&job_id, &name).await.map_err(|e| ApiError::Internal(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let cases = [
            (SubmitJson { language: Some("english".into()), ..Default::default() }, "language"),
            (SubmitJson { language: Some("xx".into()), ..Default::default() }, "language"),
            (SubmitJson { num_speakers: Some(0), ..Default::default() }, "num_speakers"),
            (SubmitJson { min_speakers: Some(3), max_speakers: Some(2), ..Default::default() }, "min_speakers"),
            (SubmitJson { num_speakers: Some(2), diarize: Some(false), ..Default::default() }, "num_speakers"),
            (SubmitJson { num_speakers: Some(2), max_speakers: Some(3), ..Default::default() }, "num_speakers"),
            (SubmitJson { formats: Some(vec!["docx".into()]), ..Default::default() }, "formats"),
            (SubmitJson { job_id: Some("a.b".into()), ..Default::default() }, "job_id"),
            (SubmitJson { model: Some("../etc".into()), ..Default::default() }, "model"),
        ];
        for (json, field) in cases {
            match json.validate() {
                Err(ApiError::Invalid { field: f, .. }) => assert_eq!(f, field),
                Err(other) => panic!("{field}: wrong error {other}"),
                Ok(_) => panic!("{field}: accepted"),
            }
        }
    }

    #[test]
    fn urls_must_be_http() {
        let url = |u: &str| SubmitJson { source_url: Some(u.into()), ..Default::default() }.url();
        assert!(url("https://example.org/a.mp3").is_ok());
        assert!(matches!(url("ftp://example.org/a.mp3"), Err(ApiError::Invalid { field: "source_url", .. })));
        assert!(matches!(url("not a url"), Err(ApiError::Invalid { field: "source_url", .. })));
        assert!(SubmitJson::default().url().is_err());
    }

    #[test]
    fn options_round_trip_through_the_ledger_form() {
        let options = JobOptions {
            language: "en".into(),
            formats: vec![Format::Srt as i32],
            beam_size: 5,
            hotwords: vec!["Kubernetes".into()],
            word_timestamps: Some(false),
            diarize: Some(true),
            num_speakers: 3,
            ..Default::default()
        };
        assert_eq!(OptionsView::from(&options).to_proto(), options);
    }
}
