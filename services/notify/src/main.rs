use std::process::ExitCode;

use steno_runtime::{bus::Bus, ops, service};

fn main() -> ExitCode {
    service::main("notify", |service| async move {
        let bus = Bus::connect(&service.config, service.name).await?;
        let ready = ops::nats_ready(bus.clone());
        ops::serve(service.config.notify.ops_addr, service.registry.clone(), ready, service.shutdown.clone()).await?;
        steno_notify::run(bus, &service.config, service.shutdown).await
    })
}
