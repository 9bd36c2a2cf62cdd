//! A stage task off the queue, as the worker reads it: decode, job id, the
//! route and the message id of the next task; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use steno_runtime::{JobId, proto::StageTask, stage::next_stage, subjects};

fuzz_target!(|data: &[u8]| {
    let Ok(task) = StageTask::decode(data) else { return };
    let Ok(job_id) = JobId::parse(&task.job_id) else { return };
    if let Some(next) = next_stage(task.stage(), task.options.as_ref()) {
        let _ = subjects::stage_msg_id(&job_id, next, task.attempt, task.part.as_ref().map(|p| p.index));
        let _ = subjects::stage_subject(next);
    }
    let _ = subjects::job_events_filter(&job_id);
});
