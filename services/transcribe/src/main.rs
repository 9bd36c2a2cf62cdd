use std::process::ExitCode;

use steno_runtime::service;
use steno_transcribe::{Transcribe, gpu};

fn main() -> ExitCode {
    service::main("transcribe", |service| async move {
        gpu::init();
        let stage = Transcribe::new(&service.config.transcribe)?;
        let ops_addr = service.config.transcribe.ops_addr;
        service::serve_stage(stage, service, ops_addr).await
    })
}
