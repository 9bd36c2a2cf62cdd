use std::process::ExitCode;

use steno_gateway::startup::Application;
use steno_runtime::service;

fn main() -> ExitCode {
    service::main("gateway", |service| async move {
        let app = Application::build(service.config, service.registry, service.shutdown.clone()).await?;
        app.run_until_stopped(service.shutdown).await
    })
}
