use std::process::ExitCode;

use steno_runtime::{bus::Bus, service};
use steno_transcribe::{Transcribe, answer_model_requests, gpu};

fn main() -> ExitCode {
    service::main("transcribe", |service| async move {
        gpu::init();
        let stage = Transcribe::new(&service.config.transcribe, service.config.worker.concurrency)?;
        let ops_addr = service.config.transcribe.ops_addr;
        let bus = Bus::connect(&service.config, service.name).await?;
        let listing = answer_model_requests(bus.client.clone(), service.config.transcribe.clone());
        tokio::spawn(async move {
            if let Err(e) = listing.await {
                tracing::warn!(error = format!("{e:#}"), "model listing requests are not answered");
            }
        });
        service::serve_stage_on(stage, bus, service, ops_addr).await
    })
}
