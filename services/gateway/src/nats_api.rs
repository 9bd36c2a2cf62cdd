//! The NATS front doors: the `steno.jobs.submit` stream (JSON, for `nats
//! pub`) and the `steno.api.submit` micro service endpoint (for `nats req`,
//! answering with the job).

use std::time::Duration;

use async_nats::{jetstream::AckKind, service::ServiceExt};
use futures::StreamExt;
use steno_runtime::{
    JobId,
    bus::{Bus, DeadLetter},
    consume::{consume, durable},
    subjects,
};
use tokio_util::sync::CancellationToken;

use crate::{
    auth::Caller,
    error::ApiError,
    jobs::Jobs,
    store::JobRow,
    submission::{SubmitJson, Via},
    views::JobView,
};

/// Consumes `steno.jobs.submit` until shutdown. A submission carries its
/// API key as an `Authorization` header or an `api_key` field; one without
/// a valid key is counted, logged without its body and dead-lettered. A
/// malformed submission is recorded as a failed job with the reason (keyed
/// by `Nats-Msg-Id` when given, so a redelivery does not record it twice).
/// One that cannot be recorded now, or is over the tenant's limits, is
/// retried, up to `max_deliver`, then dead-lettered.
pub async fn consume_submissions(jobs: Jobs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let bus = jobs.bus.clone();
    consume(&bus, subjects::SUBMIT_STREAM, durable(subjects::SUBMIT_CONSUMER, 10), shutdown, |message| {
        let jobs = jobs.clone();
        async move {
            let header = |name| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
            let msg_id = header("Nats-Msg-Id").filter(|id| !id.contains('\0'));
            let (credential, spec) = read_submission(header("Authorization"), &message.payload);
            let caller = match jobs.authenticate(credential.as_deref()).await {
                Ok(caller) => caller,
                Err(ApiError::Unauthenticated) => {
                    let ack = match dead_letter_unauthenticated(&jobs.bus, &message).await {
                        Ok(()) => AckKind::Term,
                        Err(e) => {
                            tracing::warn!(error = format!("{e:#}"), "cannot dead-letter a submission; will retry");
                            AckKind::Nak(Some(Duration::from_secs(5)))
                        }
                    };
                    return (message, ack);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check a NATS submission's key; will retry");
                    return (message, AckKind::Nak(Some(Duration::from_secs(5))));
                }
            };
            let ack = match submit_json(&jobs, &caller, spec, msg_id.as_deref()).await {
                Ok(job) => {
                    tracing::info!(job_id = job.id, status = job.status.name(), "submission from NATS");
                    AckKind::Ack
                }
                Err(ApiError::TooManyRequests { retry_after_secs, .. }) => {
                    tracing::info!(
                        tenant = caller.tenant,
                        retry_after_secs,
                        "NATS submission over the tenant's limits"
                    );
                    AckKind::Nak(Some(Duration::from_secs(retry_after_secs)))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "submission from NATS could not be recorded; will retry");
                    AckKind::Nak(Some(Duration::from_secs(5)))
                }
            };
            (message, ack)
        }
    })
    .await
}

/// Copies a submission without a valid key to the dead letters (counted
/// there); its body is not logged.
async fn dead_letter_unauthenticated(bus: &Bus, message: &async_nats::jetstream::Message) -> anyhow::Result<()> {
    let info = message.info().map_err(|e| anyhow::anyhow!("message info: {e}"))?;
    let id = format!("unauthenticated-{}", info.stream_sequence);
    tracing::warn!(sequence = info.stream_sequence, "NATS submission without a valid API key dropped");
    bus.dead_letter(DeadLetter {
        source: subjects::DLQ_SUBMIT,
        id: &id,
        payload: message.payload.clone(),
        attempts: info.delivered,
        reason: "no valid API key: send it as an Authorization header or an api_key field",
        stream: subjects::SUBMIT_STREAM,
        sequence: info.stream_sequence,
        stranded: false,
    })
    .await
}

/// Splits a NATS submission into its credential (the `Authorization`
/// header, else the `api_key` field) and the job it asks for.
fn read_submission(header: Option<String>, payload: &[u8]) -> (Option<String>, Result<SubmitJson, ApiError>) {
    let invalid = |e: serde_json::Error| ApiError::BadRequest(format!("submission is not valid JSON for a job: {e}"));
    let mut fields = match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(payload) {
        Ok(fields) => fields,
        Err(e) => return (header, Err(invalid(e))),
    };
    let field = match fields.remove("api_key") {
        Some(serde_json::Value::String(key)) => Some(key),
        _ => None,
    };
    let spec = serde_json::from_value::<SubmitJson>(serde_json::Value::Object(fields)).map_err(invalid);
    (header.or(field), spec)
}

/// Creates a job from a JSON submission; an invalid one becomes a failed
/// job carrying the reason.
async fn submit_json(
    jobs: &Jobs,
    caller: &Caller,
    spec: Result<SubmitJson, ApiError>,
    msg_id: Option<&str>,
) -> Result<JobRow, ApiError> {
    let submitted = match spec {
        Ok(mut spec) => {
            spec.idempotency_key = spec.idempotency_key.or(msg_id.map(str::to_owned));
            jobs.submit_url(caller, &spec, Via::Nats).await.map(|(row, _)| row)
        }
        Err(e) => Err(e),
    };
    match submitted {
        Err(e @ (ApiError::BadRequest(_) | ApiError::Invalid { .. })) => {
            jobs.record_refused(caller, &JobId::generate(), msg_id, &format!("refused submission: {e}")).await
        }
        other => other,
    }
}

/// Serves `steno.api.submit` as a NATS micro service (`nats micro ls`
/// lists it) until shutdown. Replies with the job as JSON, or an error with
/// a status code (400, 401, 422, 429, 503).
pub async fn serve_requests(jobs: Jobs, bus: Bus, shutdown: CancellationToken) -> anyhow::Result<()> {
    let service = bus
        .client
        .service_builder()
        .description("steno transcription jobs")
        .start(subjects::SERVICE_NAME, env!("CARGO_PKG_VERSION"))
        .await
        .map_err(|e| anyhow::anyhow!("start NATS micro service: {e}"))?;
    let mut endpoint = service
        .group(subjects::SERVICE_GROUP)
        .endpoint(subjects::SERVICE_SUBMIT_ENDPOINT)
        .await
        .map_err(|e| anyhow::anyhow!("add micro endpoint: {e}"))?;
    loop {
        let request = tokio::select! {
            request = endpoint.next() => request,
            () = shutdown.cancelled() => return Ok(()),
        };
        let Some(request) = request else { anyhow::bail!("micro endpoint closed") };
        let header = request.message.headers.as_ref().and_then(|h| h.get("Authorization")).map(|v| v.to_string());
        let (credential, spec) = read_submission(header, &request.message.payload);
        let reply = match jobs.authenticate(credential.as_deref()).await {
            Ok(caller) => match spec {
                Ok(spec) => jobs.submit_url(&caller, &spec, Via::Nats).await.map(|(row, _)| row),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let response = match reply {
            Ok(row) => serde_json::to_vec(&JobView::from(row))
                .map(Into::into)
                .map_err(|e| micro_error(&ApiError::Internal(e.into()))),
            Err(e) => Err(micro_error(&e)),
        };
        if let Err(e) = request.respond(response).await {
            tracing::warn!(error = %e, "reply to micro request");
        }
    }
}

fn micro_error(e: &ApiError) -> async_nats::service::error::Error {
    async_nats::service::error::Error { status: e.public_message(), code: usize::from(e.http_status().as_u16()) }
}
