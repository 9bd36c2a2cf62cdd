//! Every NATS name steno uses: subjects, streams, consumers and buckets.
//! No other module builds a subject string.

use steno_proto::v1::{EventKind, Stage};

use crate::JobId;

/// Object store bucket holding every artifact as `<job_id>/<artifact>`.
pub const ARTIFACTS_BUCKET: &str = "steno-artifacts";
/// KV bucket of per-job flags (cancellation).
pub const JOBS_BUCKET: &str = "steno-jobs";

/// The stream JetStream keeps an object store bucket in.
pub fn object_store_stream(bucket: &str) -> String {
    format!("OBJ_{bucket}")
}

/// The subject an object's chunks are stored under (`nuid` from its info).
pub fn object_chunks_subject(bucket: &str, nuid: &str) -> String {
    format!("$O.{bucket}.C.{nuid}")
}

/// JSON submissions from outside (`nats pub steno.jobs.submit '{…}'`).
pub const SUBMIT_SUBJECT: &str = "steno.jobs.submit";
pub const SUBMIT_STREAM: &str = "STENO_SUBMIT";
/// Durable consumer of the submit stream, shared by gateway replicas.
pub const SUBMIT_CONSUMER: &str = "gateway-submit";

pub const EVENTS_STREAM: &str = "STENO_EVENTS";
pub const EVENTS_WILDCARD: &str = "steno.events.>";
/// Durable consumer the gateway writes the job ledger from.
pub const LEDGER_CONSUMER: &str = "gateway-ledger";

/// Request/reply: any transcriber answers with the whisper models it can
/// load ([`crate::models::WhisperModels`] as JSON).
pub const MODELS_SUBJECT: &str = "steno.transcribe.models";
/// Queue group of the transcribers answering [`MODELS_SUBJECT`] (one answers).
pub const MODELS_QUEUE: &str = "transcribe";

/// NATS micro service name and its request/reply endpoint group.
pub const SERVICE_NAME: &str = "steno";
pub const SERVICE_GROUP: &str = "steno.api";
/// Endpoint name under [`SERVICE_GROUP`]: `nats req steno.api.submit '{…}'`.
pub const SERVICE_SUBMIT_ENDPOINT: &str = "submit";

/// Tasks and events no consumer could finish: `steno.dlq.<source>.<id>`,
/// where the source is a stage (`transcribe`), `submit` or `ledger`, and the
/// id the job's (the submit stream's sequence for a submission without one).
/// Limits retention, so tools can read it; one message per job and source.
pub const DLQ_STREAM: &str = "STENO_DLQ";
pub const DLQ_WILDCARD: &str = "steno.dlq.>";
/// Dead-letter source names of the gateway's own consumers.
pub const DLQ_SUBMIT: &str = "submit";
pub const DLQ_LEDGER: &str = "ledger";

/// Headers of a dead letter: why, after how many deliveries, and where the
/// message was (its stream and sequence, also its `Nats-Msg-Id`).
pub const DLQ_HEADER_REASON: &str = "Steno-Reason";
pub const DLQ_HEADER_ATTEMPTS: &str = "Steno-Attempts";
pub const DLQ_HEADER_STREAM: &str = "Steno-Stream";
pub const DLQ_HEADER_SEQUENCE: &str = "Steno-Stream-Sequence";

/// `steno.dlq.<source>.<id>`
pub fn dead_letter_subject(source: &str, id: &str) -> String {
    format!("steno.dlq.{source}.{id}")
}

/// JetStream's advisories about steno's consumers, kept in a stream so a
/// stranded message is dead-lettered even if no gateway was up when the
/// server gave up on it.
pub const ADVISORIES_STREAM: &str = "STENO_ADVISORIES";
/// Durable consumer of [`ADVISORIES_STREAM`], shared by gateway replicas.
pub const DEAD_LETTER_CONSUMER: &str = "gateway-dead-letters";

/// Which advisory a subject of [`advisory_subjects`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advisory {
    /// A message reached the consumer's `max_deliver`: it stays in the stream.
    MaxDeliveries,
    /// A message was terminated (`AckKind::Term`): a WorkQueue stream drops it.
    Terminated,
}

const MAX_DELIVERIES_PREFIX: &str = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.";
const TERMINATED_PREFIX: &str = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.";

/// The advisory subjects of every steno stream's consumers.
pub fn advisory_subjects() -> Vec<String> {
    let streams = STAGES.iter().map(|s| stage_stream(*s)).chain([SUBMIT_STREAM.into(), EVENTS_STREAM.into()]);
    streams
        .flat_map(|stream| [format!("{MAX_DELIVERIES_PREFIX}{stream}.*"), format!("{TERMINATED_PREFIX}{stream}.*")])
        .collect()
}

/// What an advisory subject reports.
pub fn advisory_kind(subject: &str) -> Option<Advisory> {
    if subject.starts_with(MAX_DELIVERIES_PREFIX) {
        Some(Advisory::MaxDeliveries)
    } else if subject.starts_with(TERMINATED_PREFIX) {
        Some(Advisory::Terminated)
    } else {
        None
    }
}

/// The stage whose stream is `stream`, if it is a stage stream.
pub fn stage_of_stream(stream: &str) -> Option<Stage> {
    STAGES.into_iter().find(|s| stage_stream(*s) == stream)
}

/// The stages in route order.
pub const STAGES: [Stage; 5] = [Stage::Download, Stage::Transcode, Stage::Transcribe, Stage::Diarize, Stage::Export];

/// Lowercase stage name: consumer name, metric label, span name.
pub fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Unspecified => "unspecified",
        Stage::Download => "download",
        Stage::Transcode => "transcode",
        Stage::Transcribe => "transcribe",
        Stage::Diarize => "diarize",
        Stage::Export => "export",
    }
}

/// `steno.stage.<stage>`
pub fn stage_subject(stage: Stage) -> String {
    format!("steno.stage.{}", stage_name(stage))
}

/// `STENO_<STAGE>`
pub fn stage_stream(stage: Stage) -> String {
    format!("STENO_{}", stage_name(stage).to_uppercase())
}

/// Durable consumer shared by every replica of a stage: its name.
pub fn stage_consumer(stage: Stage) -> &'static str {
    stage_name(stage)
}

/// `Nats-Msg-Id` for a stage task: `<job_id>:<stage>:<attempt>`, and
/// `…:<part>` for one part of a split task.
pub fn stage_msg_id(job_id: &JobId, stage: Stage, attempt: u32, part: Option<u32>) -> String {
    match part {
        None => format!("{job_id}:{}:{attempt}", stage_name(stage)),
        Some(part) => format!("{job_id}:{}:{attempt}:{part}", stage_name(stage)),
    }
}

/// `Nats-Msg-Id` for an event that ends a stage or the job
/// (`<job_id>:<stage>:<attempt>:<kind>`), so that a delivery killed after
/// publishing it and redelivered publishes no second one within the
/// duplicate window (after it, the stage's hand-on mark stops it); `None`
/// for the others (progress, text and the like may repeat).
pub fn event_msg_id(job_id: &JobId, kind: EventKind, stage: Stage, attempt: u32) -> Option<String> {
    matches!(kind, EventKind::StageCompleted | EventKind::Completed | EventKind::Failed | EventKind::Cancelled)
        .then(|| format!("{job_id}:{}:{attempt}:{}", stage_name(stage), event_kind_name(kind)))
}

/// The job id inside a stage task's `Nats-Msg-Id`, for tasks whose body
/// cannot be decoded.
pub fn job_id_from_msg_id(msg_id: &str) -> Option<JobId> {
    msg_id.split(':').next().and_then(|id| JobId::parse(id).ok())
}

pub fn event_kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Unspecified => "unspecified",
        EventKind::Queued => "queued",
        EventKind::Started => "started",
        EventKind::Progress => "progress",
        EventKind::StageCompleted => "stage_completed",
        EventKind::Completed => "completed",
        EventKind::Failed => "failed",
        EventKind::Cancelled => "cancelled",
        EventKind::Retrying => "retrying",
        EventKind::Text => "text",
        EventKind::Webhook => "webhook",
    }
}

/// `steno.events.<job_id>.<kind>`
pub fn event_subject(job_id: &JobId, kind: EventKind) -> String {
    format!("steno.events.{job_id}.{}", event_kind_name(kind))
}

/// `steno.events.<job_id>.>`: every event of one job.
pub fn job_events_filter(job_id: &JobId) -> String {
    format!("steno.events.{job_id}.>")
}

/// Object name of an artifact of a job.
pub fn artifact_name(job_id: &JobId, artifact: &str) -> String {
    format!("{job_id}/{artifact}")
}

/// KV key recording which parts of a split stage task are done.
pub fn parts_key(job_id: &JobId, stage: Stage, attempt: u32) -> String {
    format!("{job_id}.parts.{}.{attempt}", stage_name(stage))
}

/// KV key recording that `stage` (of job attempt `attempt`) handed the job
/// on: its successor task, or the job's completion, was published.
pub fn handed_on_key(job_id: &JobId, stage: Stage, attempt: u32) -> String {
    format!("{job_id}.handed-on.{}.{attempt}", stage_name(stage))
}

/// The stream JetStream keeps a KV bucket in.
pub fn kv_stream(bucket: &str) -> String {
    format!("KV_{bucket}")
}

/// Every key of one job in the [`JOBS_BUCKET`], as a stream subject filter.
pub fn job_flags_filter(job_id: &JobId) -> String {
    format!("$KV.{JOBS_BUCKET}.{job_id}.>")
}

/// Every dead letter of one job, from any source.
pub fn job_dead_letters_filter(job_id: &JobId) -> String {
    format!("steno.dlq.*.{job_id}")
}

/// KV key (in [`JOBS_BUCKET`]) holding a job's webhook: its URL and tenant.
pub fn webhook_key(job_id: &JobId) -> String {
    format!("{job_id}.webhook")
}

/// KV bucket of each tenant's webhook signing secret (`whsec_…`), keyed by
/// tenant; written by the gateway, read by notify.
pub const WEBHOOK_SECRETS_BUCKET: &str = "steno-webhook-secrets";
/// KV bucket of the tenants' known voices (`<tenant>.<voice id>`, a
/// [`crate::voices::Voice`]): the gateway enrols and lists them, diarize
/// writes their prints and recognises them.
pub const VOICES_BUCKET: &str = "steno-voices";

/// Key of a tenant's known voice in [`VOICES_BUCKET`].
pub fn voice_key(tenant: &str, voice_id: &str) -> String {
    format!("{tenant}.{voice_id}")
}

/// Durable consumer notify delivers webhooks from, shared by its replicas.
pub const NOTIFY_CONSUMER: &str = "notify";

/// The events that end a job, which notify delivers.
pub fn terminal_event_filters() -> Vec<String> {
    [EventKind::Completed, EventKind::Failed, EventKind::Cancelled]
        .map(|kind| format!("steno.events.*.{}", event_kind_name(kind)))
        .to_vec()
}

/// KV key holding a job's cancellation flag.
pub fn cancel_key(job_id: &JobId) -> String {
    format!("{job_id}.cancelled")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_events_that_end_a_stage_or_the_job_are_deduplicated() {
        let id = JobId::parse("job-1").unwrap();
        let completed = event_msg_id(&id, EventKind::Completed, Stage::Export, 2);
        assert_eq!(completed.as_deref(), Some("job-1:export:2:completed"));
        assert_ne!(event_msg_id(&id, EventKind::StageCompleted, Stage::Transcode, 1), completed);
        assert_ne!(event_msg_id(&id, EventKind::Completed, Stage::Export, 3), completed, "a retry's own");
        assert_eq!(event_msg_id(&id, EventKind::Progress, Stage::Export, 2), None);
        assert_eq!(event_msg_id(&id, EventKind::Started, Stage::Export, 2), None);
    }

    #[test]
    fn msg_id_round_trips_job_id() {
        let id = JobId::parse("job-1").expect("valid id");
        let msg_id = stage_msg_id(&id, Stage::Transcode, 1, None);
        assert_eq!(msg_id, "job-1:transcode:1");
        assert_eq!(job_id_from_msg_id(&msg_id), Some(id.clone()));
        let part = stage_msg_id(&id, Stage::Transcribe, 1, Some(3));
        assert_eq!(part, "job-1:transcribe:1:3");
        assert_eq!(job_id_from_msg_id(&part), Some(id));
    }

    #[test]
    fn advisories_name_every_stream() {
        let subjects = advisory_subjects();
        assert_eq!(subjects.len(), 2 * (STAGES.len() + 2));
        assert!(subjects.contains(&"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.STENO_TRANSCRIBE.*".to_owned()));
        assert_eq!(
            advisory_kind("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.STENO_EVENTS.gateway-ledger"),
            Some(Advisory::Terminated)
        );
        assert_eq!(stage_of_stream("STENO_DIARIZE"), Some(Stage::Diarize));
        assert_eq!(stage_of_stream(EVENTS_STREAM), None);
    }

    #[test]
    fn stage_names_are_subject_and_stream_safe() {
        for stage in STAGES {
            assert_eq!(stage_subject(stage), format!("steno.stage.{}", stage_name(stage)));
            assert!(stage_stream(stage).starts_with("STENO_"));
        }
    }
}
