//! The dead-letter listener: JetStream reports a message that reached its
//! consumer's `max_deliver` (a worker killed during every attempt, a drain
//! that ran out on the last one, a failure that could not be recorded) or
//! was terminated, as an advisory; `STENO_ADVISORIES` keeps them, so none
//! is missed while no gateway runs. For each, the stranded message is copied
//! to `STENO_DLQ` with why, removed from its WorkQueue stream, and its job
//! gets a `failed` event a person can read. Workers dead-letter the tasks
//! they fail themselves (a terminated task is already gone from its stream).

use std::time::Duration;

use async_nats::jetstream::{AckKind, message::StreamMessage, stream};
use prost::Message as _;
use serde::Deserialize;
use steno_runtime::{
    JobId,
    bus::{Bus, DeadLetter, event},
    proto::{EventKind, JobEvent, Stage, StageTask},
    subjects::{self, Advisory},
};
use tokio_util::sync::CancellationToken;

use steno_runtime::consume::{consume, durable};

/// The fields of a MAX_DELIVERIES or MSG_TERMINATED advisory steno reads.
#[derive(Debug, Deserialize)]
struct AdvisoryBody {
    stream: String,
    stream_seq: u64,
    deliveries: i64,
}

pub async fn run(bus: Bus, shutdown: CancellationToken) -> anyhow::Result<()> {
    consume(&bus, subjects::ADVISORIES_STREAM, durable(subjects::DEAD_LETTER_CONSUMER, 20), shutdown, |message| {
        let bus = bus.clone();
        async move {
            let kind = subjects::advisory_kind(&message.subject);
            let body = serde_json::from_slice::<AdvisoryBody>(&message.payload);
            let ack = match (kind, body) {
                (Some(kind), Ok(body)) => match handle(&bus, kind, &body).await {
                    Ok(()) => AckKind::Ack,
                    Err(e) => {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            stream = body.stream,
                            "dead-letter failed; will retry"
                        );
                        AckKind::Nak(Some(Duration::from_secs(2)))
                    }
                },
                (_, body) => {
                    tracing::warn!(subject = %message.subject, ?body, "unexpected advisory dropped");
                    AckKind::Term
                }
            };
            (message, ack)
        }
    })
    .await
}

/// Dead-letters the message an advisory names, if it is still there.
async fn handle(bus: &Bus, kind: Advisory, advisory: &AdvisoryBody) -> anyhow::Result<()> {
    let stream = bus.js.get_stream_no_info(&advisory.stream).await?;
    let Some(message) = stranded(&stream, advisory.stream_seq).await? else {
        // Terminated from a WorkQueue stream (the worker dead-lettered it),
        // or already handled by another gateway.
        return Ok(());
    };
    let letter = |source, id, reason| DeadLetter {
        source,
        id,
        payload: message.payload.clone(),
        attempts: advisory.deliveries,
        reason,
        stream: &advisory.stream,
        sequence: advisory.stream_seq,
        stranded: kind == Advisory::MaxDeliveries,
    };
    if let Some(stage) = subjects::stage_of_stream(&advisory.stream) {
        let (job_id, attempt, tenant) = job_of(&message)?;
        let reason = stranded_reason(bus, stage, &job_id, attempt, advisory.deliveries).await;
        bus.dead_letter(letter(subjects::stage_name(stage), job_id.as_str(), &reason)).await?;
        let failed = JobEvent { attempt, tenant, message: reason, ..event(job_id.as_str(), EventKind::Failed, stage) };
        bus.publish_event(failed).await?;
    } else if advisory.stream == subjects::SUBMIT_STREAM {
        let reason = format!("the submission could not be recorded in {} attempts", advisory.deliveries);
        bus.dead_letter(letter(subjects::DLQ_SUBMIT, &advisory.stream_seq.to_string(), &reason)).await?;
    } else if advisory.stream == subjects::EVENTS_STREAM {
        let job = message.subject.split('.').nth(2).unwrap_or("unknown").to_owned();
        let reason = match kind {
            Advisory::MaxDeliveries => {
                format!("the ledger could not apply this event in {} attempts", advisory.deliveries)
            }
            Advisory::Terminated => "the ledger could not read this event".to_owned(),
        };
        bus.dead_letter(letter(subjects::DLQ_LEDGER, &job, &reason)).await?;
        // The events stream keeps history: the event stays there too.
        return Ok(());
    }
    stream.delete_message(advisory.stream_seq).await.map_err(|e| anyhow::anyhow!("remove stranded message: {e}"))?;
    Ok(())
}

/// The message at `sequence`, or `None` if it is gone.
async fn stranded(stream: &stream::Stream<()>, sequence: u64) -> anyhow::Result<Option<StreamMessage>> {
    match stream.get_raw_message(sequence).await {
        Ok(message) => Ok(Some(message)),
        Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("read stranded message {sequence}: {e}")),
    }
}

/// The job, attempt and tenant of a stage task, from its body (or only the
/// job, from its `Nats-Msg-Id`).
fn job_of(message: &StreamMessage) -> anyhow::Result<(JobId, u32, String)> {
    if let Ok(task) = StageTask::decode(message.payload.clone())
        && let Ok(job_id) = JobId::parse(&task.job_id)
    {
        return Ok((job_id, task.attempt, task.tenant));
    }
    let msg_id = message.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_owned()).unwrap_or_default();
    let job_id = subjects::job_id_from_msg_id(&msg_id)
        .ok_or_else(|| anyhow::anyhow!("stranded task {} names no job", message.sequence))?;
    Ok((job_id, 0, String::new()))
}

/// Why a task ran out of deliveries, for the job's user: the last error
/// the stage reported, or that it never finished an attempt (killed, out of
/// memory, aborted).
async fn stranded_reason(bus: &Bus, stage: Stage, job_id: &JobId, attempt: u32, deliveries: i64) -> String {
    let name = subjects::stage_name(stage);
    let last_error = async {
        let events = bus.js.get_stream_no_info(subjects::EVENTS_STREAM).await.ok()?;
        let subject = subjects::event_subject(job_id, EventKind::Retrying);
        let message = events.get_last_raw_message_by_subject(&subject).await.ok()?;
        let retrying = JobEvent::decode(message.payload).ok()?;
        (retrying.stage() == stage && retrying.attempt == attempt).then_some(retrying.message)
    };
    match last_error.await {
        Some(error) => format!("{name} gave up after {deliveries} attempts; the last error: {error}"),
        None => format!(
            "{name} stopped during every one of {deliveries} attempts (the worker was killed or crashed; see its logs)"
        ),
    }
}
