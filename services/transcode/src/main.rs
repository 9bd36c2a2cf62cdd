use std::process::ExitCode;

use steno_runtime::service;
use steno_transcode::Transcode;

fn main() -> ExitCode {
    service::main("transcode", |service| async move {
        let stage = Transcode::new(service.config.transcode.clone());
        let ops_addr = service.config.transcode.ops_addr;
        service::serve_stage(stage, service, ops_addr).await
    })
}
