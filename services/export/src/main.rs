use std::process::ExitCode;

use steno_export::Export;
use steno_runtime::service;

fn main() -> ExitCode {
    service::main("export", |service| async move {
        let stage = Export::new(&service.config.export);
        let ops_addr = service.config.export.ops_addr;
        service::serve_stage(stage, service, ops_addr).await
    })
}
