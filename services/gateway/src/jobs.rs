//! The job API every front door shares (REST, gRPC, NATS): one method per
//! operation, each taking the [`Caller`] it acts for, so tenant scoping,
//! limits and validation are written once. Every read is scoped in the
//! store query: another tenant's job is not found, as an unknown one.

use prost::Message as _;
use steno_export::render::CueOptions;
use steno_runtime::{
    JobId,
    artifacts::{self, Artifacts},
    bus::{Bus, event},
    config::{AUTH_KEYS, Config},
    metrics,
    proto::{self, EventKind, Format, JobEvent, Stage, StageTask},
};

use crate::{
    auth::{Auth, Caller},
    error::ApiError,
    limits::Limits,
    store::{JobRow, JobStatus, NewJobRow, Store, Update},
    submission::{Source, Submission, SubmitJson, Via},
    views::{self, OptionsView, format_extension, ready_formats},
};

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
    pub auth: Auth,
    pub limits: Limits,
    /// Queued and running jobs a tenant may have; 0: no limit.
    pub max_in_flight: u32,
    /// How long an OpenAI-compatible request waits for its job.
    pub openai_wait: std::time::Duration,
    /// Replicas of buckets the gateway creates (`nats.replicas`).
    pub replicas: usize,
    /// The webhook secrets bucket, opened (or created) on first use.
    pub webhook_secrets: std::sync::Arc<tokio::sync::OnceCell<async_nats::jetstream::kv::Store>>,
    /// The known voices bucket, opened (or made) on first use.
    pub voices: std::sync::Arc<tokio::sync::OnceCell<async_nats::jetstream::kv::Store>>,
}

impl Jobs {
    pub fn new(store: Store, bus: Bus, config: &Config) -> Self {
        let gateway = &config.gateway;
        Self {
            artifacts: bus.artifacts.clone(),
            auth: Auth::new(store.clone(), gateway.auth == AUTH_KEYS),
            limits: Limits::new(gateway.submissions_per_minute, gateway.max_event_streams),
            max_in_flight: gateway.max_jobs_in_flight,
            openai_wait: std::time::Duration::from_secs(gateway.openai_wait_secs),
            replicas: config.nats.replicas,
            webhook_secrets: Default::default(),
            voices: Default::default(),
            default_page_size: gateway.default_page_size,
            cues: (&config.export).into(),
            store,
            bus,
        }
    }

    /// The caller a credential names (see [`Auth::caller`]).
    pub async fn authenticate(&self, credential: Option<&str>) -> Result<Caller, ApiError> {
        self.auth.caller(credential).await
    }

    /// `POST /v1/jobs` with JSON, gRPC `Submit` with a URL, and the NATS
    /// front doors: a job of the URL in `spec`. Returns the job and whether
    /// it is new (a resubmission, by job id or idempotency key, returns the
    /// original and is not counted against the limits).
    pub async fn submit_url(&self, caller: &Caller, spec: &SubmitJson, via: Via) -> Result<(JobRow, bool), ApiError> {
        let submission = spec.validate()?;
        let url = spec.url()?;
        if let Some(existing) = self.existing(caller, &submission).await? {
            return Ok((existing, false));
        }
        self.admit(caller).await?;
        self.create(caller, submission, Source::Url(url), via).await
    }

    /// A multipart upload or gRPC `Submit` with bytes: the media is stored
    /// as the job's source, then the job recorded. Refused (limits,
    /// validation) before anything is stored.
    pub async fn submit_upload(
        &self,
        caller: &Caller,
        spec: &SubmitJson,
        filename: &str,
        media: &mut (impl tokio::io::AsyncRead + Unpin + Send),
        via: Via,
    ) -> Result<(JobRow, bool), ApiError> {
        self.submit_validated_upload(caller, spec.validate()?, filename, media, via).await
    }

    /// [`Jobs::submit_upload`] of a submission already validated (and
    /// perhaps given options no client may set).
    pub async fn submit_validated_upload(
        &self,
        caller: &Caller,
        submission: Submission,
        filename: &str,
        media: &mut (impl tokio::io::AsyncRead + Unpin + Send),
        via: Via,
    ) -> Result<(JobRow, bool), ApiError> {
        crate::submission::refuse_nul("filename", filename)?;
        if let Some(existing) = self.existing(caller, &submission).await? {
            return Ok((existing, false));
        }
        // Artifacts are named by job id: never write under another tenant's job.
        if self.store.exists(submission.id.as_str()).await? {
            return Err(taken(&submission.id));
        }
        self.admit(caller).await?;
        let size = self
            .artifacts
            .put_reader(&submission.id, artifacts::SOURCE, media)
            .await
            .map_err(|e| ApiError::unavailable("cannot store the upload", &e))?;
        if size == 0 {
            if let Err(e) = self.artifacts.delete(&submission.id, artifacts::SOURCE).await {
                tracing::debug!(error = %e, "remove empty upload");
            }
            return Err(ApiError::invalid("file", "the uploaded file is empty"));
        }
        let filename = if filename.is_empty() { "upload" } else { filename };
        self.create(caller, submission, Source::Upload { filename: filename.to_owned() }, via).await
    }

    /// Refuses a new job over the tenant's limits (429 with when to retry).
    async fn admit(&self, caller: &Caller) -> Result<(), ApiError> {
        if self.max_in_flight != 0 && self.store.in_flight(&caller.tenant).await? >= i64::from(self.max_in_flight) {
            return Err(ApiError::TooManyRequests {
                message: format!("this tenant already has {} jobs queued or running", self.max_in_flight),
                retry_after_secs: 30,
            });
        }
        self.limits.take_submission(&caller.tenant)
    }

    /// The caller's job a resubmission with this id or key refers to, if
    /// any. A resubmission repairs a job whose first task was never published.
    async fn existing(&self, caller: &Caller, submission: &Submission) -> Result<Option<JobRow>, ApiError> {
        let (id, key) = (submission.id.as_str(), submission.idempotency_key.as_deref());
        let row = self.store.find_existing(&caller.tenant, id, key).await?;
        if let Some(row) = row.as_ref().filter(|r| !r.dispatched && r.status == JobStatus::Queued) {
            self.dispatch(row).await.map_err(|e| ApiError::unavailable("cannot queue the job", &e))?;
        }
        Ok(row)
    }

    /// Publishes a queued job's `queued` event and first task (download, or
    /// transcode for an upload), then records it as dispatched. Safe to
    /// repeat: the task's `Nats-Msg-Id` drops a second copy.
    pub async fn dispatch(&self, row: &JobRow) -> anyhow::Result<()> {
        let options = serde_json::from_value::<OptionsView>(row.options.0.clone())?.to_proto();
        if !options.webhook_url.is_empty() {
            self.register_webhook(&row.id, &row.tenant, &options.webhook_url).await?;
        }
        let mut task = StageTask {
            job_id: row.id.clone(),
            tenant: row.tenant.clone(),
            attempt: 1,
            options: Some(options),
            source_name: views::source_name(row),
            submitted_at_ms: row.created_at.timestamp_millis(),
            ..Default::default()
        };
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
        let queued =
            JobEvent { attempt: 1, tenant: row.tenant.clone(), ..event(&row.id, EventKind::Queued, task.stage()) };
        self.bus.publish_event(queued).await?;
        self.bus.publish_task(&task).await?;
        self.store.mark_dispatched(&row.id).await?;
        Ok(())
    }

    /// Records the job and queues its first stage. Returns the job and
    /// whether it is new (a resubmission returns the original). The span is
    /// the root of the job's trace; every stage's span descends from it.
    #[tracing::instrument(name = "job.submit", skip_all, fields(job_id = %submission.id, via = via.as_str()))]
    async fn create(
        &self,
        caller: &Caller,
        submission: Submission,
        source: Source,
        via: Via,
    ) -> Result<(JobRow, bool), ApiError> {
        let options = serde_json::to_value(OptionsView::from(&submission.options)).map_err(anyhow::Error::from)?;
        let (source_url, upload_name) = match &source {
            Source::Url(url) => (Some(url.as_str()), None),
            Source::Upload { filename } => (None, Some(filename.as_str())),
        };
        let inserted = self
            .store
            .insert(NewJobRow {
                id: submission.id.as_str(),
                tenant: &caller.tenant,
                idempotency_key: submission.idempotency_key.as_deref(),
                submitted_via: via.as_str(),
                source_url,
                upload_name,
                options,
                status: JobStatus::Queued,
                error: None,
            })
            .await?;
        let Some(row) = inserted else {
            // Another tenant's job may hold the id: say only that it is taken.
            let existing = self.existing(caller, &submission).await?;
            return existing.map(|row| (row, false)).ok_or_else(|| taken(&submission.id));
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
    /// subject) as a failed job of the caller, so the refusal is visible.
    pub async fn record_refused(
        &self,
        caller: &Caller,
        id: &JobId,
        key: Option<&str>,
        reason: &str,
    ) -> Result<JobRow, ApiError> {
        let inserted = self
            .store
            .insert(NewJobRow {
                id: id.as_str(),
                tenant: &caller.tenant,
                idempotency_key: key,
                submitted_via: Via::Nats.as_str(),
                source_url: None,
                upload_name: None,
                options: serde_json::json!({}),
                status: JobStatus::Failed,
                error: Some(reason),
            })
            .await?;
        match inserted {
            Some(row) => {
                metrics::job_finished("failed", Via::Nats.as_str());
                Ok(row)
            }
            None => self.store.find_existing(&caller.tenant, id.as_str(), key).await?.ok_or_else(|| taken(id)),
        }
    }

    /// The caller's job (any job for an admin).
    pub async fn get(&self, caller: &Caller, id: &JobId) -> Result<JobRow, ApiError> {
        let row = self.store.get(id.as_str(), caller.scope()).await?;
        row.ok_or_else(|| ApiError::NotFound(format!("job {id} does not exist")))
    }

    pub async fn list(
        &self,
        caller: &Caller,
        status: Option<JobStatus>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page, ApiError> {
        let limit = limit.unwrap_or(self.default_page_size);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::invalid("limit", "must be between 1 and 500"));
        }
        let before = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => Some(c.parse::<i64>().map_err(|_| ApiError::BadRequest(format!("cursor {c:?} is not valid")))?),
            None => None,
        };
        let mut jobs = self.store.list(caller.scope(), status, before, i64::from(limit) + 1).await?;
        let more = jobs.len() > limit as usize;
        jobs.truncate(limit as usize);
        let next_cursor = if more { jobs.last().map(|j| j.seq.to_string()) } else { None };
        Ok(Page { jobs, next_cursor })
    }

    /// Cancels a job that has not finished: flags it for the workers, marks
    /// it cancelled and publishes `cancelled`.
    pub async fn cancel(&self, caller: &Caller, id: &JobId) -> Result<JobRow, ApiError> {
        let job = self.get(caller, id).await?;
        if job.is_terminal() {
            return Err(ApiError::Conflict(format!("job {id} is already {}", job.status)));
        }
        self.bus.set_cancelled(id).await.map_err(|e| ApiError::unavailable("cannot flag the job cancelled", &e))?;
        let update =
            Update { status: Some(JobStatus::Cancelled), error: Some("cancelled by request"), ..Default::default() };
        let Some(row) = self.store.update(id.as_str(), update).await? else {
            return Err(ApiError::Conflict(format!("job {id} finished before it could be cancelled")));
        };
        metrics::job_finished("cancelled", &row.submitted_via);
        let cancelled =
            JobEvent { tenant: row.tenant.clone(), ..event(id.as_str(), EventKind::Cancelled, Stage::Unspecified) };
        if let Err(e) = self.bus.publish_event(cancelled).await {
            tracing::warn!(error = format!("{e:#}"), job_id = %id, "publish cancelled event");
        }
        Ok(row)
    }

    /// Requeues a failed job from the stage that failed, as a new attempt,
    /// with the task kept in the dead letters (its artifacts are kept). A
    /// part of a split transcription restarts the whole transcription.
    pub async fn retry(&self, caller: &Caller, id: &JobId) -> Result<JobRow, ApiError> {
        let job = self.get(caller, id).await?;
        if job.status != JobStatus::Failed {
            return Err(ApiError::Conflict(format!("job {id} is {}; only a failed job can be retried", job.status)));
        }
        let unavailable = |e: anyhow::Error| ApiError::unavailable("cannot requeue the job", &e);
        let nothing_to_retry = || {
            ApiError::Conflict(format!(
                "job {id} has no task to retry (it was refused before any stage ran): submit it again"
            ))
        };
        let stage = job.stage.clone().ok_or_else(nothing_to_retry)?;
        let letter = self.bus.find_dead_letter(&stage, id.as_str()).await.map_err(unavailable)?;
        let mut task = letter.and_then(|l| StageTask::decode(l.payload).ok()).ok_or_else(nothing_to_retry)?;
        if task.part.take().is_some()
            && let Some(artifacts) = task.artifacts.as_mut()
        {
            artifacts.audio = artifacts::AUDIO.into();
        }
        task.attempt = task.attempt.max(u32::try_from(job.attempt).unwrap_or(1)) + 1;
        let attempt = i32::try_from(task.attempt).unwrap_or(i32::MAX);
        let Some(row) = self.store.requeue(id.as_str(), attempt, &stage).await? else {
            return Err(ApiError::Conflict(format!("job {id} changed while it was being retried")));
        };
        // A task dead-lettered before tasks carried their tenant gets it here.
        task.tenant = job.tenant.clone();
        let queued = JobEvent {
            attempt: task.attempt,
            tenant: job.tenant.clone(),
            ..event(id.as_str(), EventKind::Queued, task.stage())
        };
        let requeued = async {
            self.bus.publish_event(queued).await?;
            self.bus.publish_task(&task).await?;
            self.bus.remove_dead_letters(&stage, id.as_str()).await
        };
        requeued.await.map_err(unavailable)?;
        tracing::info!(job_id = %id, stage, attempt = task.attempt, "job retried");
        Ok(row)
    }

    /// Deletes a job now: an unfinished one is cancelled first (its workers
    /// stop), then its artifacts, events, flags, dead letters and row go.
    pub async fn delete(&self, caller: &Caller, id: &JobId) -> Result<(), ApiError> {
        let job = self.get(caller, id).await?;
        if !job.is_terminal() {
            self.cancel(caller, id).await?;
        }
        self.remove(id).await?;
        tracing::info!(job_id = %id, "job deleted");
        Ok(())
    }

    /// Removes everything of a job (no checks; the janitor's path too).
    pub async fn remove(&self, id: &JobId) -> Result<(), ApiError> {
        self.bus.remove_job(id).await.map_err(|e| ApiError::unavailable("cannot remove the job's data", &e))?;
        self.store.delete(id.as_str()).await?;
        Ok(())
    }

    /// A finished job's transcript in `format`.
    pub async fn transcript(&self, caller: &Caller, id: &JobId, format: Format) -> Result<Vec<u8>, ApiError> {
        let job = self.get(caller, id).await?;
        match job.status {
            JobStatus::Completed => {}
            JobStatus::Failed => {
                return Err(ApiError::Conflict(format!("job {id} failed: {}", job.error.unwrap_or_default())));
            }
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
        self.artifacts.get_bytes(id, &name).await.map_err(|e| ApiError::Internal(e.into()))
    }
}

/// A client-chosen job id another tenant's job holds (said without more).
fn taken(id: &JobId) -> ApiError {
    ApiError::Conflict(format!("job_id {id} is already taken; choose another"))
}
