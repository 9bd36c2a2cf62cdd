use std::process::ExitCode;

use steno_diarize::Diarize;
use steno_runtime::service;

fn main() -> ExitCode {
    service::main("diarize", |service| async move {
        let ops_addr = service.config.diarize.ops_addr;
        service::serve_stage(Diarize, service, ops_addr).await
    })
}
