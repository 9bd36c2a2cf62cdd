use std::process::ExitCode;

use steno_diarize::Diarize;
use steno_runtime::{bus::Bus, service, voices};

fn main() -> ExitCode {
    service::main("diarize", |service| async move {
        let bus = Bus::connect(&service.config, service.name).await?;
        // Without the bucket (a NATS account that does not grant it) jobs
        // are diarized all the same, their speakers left unnamed.
        let known = match voices::bucket(&bus.js, service.config.nats.replicas).await {
            Ok(store) => Some(store),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "known voices unavailable: no enrolment, no names");
                None
            }
        };
        let diarize = Diarize::with_voices(&service.config.diarize, known)?;
        let ops_addr = service.config.diarize.ops_addr;
        service::serve_stage_on(diarize, bus, service, ops_addr).await
    })
}
