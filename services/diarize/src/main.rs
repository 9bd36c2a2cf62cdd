use std::process::ExitCode;

use steno_diarize::Diarize;
use steno_runtime::service;

fn main() -> ExitCode {
    service::main("diarize", |service| async move {
        let diarize = Diarize::new(&service.config.diarize)?;
        let ops_addr = service.config.diarize.ops_addr;
        service::serve_stage(diarize, service, ops_addr).await
    })
}
