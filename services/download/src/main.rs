use std::process::ExitCode;

use steno_download::Download;
use steno_runtime::service;

fn main() -> ExitCode {
    service::main("download", |service| async move {
        let stage = Download::new(service.config.download.clone())?;
        let ops_addr = service.config.download.ops_addr;
        service::serve_stage(stage, service, ops_addr).await
    })
}
