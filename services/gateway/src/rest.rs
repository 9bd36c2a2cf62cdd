//! The REST API (axum): submit, read, list and cancel jobs, follow their
//! events (Server-Sent Events), and fetch transcripts; it merges the
//! transcript, voice and OpenAI routes, and serves the web app and the
//! OpenAPI document. Every API route needs an API key (`Authorization:
//! Bearer`, or the web app's session cookie) and acts for its tenant; JSON
//! bodies are bounded at 64 KiB, uploads at `gateway.max_upload_bytes`.

use axum::{
    Extension, Json, Router,
    extract::{
        DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Multipart, Path, Query, Request, State,
        multipart::Field,
    },
    http::{StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use std::collections::BTreeMap;

use futures::{Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use steno_runtime::{JobId, artifacts, metrics};

use crate::{
    auth::Caller,
    error::ApiError,
    jobs::Jobs,
    search::{SearchPage, SearchParams},
    store::{JobRow, JobStatus},
    submission::{SubmitJson, Via},
    views::{EventView, JobView, content_type, parse_format},
    webhooks::WebhooksView,
};

/// Largest JSON body (a submission, a rename).
const MAX_JSON_BYTES: usize = 64 << 10;
/// Largest text field of a multipart upload.
const MAX_FIELD_BYTES: usize = 16 << 10;

pub fn router(jobs: Jobs, max_upload_bytes: u64) -> Router {
    let upload_limit = DefaultBodyLimit::max(usize::try_from(max_upload_bytes).unwrap_or(usize::MAX));
    Router::new()
        .route("/v1/jobs", post(submit).layer(upload_limit).get(list))
        .route("/v1/jobs/{id}", get(get_job).delete(delete_job))
        .route("/v1/jobs/{id}/cancel", post(cancel))
        .route("/v1/jobs/{id}/retry", post(retry))
        .route("/v1/jobs/{id}/speakers", get(speakers).patch(rename_speakers))
        .route("/v1/jobs/{id}/events", get(events))
        .route("/v1/jobs/{id}/{file}", get(transcript))
        .route("/v1/search", get(search))
        .route("/v1/jobs/{id}/webhooks", get(webhooks))
        .route("/v1/events", get(tenant_events))
        .route("/v1/session", get(session))
        .merge(crate::transcripts::routes())
        .merge(crate::voices::routes(max_upload_bytes))
        .route("/v1/webhooks/secret", get(webhook_secret).post(rotate_webhook_secret))
        .merge(crate::openai::routes(max_upload_bytes))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(middleware::from_fn_with_state(jobs.clone(), authenticate))
        .merge(crate::openapi::routes())
        .merge(crate::web::routes())
        .layer(middleware::from_fn(record_metrics))
        .with_state(jobs)
}

/// Resolves the request's API key (the `Authorization` header, else the
/// web app's session cookie) to the [`Caller`] the handlers act for; 401
/// without a valid one (in OpenAI's shape on its routes). A request the
/// cookie signs that changes anything must also carry the web app's CSRF
/// header (403 without).
async fn authenticate(State(jobs): State<Jobs>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let cookie = header.is_none().then(|| crate::web::session_key(headers)).flatten();
    if cookie.is_some() && !request.method().is_safe() && !crate::web::has_csrf_header(headers) {
        return ApiError::Forbidden(crate::web::CSRF_REFUSAL.into()).into_response();
    }
    match jobs.authenticate(header.or(cookie).as_deref()).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(e) if crate::openai::is_openai_path(request.uri().path()) => crate::openai::error_response(e),
        Err(e) => e.into_response(),
    }
}

/// Request count, latency and in-flight gauge, labelled by route template.
async fn record_metrics(route: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let route = route.map_or_else(|| "unmatched".to_owned(), |r| r.as_str().to_owned());
    let method = request.method().to_string();
    let clock = std::time::Instant::now();
    metrics::http_in_flight(1);
    let response = next.run(request).await;
    metrics::http_in_flight(-1);
    metrics::http_request(&method, &route, response.status().as_u16(), clock.elapsed().as_secs_f64());
    response
}

/// `POST /v1/jobs`: JSON `{source_url, language?, diarize?, formats?, model?,
/// job_id?, idempotency_key?}`, or multipart with the same fields as form
/// fields and the media as a `file` part (fields before the file).
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs",
    request_body(description = "JSON, or multipart/form-data with the same fields (formats and hotwords comma-separated) then a `file` part", content(
        (SubmitJson = "application/json"),
        (crate::openapi::UploadForm = "multipart/form-data"))),
    responses(
        (status = 201, description = "the new job", body = JobView),
        (status = 200, description = "the job this `job_id` or `idempotency_key` already made", body = JobView),
        (status = 400, description = "a malformed body", body = crate::openapi::ErrorBody),
        (status = 409, description = "the `job_id` is taken", body = crate::openapi::ErrorBody),
        (status = 413, description = "over the body limit", body = crate::openapi::ErrorBody),
        (status = 422, description = "an invalid field, named", body = crate::openapi::ErrorBody),
        (status = 429, description = "over the tenant's limits (see Retry-After)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn submit(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> Result<Response, ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (row, created) = if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &()).await.map_err(|e| ApiError::BadRequest(e.body_text()))?;
        submit_upload(&jobs, &caller, multipart).await?
    } else {
        // The route allows uploads; a JSON body is held to the JSON limit.
        let (parts, body) = request.into_parts();
        let too_large = |_| ApiError::TooLarge(format!("a JSON body may be at most {} KiB", MAX_JSON_BYTES >> 10));
        let body = axum::body::to_bytes(body, MAX_JSON_BYTES).await.map_err(too_large)?;
        let Json(spec) = Json::<SubmitJson>::from_request(Request::from_parts(parts, body.into()), &())
            .await
            .map_err(|e| ApiError::BadRequest(format!("request body: {}", e.body_text())))?;
        jobs.submit_url(&caller, &spec, Via::Rest).await?
    };
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let location = format!("/v1/jobs/{}", row.id);
    Ok((status, [(header::LOCATION, location)], Json(JobView::from(row))).into_response())
}

async fn submit_upload(jobs: &Jobs, caller: &Caller, mut multipart: Multipart) -> Result<(JobRow, bool), ApiError> {
    let result = read_upload(jobs, caller, &mut multipart).await;
    // An error, or an upload that repeats an existing job, answers before
    // the file is read while the client may still be sending it: read the
    // rest, so it gets the answer rather than a broken pipe.
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
    result
}

/// Reads the option fields up to the `file` part, then submits the file.
async fn read_upload(jobs: &Jobs, caller: &Caller, multipart: &mut Multipart) -> Result<(JobRow, bool), ApiError> {
    read_form(multipart, async |spec: SubmitJson, file: Field<'_>| {
        let filename = file.file_name().unwrap_or("upload").to_owned();
        let mut media = tokio_util::io::StreamReader::new(file.map_err(std::io::Error::other));
        jobs.submit_upload(caller, &spec, &filename, &mut media, Via::Rest).await
    })
    .await
}

/// The multipart reader: the option fields before the `file` part, then
/// `on_file` with them and that part (unread). Unknown fields, text fields
/// over [`MAX_FIELD_BYTES`], unparsable values and a form without a file
/// are refused, naming the field.
pub async fn read_form<R>(
    multipart: &mut Multipart,
    on_file: impl AsyncFnOnce(SubmitJson, Field<'_>) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let mut spec = SubmitJson::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|e| ApiError::BadRequest(e.body_text()))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            return on_file(spec, field).await;
        }
        let value = text_field(&mut field).await?;
        match name.as_str() {
            "language" => spec.language = Some(value),
            "model" => spec.model = Some(value),
            "job_id" => spec.job_id = Some(value),
            "idempotency_key" => spec.idempotency_key = Some(value),
            "diarize" => spec.diarize = Some(parse_field("diarize", &value)?),
            "formats" => spec.formats = Some(comma_list(&value)),
            "hotwords" => spec.hotwords = Some(comma_list(&value)),
            "initial_prompt" => spec.initial_prompt = Some(value),
            "beam_size" => spec.beam_size = Some(parse_field("beam_size", &value)?),
            "temperature" => spec.temperature = Some(parse_field("temperature", &value)?),
            "translate" => spec.translate = Some(parse_field("translate", &value)?),
            "word_timestamps" => spec.word_timestamps = Some(parse_field("word_timestamps", &value)?),
            "num_speakers" => spec.num_speakers = Some(parse_field("num_speakers", &value)?),
            "min_speakers" => spec.min_speakers = Some(parse_field("min_speakers", &value)?),
            "max_speakers" => spec.max_speakers = Some(parse_field("max_speakers", &value)?),
            "webhook_url" => spec.webhook_url = Some(value),
            other => return Err(ApiError::invalid("multipart", format!("unknown field {other:?}"))),
        }
    }
    Err(ApiError::invalid("file", "a multipart upload needs a `file` part (after the option fields)"))
}

/// A multipart text field, at most [`MAX_FIELD_BYTES`].
pub async fn text_field(field: &mut Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| ApiError::BadRequest(e.body_text()))? {
        if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(ApiError::TooLarge(format!("multipart field {name:?} is over {} KiB", MAX_FIELD_BYTES >> 10)));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| ApiError::BadRequest(format!("multipart field {name:?} is not UTF-8 text")))
}

/// The `{id}` of a job route, parsed once: an id that cannot be a job's is
/// answered as a job that does not exist.
struct JobPath(JobId);

impl<S: Send + Sync> FromRequestParts<S> for JobPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) =
            Path::<String>::from_request_parts(parts, state).await.map_err(|e| ApiError::BadRequest(e.body_text()))?;
        ApiError::job_id(&id).map(Self)
    }
}

fn comma_list(value: &str) -> Vec<String> {
    value.split(',').map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect()
}

fn parse_field<T: std::str::FromStr>(field: &'static str, value: &str) -> Result<T, ApiError> {
    value.trim().parse().map_err(|_| ApiError::invalid(field, format!("{value:?} is not a valid value")))
}

#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "the job id")),
    responses((status = 200, body = JobView), (status = 404, description = "no such job", body = crate::openapi::ErrorBody), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn get_job(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    JobPath(id): JobPath,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(jobs.get(&caller, &id).await?.into()))
}

/// `DELETE /v1/jobs/{id}`: the job, its artifacts and its events, now; 204.
#[utoipa::path(delete, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "the job id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such job", body = crate::openapi::ErrorBody), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn delete_job(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    JobPath(id): JobPath,
) -> Result<StatusCode, ApiError> {
    jobs.delete(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `queued`, `running`, `completed`, `failed` or `cancelled`.
    status: Option<String>,
    /// Jobs per page (default `gateway.default_page_size`, at most 500).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /v1/jobs?status=&limit=&cursor=`: newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(ListQuery),
    responses(
        (status = 200, body = crate::openapi::JobList),
        (status = 400, description = "a malformed query", body = crate::openapi::ErrorBody),
        (status = 422, description = "an invalid status, limit or cursor", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn list(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = match query.status.as_deref() {
        None => None,
        Some(name) => Some(JobStatus::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = JobStatus::ALL.iter().map(|s| s.name()).collect();
            ApiError::invalid("status", format!("{name:?} is not one of {}", names.join(", ")))
        })?),
    };
    let page = jobs.list(&caller, status, query.limit, query.cursor.as_deref()).await?;
    let views: Vec<JobView> = page.jobs.into_iter().map(JobView::from).collect();
    Ok(Json(serde_json::json!({ "jobs": views, "next_cursor": page.next_cursor })))
}

#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path, description = "the job id")),
    responses((status = 200, body = JobView), (status = 404, description = "no such job", body = crate::openapi::ErrorBody),
        (status = 409, description = "the job has finished", body = crate::openapi::ErrorBody), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn cancel(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    JobPath(id): JobPath,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(jobs.cancel(&caller, &id).await?.into()))
}

/// `POST /v1/jobs/{id}/retry`: a failed job again, from the stage that failed.
#[utoipa::path(post, path = "/v1/jobs/{id}/retry", tag = "jobs", params(("id" = String, Path, description = "the job id")),
    responses((status = 200, body = JobView), (status = 404, description = "no such job", body = crate::openapi::ErrorBody),
        (status = 409, description = "the job is not failed", body = crate::openapi::ErrorBody), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn retry(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    JobPath(id): JobPath,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(jobs.retry(&caller, &id).await?.into()))
}

/// `GET /v1/jobs/{id}/speakers`: `{"speakers": [{"id": "S1", "name": "Speaker 1"}, …]}`.
#[utoipa::path(get, path = "/v1/jobs/{id}/speakers", tag = "speakers", params(("id" = String, Path, description = "the job id")),
    responses((status = 200, body = crate::openapi::SpeakerList), (status = 404, description = "no such job", body = crate::openapi::ErrorBody),
        (status = 409, description = "not completed, or not diarized", body = crate::openapi::ErrorBody), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn speakers(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    JobPath(id): JobPath,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(serde_json::json!({ "speakers": jobs.speakers(&caller, &id).await? })))
}

/// `PATCH /v1/jobs/{id}/speakers` with `{"S1": "Ann", "S2": "Bob"}`; an
/// empty name restores the default. Answers as `GET`.
#[utoipa::path(patch, path = "/v1/jobs/{id}/speakers", tag = "speakers", params(("id" = String, Path, description = "the job id")),
    request_body(content = BTreeMap<String, String>, description = "speaker id → name; empty restores the default"),
    responses((status = 200, body = crate::openapi::SpeakerList), (status = 400, description = "a malformed body", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such job", body = crate::openapi::ErrorBody),
        (status = 409, description = "not completed, or not diarized", body = crate::openapi::ErrorBody),
        (status = 422, description = "an unknown speaker or an invalid name", body = crate::openapi::ErrorBody), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn rename_speakers(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    JobPath(id): JobPath,
    body: Result<Json<BTreeMap<String, String>>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(names) = body.map_err(|e| ApiError::BadRequest(format!("request body: {}", e.body_text())))?;
    Ok(Json(serde_json::json!({ "speakers": jobs.rename_speakers(&caller, &id, &names).await? })))
}

/// `GET /v1/jobs/{id}/events`: the job's events as Server-Sent Events
/// (`id` the event's sequence number, `event` its kind, `data` its JSON),
/// every one so far, then live ones, ending after the terminal one. A
/// `Last-Event-ID` header resumes after that event.
#[utoipa::path(get, path = "/v1/jobs/{id}/events", tag = "jobs",
    params(("id" = String, Path, description = "the job id"), ("Last-Event-ID" = Option<u64>, Header, description = "resume after this event")),
    responses((status = 200, description = "Server-Sent Events", content_type = "text/event-stream", body = crate::openapi::JobEventStream),
        (status = 404, description = "no such job", body = crate::openapi::ErrorBody),
        (status = 422, description = "a Last-Event-ID that is not a number", body = crate::openapi::ErrorBody),
        (status = 429, description = "too many open event streams", body = crate::openapi::ErrorBody), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn events(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    JobPath(id): JobPath,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    let stream = jobs.events(&caller, &id, last_event_id(&headers)?).await?.map(sse_event);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `GET /v1/events`: the progress events of every job of the caller's
/// tenant, from now (or after `Last-Event-ID`) on, as Server-Sent Events
/// shaped as a job's; the stream does not end. Transcribed text and
/// webhook attempts are left out (a job's own stream has them).
#[utoipa::path(get, path = "/v1/events", tag = "jobs",
    params(("Last-Event-ID" = Option<u64>, Header, description = "resume after this event")),
    responses((status = 200, description = "Server-Sent Events, one per job event", content_type = "text/event-stream", body = crate::openapi::JobEventStream),
        (status = 422, description = "a Last-Event-ID that is not an event's", body = crate::openapi::ErrorBody),
        (status = 429, description = "too many event streams open", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn tenant_events(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    let stream = jobs.tenant_events(&caller, last_event_id(&headers)?).await?;
    Ok(Sse::new(stream.map(sse_event)).keep_alive(KeepAlive::default()))
}

/// The `Last-Event-ID` header, a number.
fn last_event_id(headers: &axum::http::HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else { return Ok(None) };
    let id = value.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok());
    id.map(Some)
        .ok_or_else(|| ApiError::invalid("Last-Event-ID", "must be the id (a number) of an event this stream sent"))
}

/// One job event as a Server-Sent Event.
fn sse_event(
    event: Result<(u64, steno_runtime::proto::JobEvent), ApiError>,
) -> Result<Event, std::convert::Infallible> {
    Ok(match event {
        Ok((sequence, event)) => {
            let view = EventView::new(sequence, &event);
            let data = serde_json::to_string(&view).unwrap_or_default();
            Event::default().id(sequence.to_string()).event(view.kind).data(data)
        }
        Err(e) => Event::default().event("error").data(serde_json::json!({ "error": e.to_string() }).to_string()),
    })
}

/// Who the request's key (or session) acts for.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub tenant: String,
    pub admin: bool,
    /// Whether the gateway asks for keys (`gateway.auth`); without, there is no signing in.
    pub keys_required: bool,
}

/// `GET /v1/session`: the tenant the credential acts for.
#[utoipa::path(get, path = "/v1/session", tag = "keys",
    responses((status = 200, body = SessionView), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "the ledger is not answering", body = crate::openapi::ErrorBody)))]
async fn session(State(jobs): State<Jobs>, Extension(caller): Extension<Caller>) -> Json<SessionView> {
    Json(SessionView { tenant: caller.tenant, admin: caller.admin, keys_required: jobs.auth.keys_required() })
}

/// `GET /v1/search?q=&speaker=&job=&language=&limit=&cursor=`: matching
/// segments of the caller's transcripts, best first.
#[utoipa::path(get, path = "/v1/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, description = "a malformed query", body = crate::openapi::ErrorBody),
        (status = 422, description = "an invalid q, limit or cursor", body = crate::openapi::ErrorBody), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn search(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchPage>, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    Ok(Json(jobs.search(&caller, &params).await?))
}

/// `GET /v1/jobs/{id}/webhooks`: the job's webhook URL and every delivery attempt.
#[utoipa::path(get, path = "/v1/jobs/{id}/webhooks", tag = "webhooks", params(("id" = String, Path, description = "the job id")),
    responses((status = 200, body = WebhooksView), (status = 404, description = "no such job", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn webhooks(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    JobPath(id): JobPath,
) -> Result<Json<WebhooksView>, ApiError> {
    Ok(Json(jobs.webhooks(&caller, &id).await?))
}

/// `GET /v1/webhooks/secret`: the tenant's signing secret (`whsec_…`), made on first use.
#[utoipa::path(get, path = "/v1/webhooks/secret", tag = "webhooks",
    responses((status = 200, body = crate::openapi::WebhookSecret),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn webhook_secret(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(serde_json::json!({ "secret": jobs.webhook_secret(&caller, false).await? })))
}

/// `POST /v1/webhooks/secret`: a new signing secret for the tenant.
#[utoipa::path(post, path = "/v1/webhooks/secret", tag = "webhooks",
    responses((status = 200, body = crate::openapi::WebhookSecret),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn rotate_webhook_secret(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(serde_json::json!({ "secret": jobs.webhook_secret(&caller, true).await? })))
}

/// `GET /v1/jobs/{id}/transcript.{srt,vtt,json,txt,pdf}` and `…/speakers.rttm`
#[utoipa::path(get, path = "/v1/jobs/{id}/{file}", tag = "jobs",
    params(("id" = String, Path, description = "the job id"), ("file" = String, Path, description = "transcript.srt, transcript.vtt, transcript.json, transcript.txt, transcript.pdf or speakers.rttm")),
    responses((status = 200, description = "the file", content(
            (String = "application/x-subrip"), (String = "text/vtt"), (String = "application/json"), (String = "text/plain"), (Vec<u8> = "application/pdf"))),
        (status = 404, description = "no such job or file", body = crate::openapi::ErrorBody),
        (status = 409, description = "not completed (or not diarized, for speakers.rttm)", body = crate::openapi::ErrorBody), (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody), (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
async fn transcript(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = ApiError::job_id(&id)?;
    if file == artifacts::SPEAKERS_RTTM {
        let turns = jobs.speaker_turns(&caller, &id).await?;
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], turns).into_response());
    }
    let format = file.strip_prefix("transcript.").and_then(parse_format).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no such resource {file:?}; use transcript.srt, .vtt, .json, .txt or .pdf, or speakers.rttm"
        ))
    })?;
    let body = jobs.transcript(&caller, &id, format).await?;
    Ok(([(header::CONTENT_TYPE, content_type(format))], body).into_response())
}
