//! The OpenAI-compatible audio API, so the clients people already have
//! (the `openai` SDKs, tools built on them) work against steno by changing
//! `base_url` and `api_key`. Each request is an ordinary job through the
//! same pipeline (same keys, tenant, limits and ledger), waited for here:
//!
//! - `POST /v1/audio/transcriptions` and `POST /v1/audio/translations`
//!   (multipart), answered in OpenAI's shapes (`json`, `text`, `srt`,
//!   `vtt`, `verbose_json`, `diarized_json`), or with `stream=true` as
//!   Server-Sent Events (`transcript.text.delta` as pieces are transcribed,
//!   then `transcript.text.done`). A job still running after
//!   `gateway.openai_wait_secs` is answered `202` with its id to poll.
//! - `GET /v1/models` and `GET /v1/models/{id}`: the models the
//!   transcribers can load (asked over NATS), plus `whisper-1`, an alias of
//!   the default model.
//!
//! Errors here are in OpenAI's shape (`{"error": {"message", "type",
//! "param", "code"}}`), invalid parameters as `400` as OpenAI answers.

use std::{convert::Infallible, time::Duration};

use axum::{
    Extension, Json, Router,
    extract::{DefaultBodyLimit, Multipart, Path, State, multipart::Field},
    http::{StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::{Stream, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use steno_runtime::{
    JobId,
    models::WhisperModels,
    proto::{EventKind, Format, JobEvent},
    subjects,
    transcript::{Transcript, language_name},
};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::{
    auth::Caller,
    error::ApiError,
    jobs::Jobs,
    store::JobStatus,
    submission::{SubmitJson, Via},
    views::JobView,
};

/// Model names OpenAI clients send, taken as the transcribers' default model.
const DEFAULT_MODEL_ALIASES: [&str; 4] =
    ["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize"];
/// The alias `GET /v1/models` lists for the default model.
const LISTED_ALIAS: &str = "whisper-1";
/// How long a model listing waits for a transcriber to answer.
const MODELS_TIMEOUT: Duration = Duration::from_secs(5);

pub fn routes(max_upload_bytes: u64) -> Router<Jobs> {
    let upload_limit = DefaultBodyLimit::max(usize::try_from(max_upload_bytes).unwrap_or(usize::MAX));
    Router::new()
        .route("/v1/audio/transcriptions", post(transcriptions).layer(upload_limit))
        .route("/v1/audio/translations", post(translations).layer(upload_limit))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{id}", get(get_model))
}

/// Whether a request path is one of these routes (its errors, from
/// authentication too, are answered in OpenAI's shape).
pub fn is_openai_path(path: &str) -> bool {
    path.starts_with("/v1/audio/") || path == "/v1/models" || path.starts_with("/v1/models/")
}

/// An error in OpenAI's shape; invalid parameters are `400`.
pub fn error_response(e: ApiError) -> Response {
    let (kind, status) = match &e {
        ApiError::BadRequest(_) | ApiError::Invalid { .. } | ApiError::Conflict(_) => {
            ("invalid_request_error", StatusCode::BAD_REQUEST)
        }
        ApiError::NotFound(_) | ApiError::TooLarge(_) => ("invalid_request_error", e.http_status()),
        ApiError::Unauthenticated => ("authentication_error", e.http_status()),
        ApiError::Forbidden(_) => ("permission_error", e.http_status()),
        ApiError::TooManyRequests { .. } => ("rate_limit_error", e.http_status()),
        ApiError::Unavailable(_) | ApiError::Internal(_) => ("server_error", e.http_status()),
    };
    let param = match &e {
        ApiError::Invalid { field, .. } => Some(*field),
        _ => None,
    };
    let body = json!({ "error": { "message": e.public_message(), "type": kind, "param": param, "code": null } });
    e.response_with(status, body)
}

/// Every name in `known_speaker_names[]` must be a voice the tenant has
/// enrolled and is ready: diarized jobs name every such voice they hear.
async fn known_speakers_enrolled(jobs: &Jobs, caller: &Caller, names: &[String]) -> Result<(), ApiError> {
    if names.is_empty() {
        return Ok(());
    }
    let voices = jobs.voices(caller).await?;
    for name in names {
        if !voices.iter().any(|v| v.status == "ready" && &v.name == name) {
            return Err(ApiError::invalid(
                "known_speaker_names",
                format!(
                    "no enrolled voice is named {name:?}: enrol it with POST /v1/speakers (a name and a 5-30 s clip)"
                ),
            ));
        }
    }
    Ok(())
}

/// A handler's result answered in OpenAI's shape.
struct OpenAi(Result<Response, ApiError>);

impl IntoResponse for OpenAi {
    fn into_response(self) -> Response {
        self.0.unwrap_or_else(error_response)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Task {
    Transcribe,
    Translate,
}

impl Task {
    fn name(self) -> &'static str {
        match self {
            Task::Transcribe => "transcribe",
            Task::Translate => "translate",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ResponseFormat {
    Json,
    Text,
    Srt,
    Vtt,
    VerboseJson,
    DiarizedJson,
}

impl ResponseFormat {
    fn parse(name: Option<&str>, task: Task) -> Result<Self, ApiError> {
        Ok(match name.unwrap_or("json") {
            "json" => Self::Json,
            "text" => Self::Text,
            "srt" => Self::Srt,
            "vtt" => Self::Vtt,
            "verbose_json" => Self::VerboseJson,
            "diarized_json" if task == Task::Transcribe => Self::DiarizedJson,
            other => {
                let known = match task {
                    Task::Transcribe => "json, text, srt, vtt, verbose_json or diarized_json",
                    Task::Translate => "json, text, srt, vtt or verbose_json",
                };
                return Err(ApiError::invalid("response_format", format!("{other:?} is not one of {known}")));
            }
        })
    }
}

/// The multipart form of a transcription or translation, in any field
/// order: the file is spooled to a temporary file as it arrives.
#[derive(Default)]
struct AudioForm {
    file: Option<(String, tokio::fs::File)>,
    model: Option<String>,
    language: Option<String>,
    prompt: Option<String>,
    temperature: Option<f32>,
    response_format: Option<String>,
    keywords: Vec<String>,
    /// Enrolled voices (`POST /v1/speakers`) the request names.
    known_speakers: Vec<String>,
    words: bool,
    segments: bool,
    stream: bool,
}

impl AudioForm {
    async fn read(mut multipart: Multipart, task: Task) -> Result<Self, ApiError> {
        let mut form = Self::default();
        let bad = |e: axum::extract::multipart::MultipartError| ApiError::BadRequest(e.body_text());
        while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                let filename = field.file_name().unwrap_or("upload").to_owned();
                form.file = Some((filename, spool(&mut field).await?));
                continue;
            }
            let value = crate::rest::text_field(&mut field).await?.trim().to_owned();
            match (name.as_str(), task) {
                ("model", _) => form.model = Some(value),
                ("prompt", _) => form.prompt = Some(value),
                ("response_format", _) => form.response_format = Some(value),
                ("temperature", _) => {
                    let t = value.parse().map_err(|_| ApiError::invalid("temperature", "must be a number"))?;
                    form.temperature = Some(t);
                }
                ("language", Task::Transcribe) => form.language = Some(value),
                ("keywords[]" | "keywords", Task::Transcribe) => form.keywords.push(value),
                ("stream", Task::Transcribe) => form.stream = parse_bool("stream", &value)?,
                ("timestamp_granularities[]" | "timestamp_granularities", Task::Transcribe) => match value.as_str() {
                    "word" => form.words = true,
                    "segment" => form.segments = true,
                    other => {
                        return Err(ApiError::invalid(
                            "timestamp_granularities",
                            format!("{other:?} is not `word` or `segment`"),
                        ));
                    }
                },
                ("known_speaker_names[]" | "known_speaker_names", Task::Transcribe) => form.known_speakers.push(value),
                ("known_speaker_references[]" | "known_speaker_references", Task::Transcribe) => {
                    return Err(ApiError::invalid(
                        "known_speaker_references",
                        "steno keeps known voices instead: enrol each once with POST /v1/speakers (a name and a 5-30 s clip), then name it in known_speaker_names[]",
                    ));
                }
                // Accepted for compatibility; steno always cuts at speech pauses.
                ("chunking_strategy" | "include[]", Task::Transcribe) => {}
                (other, _) => {
                    return Err(ApiError::invalid("multipart", format!("unknown field {other:?} for {}", task.name())));
                }
            }
        }
        Ok(form)
    }
}

/// A file part written to an anonymous temporary file, rewound.
async fn spool(field: &mut Field<'_>) -> Result<tokio::fs::File, ApiError> {
    let failed = |e: std::io::Error| ApiError::Internal(anyhow::anyhow!("spool an upload: {e}"));
    let mut file = tokio::fs::File::from_std(tempfile::tempfile().map_err(failed)?);
    while let Some(chunk) = field.chunk().await.map_err(|e| ApiError::BadRequest(e.body_text()))? {
        file.write_all(&chunk).await.map_err(failed)?;
    }
    file.flush().await.map_err(failed)?;
    file.rewind().await.map_err(failed)?;
    Ok(file)
}

fn parse_bool(field: &'static str, value: &str) -> Result<bool, ApiError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(ApiError::invalid(field, format!("{value:?} is not true or false"))),
    }
}

#[utoipa::path(post, path = "/v1/audio/transcriptions", tag = "openai",
    request_body(content = crate::openapi::TranscriptionForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "the transcript in `response_format` (JSON shapes below, or text, SRT, VTT), or with `stream=true` Server-Sent Events", content(
            (crate::openapi::OpenAiTranscription = "application/json"), (String = "text/plain"),
            (crate::openapi::OpenAiStreamEvent = "text/event-stream"))),
        (status = 202, description = "still running after `gateway.openai_wait_secs`: poll the job", body = crate::openapi::Pending),
        (status = 400, description = "an invalid parameter, or the job failed (the reason)", body = crate::openapi::OpenAiError),
        (status = 413, description = "over the upload limit", body = crate::openapi::OpenAiError),
        (status = 429, description = "over the tenant's limits", body = crate::openapi::OpenAiError), (status = 401, description = "no valid API key", body = crate::openapi::OpenAiError), (status = 503, description = "a dependency is not answering", body = crate::openapi::OpenAiError)))]
async fn transcriptions(State(jobs): State<Jobs>, Extension(caller): Extension<Caller>, form: Form) -> OpenAi {
    OpenAi(audio(jobs, caller, form, Task::Transcribe).await)
}

#[utoipa::path(post, path = "/v1/audio/translations", tag = "openai",
    request_body(content = crate::openapi::TranslationForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "the English text in `response_format`", content(
            (crate::openapi::OpenAiTranscription = "application/json"), (String = "text/plain"))),
        (status = 202, description = "still running after `gateway.openai_wait_secs`: poll the job", body = crate::openapi::Pending),
        (status = 400, description = "an invalid parameter, or the job failed (the reason)", body = crate::openapi::OpenAiError),
        (status = 413, description = "over the upload limit", body = crate::openapi::OpenAiError),
        (status = 429, description = "over the tenant's limits", body = crate::openapi::OpenAiError), (status = 401, description = "no valid API key", body = crate::openapi::OpenAiError), (status = 503, description = "a dependency is not answering", body = crate::openapi::OpenAiError)))]
async fn translations(State(jobs): State<Jobs>, Extension(caller): Extension<Caller>, form: Form) -> OpenAi {
    OpenAi(audio(jobs, caller, form, Task::Translate).await)
}

/// A multipart body, or why it is not one.
type Form = Result<Multipart, axum::extract::multipart::MultipartRejection>;

/// Submits the form's file as a job and answers when it ends.
async fn audio(jobs: Jobs, caller: Caller, multipart: Form, task: Task) -> Result<Response, ApiError> {
    let multipart = multipart.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let form = AudioForm::read(multipart, task).await?;
    let format = ResponseFormat::parse(form.response_format.as_deref(), task)?;
    if form.words && format != ResponseFormat::VerboseJson {
        return Err(ApiError::invalid(
            "timestamp_granularities",
            "`word` timestamps need response_format verbose_json",
        ));
    }
    let diarized = format == ResponseFormat::DiarizedJson;
    known_speakers_enrolled(&jobs, &caller, &form.known_speakers).await?;
    let model = form.model.filter(|m| !DEFAULT_MODEL_ALIASES.contains(&m.as_str()));
    let mut formats = vec!["json".to_owned()];
    match format {
        ResponseFormat::Srt => formats.push("srt".into()),
        ResponseFormat::Vtt => formats.push("vtt".into()),
        _ => {}
    }
    let spec = SubmitJson {
        model,
        language: form.language,
        initial_prompt: form.prompt,
        temperature: form.temperature,
        translate: Some(task == Task::Translate),
        diarize: Some(diarized),
        word_timestamps: Some(form.words || diarized),
        formats: Some(formats),
        hotwords: Some(form.keywords).filter(|k| !k.is_empty()),
        ..SubmitJson::default()
    };
    let (filename, mut file) = form.file.ok_or_else(|| ApiError::invalid("file", "is required (the audio file)"))?;
    let (row, _) = jobs.submit_upload(&caller, &spec, &filename, &mut file, Via::OpenAi).await?;
    let id = ApiError::job_id(&row.id)?;
    let events = jobs.events(&caller, &id, None).await?;
    if form.stream {
        return Ok(stream(jobs, caller, id, events).into_response());
    }
    let wait = jobs.openai_wait;
    let ended = tokio::time::timeout(wait, async {
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            event?;
        }
        Ok::<_, ApiError>(())
    })
    .await;
    match ended {
        Err(_) => return pending(&jobs, &caller, &id, wait).await,
        Ok(result) => result?,
    }
    let job = jobs.get(&caller, &id).await?;
    match job.status {
        JobStatus::Completed => {}
        JobStatus::Failed => {
            return Err(ApiError::BadRequest(format!("job {id} failed: {}", job.error.unwrap_or_default())));
        }
        status => return Err(ApiError::Conflict(format!("job {id} is {status}"))),
    }
    let options = Shape { task, words: form.words, segments: form.segments || !form.words };
    match format {
        ResponseFormat::Srt | ResponseFormat::Vtt => {
            let (subtitles, content_type) = if format == ResponseFormat::Srt {
                (Format::Srt, "application/x-subrip; charset=utf-8")
            } else {
                (Format::Vtt, "text/vtt; charset=utf-8")
            };
            let body = jobs.transcript(&caller, &id, subtitles).await?;
            Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
        }
        _ => {
            let transcript = read_transcript(&jobs, &caller, &id).await?;
            Ok(match format {
                ResponseFormat::Text => {
                    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{}\n", text(&transcript)))
                        .into_response()
                }
                ResponseFormat::VerboseJson => Json(verbose(&transcript, options)).into_response(),
                ResponseFormat::DiarizedJson => Json(diarized_json(&transcript)).into_response(),
                _ => Json(json!({ "text": text(&transcript), "usage": usage(&transcript) })).into_response(),
            })
        }
    }
}

/// `202 Accepted` with the job, still running after the configured wait.
async fn pending(jobs: &Jobs, caller: &Caller, id: &JobId, waited: Duration) -> Result<Response, ApiError> {
    let job = JobView::from(jobs.get(caller, id).await?);
    let body = json!({
        "id": id.as_str(),
        "job": job,
        "message": format!(
            "the job is still running after {} s: poll GET /v1/jobs/{id} and fetch GET /v1/jobs/{id}/transcript.json",
            waited.as_secs()
        ),
    });
    let headers = [("x-steno-job-id", id.to_string()), (header::LOCATION.as_str(), format!("/v1/jobs/{id}"))];
    Ok((StatusCode::ACCEPTED, headers, Json(body)).into_response())
}

/// `stream=true`: a `transcript.text.delta` for every piece of text the
/// transcriber reports, then `transcript.text.done` with the whole text
/// (or an `error` if the job fails).
fn stream(
    jobs: Jobs,
    caller: Caller,
    id: JobId,
    events: impl Stream<Item = Result<(u64, JobEvent), ApiError>> + Send + 'static,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let items = events.then(move |event| {
        let (jobs, caller, id) = (jobs.clone(), caller.clone(), id.clone());
        async move { stream_item(&jobs, &caller, &id, event).await }
    });
    let items = items.filter_map(|item| async move { item.map(|data| Ok(Event::default().data(data.to_string()))) });
    Sse::new(items).keep_alive(KeepAlive::default())
}

async fn stream_item(
    jobs: &Jobs,
    caller: &Caller,
    id: &JobId,
    event: Result<(u64, JobEvent), ApiError>,
) -> Option<Value> {
    let error = |message: String| json!({ "type": "error", "error": { "message": message, "type": "server_error" } });
    let event = match event {
        Ok((_, event)) => event,
        Err(e) => return Some(error(e.public_message())),
    };
    match event.kind() {
        EventKind::Text => Some(json!({ "type": "transcript.text.delta", "delta": event.text })),
        EventKind::Completed => Some(match read_transcript(jobs, caller, id).await {
            Ok(transcript) => json!({ "type": "transcript.text.done", "text": text(&transcript) }),
            Err(e) => error(e.public_message()),
        }),
        EventKind::Failed => Some(error(format!("job {id} failed: {}", event.message))),
        EventKind::Cancelled => Some(error(format!("job {id} was cancelled"))),
        _ => None,
    }
}

async fn read_transcript(jobs: &Jobs, caller: &Caller, id: &JobId) -> Result<Transcript, ApiError> {
    let bytes = jobs.transcript(caller, id, Format::Json).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::Internal(anyhow::anyhow!("job {id}'s transcript.json: {e}")))
}

/// The whole text: the segments' texts joined by spaces.
fn text(transcript: &Transcript) -> String {
    transcript.segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ")
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn usage(transcript: &Transcript) -> Value {
    json!({ "type": "duration", "seconds": transcript.duration_ms.div_ceil(1000) })
}

/// What a `verbose_json` answer holds.
#[derive(Clone, Copy)]
struct Shape {
    task: Task,
    words: bool,
    segments: bool,
}

#[derive(Serialize)]
struct VerboseSegment<'a> {
    id: usize,
    /// Where the segment starts, in 10 ms frames (openai-whisper's `seek`
    /// is its window's start; steno's pieces follow speech, not windows).
    seek: u64,
    start: f64,
    end: f64,
    text: &'a str,
    tokens: &'a [i32],
    temperature: f32,
    avg_logprob: f32,
    compression_ratio: f32,
    no_speech_prob: f32,
}

#[derive(Serialize)]
struct VerboseWord<'a> {
    word: &'a str,
    start: f64,
    end: f64,
}

/// `verbose_json`: segments (unless only words were asked for) and, with
/// `word` granularity, `words` at the top level.
fn verbose(transcript: &Transcript, shape: Shape) -> Value {
    let language = match shape.task {
        Task::Translate => "english",
        Task::Transcribe => language_name(&transcript.language).unwrap_or(&transcript.language),
    };
    let mut body = json!({
        "task": shape.task.name(),
        "language": language,
        "duration": seconds(transcript.duration_ms),
        "text": text(transcript),
        "usage": usage(transcript),
    });
    if shape.segments {
        let segments: Vec<VerboseSegment> = transcript
            .segments
            .iter()
            .enumerate()
            .map(|(id, s)| VerboseSegment {
                id,
                seek: s.start_ms / 10,
                start: seconds(s.start_ms),
                end: seconds(s.end_ms),
                text: &s.text,
                tokens: &s.tokens,
                temperature: s.temperature,
                avg_logprob: s.avg_logprob,
                compression_ratio: s.compression_ratio,
                no_speech_prob: s.no_speech_prob,
            })
            .collect();
        body["segments"] = json!(segments);
    }
    if shape.words {
        let words: Vec<VerboseWord> = transcript
            .segments
            .iter()
            .flat_map(|s| &s.words)
            .map(|w| VerboseWord { word: &w.text, start: seconds(w.start_ms), end: seconds(w.end_ms) })
            .collect();
        body["words"] = json!(words);
    }
    body
}

/// `diarized_json`: segments by speaker. A speaker is named by its display
/// name once renamed, else by its id (`S1`).
fn diarized_json(transcript: &Transcript) -> Value {
    let speaker = |id: &str| -> String {
        let default =
            transcript.speakers.iter().position(|s| s.id == id).map(steno_runtime::transcript::Speaker::numbered);
        match transcript.speakers.iter().find(|s| s.id == id) {
            Some(s) if default.is_none_or(|d| d.name != s.name) => s.name.clone(),
            _ => id.to_owned(),
        }
    };
    let segments: Vec<Value> = transcript
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "type": "transcript.text.segment",
                "id": format!("seg_{i}"),
                "start": seconds(s.start_ms),
                "end": seconds(s.end_ms),
                "speaker": s.speaker.as_deref().map_or_else(|| "S1".to_owned(), speaker),
                "text": s.text,
            })
        })
        .collect();
    json!({
        "task": "transcribe",
        "duration": seconds(transcript.duration_ms),
        "text": text(transcript),
        "segments": segments,
        "usage": usage(transcript),
    })
}

/// Asks a transcriber which models it can load.
async fn installed_models(jobs: &Jobs) -> Result<WhisperModels, ApiError> {
    let request = jobs.bus.client.request(subjects::MODELS_SUBJECT, "".into());
    let reply = match tokio::time::timeout(MODELS_TIMEOUT, request).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) if e.kind() == async_nats::client::RequestErrorKind::NoResponders => {
            return Err(ApiError::Unavailable("no transcriber is running to say which models it has".into()));
        }
        Ok(Err(e)) => {
            return Err(ApiError::unavailable("cannot ask the transcribers for their models", &anyhow::Error::from(e)));
        }
        Err(_) => return Err(ApiError::Unavailable("no transcriber answered in time with its models".into())),
    };
    serde_json::from_slice(&reply.payload)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("a transcriber's model listing: {e}")))
}

/// The models in OpenAI's shape, `whisper-1` (the default) first.
fn model_objects(installed: &WhisperModels) -> Vec<Value> {
    let object =
        |id: &str, created: u64| json!({ "id": id, "object": "model", "created": created, "owned_by": "steno" });
    let default = installed.models.iter().find(|m| m.name == installed.default);
    let alias = default.map(|m| object(LISTED_ALIAS, m.created));
    alias.into_iter().chain(installed.models.iter().map(|m| object(&m.name, m.created))).collect()
}

#[utoipa::path(get, path = "/v1/models", tag = "openai",
    responses((status = 200, body = crate::openapi::ModelList), (status = 401, description = "no valid API key", body = crate::openapi::OpenAiError), (status = 503, description = "a dependency is not answering", body = crate::openapi::OpenAiError)))]
async fn list_models(State(jobs): State<Jobs>) -> OpenAi {
    OpenAi(
        installed_models(&jobs)
            .await
            .map(|installed| Json(json!({ "object": "list", "data": model_objects(&installed) })).into_response()),
    )
}

#[utoipa::path(get, path = "/v1/models/{id}", tag = "openai", params(("id" = String, Path, description = "a model name, or whisper-1")),
    responses((status = 200, body = crate::openapi::ModelObject), (status = 404, description = "no such model", body = crate::openapi::OpenAiError), (status = 401, description = "no valid API key", body = crate::openapi::OpenAiError), (status = 503, description = "a dependency is not answering", body = crate::openapi::OpenAiError)))]
async fn get_model(State(jobs): State<Jobs>, Path(id): Path<String>) -> OpenAi {
    OpenAi(
        async {
            let installed = installed_models(&jobs).await?;
            let model = model_objects(&installed).into_iter().find(|m| m["id"] == id.as_str());
            let model = model.ok_or_else(|| ApiError::NotFound(format!("the model {id:?} does not exist")))?;
            Ok(Json(model).into_response())
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use steno_runtime::{
        models::WhisperModel,
        transcript::{Segment, Speaker, Word},
    };

    use super::*;

    fn transcript() -> Transcript {
        let word = |start_ms, end_ms, text: &str| Word { start_ms, end_ms, text: text.into(), ..Word::default() };
        Transcript {
            language: "en".into(),
            duration_ms: 2500,
            segments: vec![
                Segment {
                    start_ms: 0,
                    end_ms: 1200,
                    text: "Hello there.".into(),
                    words: vec![word(0, 500, "Hello"), word(500, 1200, "there.")],
                    speaker: Some("S1".into()),
                    tokens: vec![15496, 612, 13],
                    no_speech_prob: 0.01,
                    ..Segment::default()
                },
                Segment {
                    start_ms: 1300,
                    end_ms: 2400,
                    text: "Hi.".into(),
                    words: vec![word(1300, 2400, "Hi.")],
                    speaker: Some("S2".into()),
                    ..Segment::default()
                },
            ],
            speakers: vec![Speaker::numbered(0), Speaker { id: "S2".into(), name: "Ann".into() }],
            overlaps: Vec::new(),
        }
    }

    #[test]
    fn verbose_json_has_openai_fields_and_top_level_words() {
        let t = transcript();
        let body = verbose(&t, Shape { task: Task::Transcribe, words: true, segments: true });
        assert_eq!(body["task"], "transcribe");
        assert_eq!(body["language"], "english");
        assert_eq!(body["duration"], 2.5);
        assert_eq!(body["text"], "Hello there. Hi.");
        assert_eq!(body["words"][1], json!({ "word": "there.", "start": 0.5, "end": 1.2 }));
        let segment = &body["segments"][0];
        for field in [
            "id",
            "seek",
            "start",
            "end",
            "text",
            "tokens",
            "temperature",
            "avg_logprob",
            "compression_ratio",
            "no_speech_prob",
        ] {
            assert!(!segment[field].is_null(), "{field}");
        }
        assert_eq!(segment["tokens"], json!([15496, 612, 13]));
        assert_eq!(body["segments"][1]["seek"], 130);
        let words_only = verbose(&t, Shape { task: Task::Transcribe, words: true, segments: false });
        assert!(words_only.get("segments").is_none());
        let translated = verbose(&t, Shape { task: Task::Translate, words: false, segments: true });
        assert!(translated.get("words").is_none());
        assert_eq!(translated["language"], "english");
    }

    #[test]
    fn diarized_json_names_renamed_speakers() {
        let body = diarized_json(&transcript());
        assert_eq!(body["segments"][0]["type"], "transcript.text.segment");
        assert_eq!(body["segments"][0]["speaker"], "S1");
        assert_eq!(body["segments"][1]["speaker"], "Ann");
        assert_eq!(body["segments"][1]["start"], 1.3);
        assert_eq!(body["usage"], json!({ "type": "duration", "seconds": 3 }));
    }

    #[test]
    fn formats_and_granularities_are_checked() {
        assert!(ResponseFormat::parse(None, Task::Transcribe).is_ok_and(|f| f == ResponseFormat::Json));
        assert!(ResponseFormat::parse(Some("diarized_json"), Task::Translate).is_err());
        assert!(matches!(
            ResponseFormat::parse(Some("docx"), Task::Transcribe),
            Err(ApiError::Invalid { field: "response_format", .. })
        ));
    }

    #[test]
    fn whisper_1_is_listed_as_the_default() {
        let installed = WhisperModels {
            default: "tiny.en".into(),
            models: vec![
                WhisperModel { name: "base".into(), bytes: 1, created: 5 },
                WhisperModel { name: "tiny.en".into(), bytes: 1, created: 7 },
            ],
        };
        let ids: Vec<Value> = model_objects(&installed).iter().map(|m| m["id"].clone()).collect();
        assert_eq!(ids, [json!("whisper-1"), json!("base"), json!("tiny.en")]);
        assert_eq!(model_objects(&installed)[0]["created"], 7);
    }
}
