//! Known voices (`/v1/speakers`): a tenant enrols a voice with a name and a
//! 5–30 s clip of that person talking alone. The clip becomes an ordinary
//! job of the tenant (`submitted_via: "speakers"`, options `enrol_voice`)
//! that goes transcode → diarize, where the voice's print is made and kept
//! in the voices bucket; from then on diarize names that voice's speaker in
//! the tenant's jobs (`steno_diarize::known`). Deleting a voice deletes its
//! enrolment job and clip too.

use axum::{
    Extension, Json, Router,
    extract::{DefaultBodyLimit, Multipart, Path, State},
    http::StatusCode,
    routing::{get, post},
};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use steno_runtime::{
    JobId,
    voices::{self, Voice},
};

use crate::{
    auth::Caller,
    error::ApiError,
    jobs::Jobs,
    rest::text_field,
    store::JobStatus,
    submission::{SubmitJson, Via},
};

pub fn routes(max_upload_bytes: u64) -> Router<Jobs> {
    let upload_limit = DefaultBodyLimit::max(usize::try_from(max_upload_bytes).unwrap_or(usize::MAX));
    Router::new()
        .route("/v1/speakers", post(enrol).layer(upload_limit).get(list))
        .route("/v1/speakers/{id}", get(show).delete(remove))
}

/// A known voice as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VoiceView {
    pub id: String,
    pub name: String,
    /// `enrolling` (its job is running), `ready` (jobs are named with it) or
    /// `failed` (see `error`).
    pub status: &'static str,
    /// Why the enrolment failed.
    pub error: Option<String>,
    /// The speech its print was made from.
    pub speech_seconds: Option<f64>,
    /// The enrolment job.
    pub job_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VoiceList {
    pub speakers: Vec<VoiceView>,
}

impl Jobs {
    async fn voices_bucket(&self) -> Result<&async_nats::jetstream::kv::Store, ApiError> {
        self.voices
            .get_or_try_init(|| voices::bucket(&self.bus.js, self.replicas))
            .await
            .map_err(|e| ApiError::unavailable("cannot reach the known voices", &e))
    }

    /// Records the voice `name` and submits `media` as its enrolment job.
    pub async fn enrol_voice(
        &self,
        caller: &Caller,
        name: &str,
        filename: &str,
        media: &mut (impl tokio::io::AsyncRead + Unpin + Send),
    ) -> Result<VoiceView, ApiError> {
        let name = crate::speakers::printable_name(name)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::invalid("name", "must be 1 to 64 characters, without line breaks or < >"))?;
        let mut submission =
            SubmitJson { diarize: Some(true), formats: Some(Vec::new()), ..Default::default() }.validate()?;
        let id = new_voice_id()?;
        submission.options.enrol_voice = id.clone();
        let voice = Voice {
            id,
            name: name.to_owned(),
            job_id: submission.id.to_string(),
            created_at: chrono::Utc::now(),
            print: Vec::new(),
            speech_ms: 0,
        };
        let store = self.voices_bucket().await?;
        voices::put(store, &caller.tenant, &voice)
            .await
            .map_err(|e| ApiError::unavailable("cannot record the voice", &e))?;
        if let Err(e) = self.submit_validated_upload(caller, submission, filename, media, Via::Speakers).await {
            if let Err(e) = voices::delete(store, &caller.tenant, &voice.id).await {
                tracing::warn!(error = format!("{e:#}"), voice = voice.id, "a refused enrolment's voice is left");
            }
            return Err(e);
        }
        tracing::info!(voice = voice.id, tenant = caller.tenant, "voice enrolment submitted");
        self.voice_view(caller, voice).await
    }

    /// The caller's tenant's voices, oldest first.
    pub async fn voices(&self, caller: &Caller) -> Result<Vec<VoiceView>, ApiError> {
        let store = self.voices_bucket().await?;
        let known = voices::list(store, &caller.tenant)
            .await
            .map_err(|e| ApiError::unavailable("cannot read the known voices", &e))?;
        let mut views = Vec::with_capacity(known.len());
        for voice in known {
            views.push(self.voice_view(caller, voice).await?);
        }
        Ok(views)
    }

    pub async fn voice(&self, caller: &Caller, id: &str) -> Result<VoiceView, ApiError> {
        let voice = self.find_voice(caller, id).await?;
        self.voice_view(caller, voice).await
    }

    /// Forgets the voice, and deletes its enrolment job (and clip).
    pub async fn delete_voice(&self, caller: &Caller, id: &str) -> Result<(), ApiError> {
        let voice = self.find_voice(caller, id).await?;
        let store = self.voices_bucket().await?;
        voices::delete(store, &caller.tenant, &voice.id)
            .await
            .map_err(|e| ApiError::unavailable("cannot delete the voice", &e))?;
        if let Ok(job) = JobId::parse(&voice.job_id) {
            match self.delete(caller, &job).await {
                Ok(()) | Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        tracing::info!(voice = voice.id, tenant = caller.tenant, "voice deleted");
        Ok(())
    }

    async fn find_voice(&self, caller: &Caller, id: &str) -> Result<Voice, ApiError> {
        let missing = || ApiError::NotFound(format!("no known voice {id}"));
        if !is_voice_id(id) {
            return Err(missing());
        }
        let store = self.voices_bucket().await?;
        let voice = voices::get(store, &caller.tenant, id)
            .await
            .map_err(|e| ApiError::unavailable("cannot read the known voices", &e))?;
        voice.ok_or_else(missing)
    }

    /// The voice with its enrolment's status.
    async fn voice_view(&self, caller: &Caller, voice: Voice) -> Result<VoiceView, ApiError> {
        let (status, error) = if !voice.print.is_empty() {
            ("ready", None)
        } else {
            let job = self.store.get(&voice.job_id, Some(caller.tenant.as_str())).await?;
            match job {
                Some(job) if job.status == JobStatus::Failed || job.status == JobStatus::Cancelled => {
                    ("failed", Some(job.error.unwrap_or_else(|| format!("its enrolment job was {}", job.status))))
                }
                Some(_) => ("enrolling", None),
                None => ("failed", Some("its enrolment job was deleted before it finished".to_owned())),
            }
        };
        Ok(VoiceView {
            speech_seconds: (voice.speech_ms > 0).then_some(voice.speech_ms as f64 / 1000.0),
            id: voice.id,
            name: voice.name,
            status,
            error,
            job_id: voice.job_id,
            created_at: voice.created_at,
        })
    }
}

/// `v_` and 12 random hex digits.
fn new_voice_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 6];
    SystemRandom::new().fill(&mut bytes).map_err(|_| ApiError::Internal(anyhow::anyhow!("no randomness")))?;
    Ok(format!("v_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn is_voice_id(id: &str) -> bool {
    id.strip_prefix("v_").is_some_and(|hex| hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `POST /v1/speakers`: multipart `name`, then `file` (5–30 s of the
/// person talking alone). 201 with the voice, `enrolling` until its job ends.
#[utoipa::path(post, path = "/v1/speakers", tag = "speakers",
    request_body(content = crate::openapi::EnrolForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "the voice, enrolling", body = VoiceView),
        (status = 400, description = "a malformed body", body = crate::openapi::ErrorBody),
        (status = 413, description = "over the upload limit", body = crate::openapi::ErrorBody),
        (status = 422, description = "an invalid name or no file, named", body = crate::openapi::ErrorBody),
        (status = 429, description = "over the tenant's limits (see Retry-After)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
pub(crate) async fn enrol(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<VoiceView>), ApiError> {
    let mut multipart = multipart.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut name = None;
    let mut voice = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| ApiError::BadRequest(e.body_text()))? {
        match field.name().unwrap_or_default() {
            "name" if voice.is_none() => name = Some(text_field(&mut field).await?),
            "file" if voice.is_none() => {
                let name =
                    name.take().ok_or_else(|| ApiError::invalid("name", "give the voice's name before the file"))?;
                let filename = field.file_name().unwrap_or("clip").to_owned();
                let mut media =
                    tokio_util::io::StreamReader::new(futures::TryStreamExt::map_err(field, std::io::Error::other));
                voice = Some(jobs.enrol_voice(&caller, &name, &filename, &mut media).await?);
            }
            other if voice.is_none() => {
                return Err(ApiError::invalid("multipart", format!("unknown field {other:?} (send name, then file)")));
            }
            _ => while let Ok(Some(_)) = field.chunk().await {},
        }
    }
    let voice =
        voice.ok_or_else(|| ApiError::invalid("file", "send a `file` part: 5 to 30 s of the person talking"))?;
    Ok((StatusCode::CREATED, Json(voice)))
}

/// `GET /v1/speakers`: the tenant's known voices.
#[utoipa::path(get, path = "/v1/speakers", tag = "speakers",
    responses((status = 200, body = VoiceList), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
pub(crate) async fn list(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<VoiceList>, ApiError> {
    Ok(Json(VoiceList { speakers: jobs.voices(&caller).await? }))
}

/// `GET /v1/speakers/{id}`
#[utoipa::path(get, path = "/v1/speakers/{id}", tag = "speakers", params(("id" = String, Path, description = "the voice id")),
    responses((status = 200, body = VoiceView), (status = 404, description = "no such voice", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
pub(crate) async fn show(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<VoiceView>, ApiError> {
    Ok(Json(jobs.voice(&caller, &id).await?))
}

/// `DELETE /v1/speakers/{id}`: forgets the voice and deletes its clip; 204.
#[utoipa::path(delete, path = "/v1/speakers/{id}", tag = "speakers", params(("id" = String, Path, description = "the voice id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such voice", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
pub(crate) async fn remove(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    jobs.delete_voice(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_ids_are_their_own_shape() {
        let id = new_voice_id().expect("id");
        assert!(is_voice_id(&id), "{id}");
        for bad in ["", "v_", "v_0123456789ag", "x_0123456789ab", "v_0123456789ab.>", "v_0123456789abc"] {
            assert!(!is_voice_id(bad), "{bad}");
        }
    }
}
