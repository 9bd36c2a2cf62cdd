//! The REST API described as OpenAPI 3.1, generated from the handlers'
//! annotations (utoipa): `GET /openapi.json`, and a page that reads it at
//! `GET /docs`. Both are served without a key.

use axum::{Router, response::Html, routing::get};
use serde::Serialize;
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{
    jobs::Jobs,
    search::SearchPage,
    store::SearchHit,
    submission::SubmitJson,
    views::{EventView, JobView, OptionsView},
};

#[derive(OpenApi)]
#[openapi(
    info(title = "steno", description = "Self-hosted transcription: jobs, transcripts, speakers, search, and an OpenAI-compatible audio API. Every route but /openapi.json and /docs needs `Authorization: Bearer <key>` (or the web app's session cookie)."),
    paths(
        crate::rest::submit,
        crate::rest::list,
        crate::rest::get_job,
        crate::rest::delete_job,
        crate::rest::cancel,
        crate::rest::retry,
        crate::rest::events,
        crate::rest::transcript,
        crate::rest::speakers,
        crate::rest::rename_speakers,
        crate::rest::search,
        crate::rest::webhooks,
        crate::rest::webhook_secret,
        crate::rest::rotate_webhook_secret,
        crate::rest::tenant_events,
        crate::rest::session,
        crate::transcripts::transcript,
        crate::transcripts::edit_segment,
        crate::transcripts::audio,
        crate::voices::enrol,
        crate::voices::list,
        crate::voices::show,
        crate::voices::remove,
        crate::openai::transcriptions,
        crate::openai::translations,
        crate::openai::list_models,
        crate::openai::get_model,
    ),
    components(schemas(
        JobView, OptionsView, EventView, JobEventStream, OpenAiStreamEvent, SubmitJson, SearchPage, SearchHit, ErrorBody, JobList, SpeakerList,
        UploadForm, OpenAiError, OpenAiErrorDetail, TranscriptionForm, TranslationForm, OpenAiTranscription,
        Pending, ModelList, ModelObject, WebhookSecret, crate::webhooks::WebhooksView, crate::store::WebhookRow,
        crate::rest::SessionView, crate::transcripts::TranscriptView, crate::transcripts::SpeakerView,
        crate::transcripts::SegmentView, crate::transcripts::WordView, crate::transcripts::SegmentText,
        EnrolForm, crate::voices::VoiceView, crate::voices::VoiceList,
    )),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("a steno API key")).build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// `/openapi.json` and `/docs`, outside authentication.
pub fn routes() -> Router<Jobs> {
    let document = ApiDoc::openapi().to_json().unwrap_or_default();
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .route("/docs", get(|| async { Html(include_str!("../assets/docs.html")) }))
}

/// One Server-Sent Event of a job's event stream.
#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct JobEventStream {
    /// The event's sequence number (`Last-Event-ID` resumes after it).
    pub id: String,
    /// Its kind: `queued`, `started`, `progress`, `text`, `stage_completed`,
    /// `retrying`, `completed`, `failed` or `cancelled`.
    pub event: String,
    /// An `EventView` as JSON.
    #[schema(content_media_type = "application/json")]
    pub data: String,
}

/// One Server-Sent Event of a streamed transcription: `data` is
/// `{"type": "transcript.text.delta", "delta"}`, then
/// `{"type": "transcript.text.done", "text"}`, or an `{"type": "error", "error"}`.
#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct OpenAiStreamEvent {
    #[schema(content_media_type = "application/json")]
    pub data: String,
}

/// The tenant's webhook signing secret.
#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct WebhookSecret {
    /// `whsec_` and base64: verify signatures with a Standard Webhooks library.
    pub secret: String,
}

/// steno's error body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, for a person.
    pub error: String,
    /// The field at fault, when one is.
    pub field: Option<String>,
}

/// A page of jobs, newest first.
#[derive(Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SpeakerList {
    pub speakers: Vec<Speaker>,
}

#[derive(Serialize, ToSchema)]
pub struct Speaker {
    /// `S1`, `S2`, … in order of first appearance.
    pub id: String,
    pub name: String,
}

/// `POST /v1/jobs` as multipart: the options as text fields, then the file.
#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct UploadForm {
    pub language: Option<String>,
    pub model: Option<String>,
    /// Comma-separated: srt, vtt, json, txt, pdf.
    pub formats: Option<String>,
    pub diarize: Option<bool>,
    pub job_id: Option<String>,
    pub idempotency_key: Option<String>,
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: String,
}

/// `POST /v1/speakers`: the voice's name, then 5–30 s of the person talking alone.
#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct EnrolForm {
    pub name: String,
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: String,
}

/// An error in OpenAI's shape.
#[derive(Serialize, ToSchema)]
pub struct OpenAiError {
    pub error: OpenAiErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `rate_limit_error` or `server_error`.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    /// The parameter at fault.
    pub param: Option<String>,
    pub code: Option<String>,
}

/// `POST /v1/audio/transcriptions`, as OpenAI's.
#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct TranscriptionForm {
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: String,
    /// `whisper-1` (the default model) or an installed model's name.
    pub model: String,
    pub language: Option<String>,
    pub prompt: Option<String>,
    pub temperature: Option<f32>,
    /// json, text, srt, vtt, verbose_json or diarized_json.
    pub response_format: Option<String>,
    /// `word` and/or `segment` (word only with verbose_json).
    #[schema(rename = "timestamp_granularities[]")]
    pub timestamp_granularities: Option<Vec<String>>,
    pub stream: Option<bool>,
    /// Names of voices the tenant enrolled (`POST /v1/speakers`); every
    /// enrolled voice is named in diarized jobs, these must exist.
    #[schema(rename = "known_speaker_names[]")]
    pub known_speaker_names: Option<Vec<String>>,
}

/// `POST /v1/audio/translations`, as OpenAI's.
#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct TranslationForm {
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: String,
    pub model: String,
    pub prompt: Option<String>,
    pub temperature: Option<f32>,
    /// json, text, srt, vtt or verbose_json.
    pub response_format: Option<String>,
}

/// `json`: `text` and `usage`; `verbose_json` adds task, language,
/// duration, segments and words; `diarized_json` segments by speaker.
#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct OpenAiTranscription {
    pub text: String,
    #[schema(value_type = Object)]
    pub usage: Option<serde_json::Value>,
    pub task: Option<String>,
    pub language: Option<String>,
    pub duration: Option<f64>,
    #[schema(value_type = Vec<Object>)]
    pub segments: Option<Vec<serde_json::Value>>,
    #[schema(value_type = Vec<Object>)]
    pub words: Option<Vec<serde_json::Value>>,
}

/// A job still running: poll it (also in `x-steno-job-id` and `Location`).
#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct Pending {
    pub id: String,
    pub job: JobView,
    pub message: String,
}

#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    pub data: Vec<ModelObject>,
}

#[allow(dead_code)] // a schema only
#[derive(ToSchema)]
pub struct ModelObject {
    pub id: String,
    /// `model`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    pub owned_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rest_route_is_documented() {
        let document = ApiDoc::openapi();
        let paths: Vec<&String> = document.paths.paths.keys().collect();
        for path in [
            "/v1/jobs",
            "/v1/jobs/{id}",
            "/v1/jobs/{id}/cancel",
            "/v1/jobs/{id}/retry",
            "/v1/jobs/{id}/events",
            "/v1/jobs/{id}/speakers",
            "/v1/jobs/{id}/{file}",
            "/v1/search",
            "/v1/jobs/{id}/webhooks",
            "/v1/webhooks/secret",
            "/v1/audio/transcriptions",
            "/v1/audio/translations",
            "/v1/models",
            "/v1/models/{id}",
        ] {
            assert!(paths.iter().any(|p| *p == path), "{path} is not in the document: {paths:?}");
        }
        assert!(document.to_json().is_ok_and(|json| json.contains("\"openapi\":\"3.1")));
    }
}
