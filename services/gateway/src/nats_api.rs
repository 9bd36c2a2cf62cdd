//! The NATS front doors: the `steno.jobs.submit` stream (JSON, for `nats
//! pub`) and the `steno.api.submit` micro service endpoint (for `nats req`,
//! answering with the job).

use std::time::Duration;

use async_nats::{jetstream::AckKind, service::ServiceExt};
use futures::StreamExt;
use steno_runtime::{JobId, bus::Bus, subjects};
use tokio_util::sync::CancellationToken;

use crate::{
    consume::consume,
    error::ApiError,
    jobs::Jobs,
    store::JobRow,
    submission::{Source, SubmitJson, Via},
    views::JobView,
};

/// Consumes `steno.jobs.submit` until shutdown. A malformed submission is
/// recorded as a failed job with the reason (keyed by `Nats-Msg-Id` when
/// given, so a redelivery does not record it twice). One that cannot be
/// recorded is retried, up to `max_deliver`, then dead-lettered.
pub async fn consume_submissions(jobs: Jobs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let bus = jobs.bus.clone();
    consume(&bus, subjects::SUBMIT_STREAM, subjects::SUBMIT_CONSUMER, 10, shutdown, |message| {
        let jobs = jobs.clone();
        async move {
            let msg_id = message.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.as_str().to_owned());
            let msg_id = msg_id.filter(|id| !id.contains('\0'));
            let ack = match submit_json(&jobs, &message.payload, msg_id.as_deref()).await {
                Ok(job) => {
                    tracing::info!(job_id = job.id, status = job.status, "submission from NATS");
                    AckKind::Ack
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

/// Creates a job from a JSON submission; an invalid one becomes a failed
/// job carrying the reason.
async fn submit_json(jobs: &Jobs, payload: &[u8], msg_id: Option<&str>) -> Result<JobRow, ApiError> {
    let parsed = serde_json::from_slice::<SubmitJson>(payload)
        .map_err(|e| ApiError::BadRequest(format!("submission is not valid JSON for a job: {e}")))
        .and_then(|spec| {
            let mut submission = spec.validate()?;
            submission.idempotency_key = submission.idempotency_key.or(msg_id.map(str::to_owned));
            Ok((submission, spec.url()?))
        });
    match parsed {
        Ok((submission, url)) => jobs.create(submission, Source::Url(url), Via::Nats).await.map(|(row, _)| row),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Invalid { .. })) => {
            jobs.record_refused(&JobId::generate(), msg_id, &format!("refused submission: {e}")).await
        }
        Err(e) => Err(e),
    }
}

/// Serves `steno.api.submit` as a NATS micro service (`nats micro ls`
/// lists it) until shutdown. Replies with the job as JSON, or an error with
/// a status code (400, 422, 503).
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
        let reply = match serde_json::from_slice::<SubmitJson>(&request.message.payload) {
            Err(e) => Err(ApiError::BadRequest(format!("request is not valid JSON for a job: {e}"))),
            Ok(spec) => match spec.validate().and_then(|s| Ok((s, spec.url()?))) {
                Ok((submission, url)) => jobs.create(submission, Source::Url(url), Via::Nats).await.map(|(row, _)| row),
                Err(e) => Err(e),
            },
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
