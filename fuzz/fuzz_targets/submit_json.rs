//! A submission's JSON (REST body, `steno.jobs.submit`, `nats req`):
//! parsing and validation answer, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steno_gateway::submission::SubmitJson;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = serde_json::from_slice::<SubmitJson>(data) {
        if let Ok(submission) = spec.validate() {
            let _ = submission.id.as_str();
        }
        let _ = spec.url();
    }
});
