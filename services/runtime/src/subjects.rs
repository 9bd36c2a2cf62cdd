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

/// NATS micro service name and its request/reply endpoint group.
pub const SERVICE_NAME: &str = "steno";
pub const SERVICE_GROUP: &str = "steno.api";
/// Endpoint name under [`SERVICE_GROUP`]: `nats req steno.api.submit '{…}'`.
pub const SERVICE_SUBMIT_ENDPOINT: &str = "submit";

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

/// KV key holding a job's cancellation flag.
pub fn cancel_key(job_id: &JobId) -> String {
    format!("{job_id}.cancelled")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn stage_names_are_subject_and_stream_safe() {
        for stage in STAGES {
            assert_eq!(stage_subject(stage), format!("steno.stage.{}", stage_name(stage)));
            assert!(stage_stream(stage).starts_with("STENO_"));
        }
    }
}
