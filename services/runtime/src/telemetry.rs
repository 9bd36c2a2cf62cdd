//! Logs (tracing, readable or JSON) and metrics (OpenTelemetry meters read by
//! a Prometheus exporter, served at `/metrics` by [`crate::ops`]).

use opentelemetry_sdk::metrics::SdkMeterProvider;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogConfig;

/// Keeps the meter provider alive; flushes it when dropped.
pub struct Telemetry {
    pub registry: prometheus::Registry,
    provider: SdkMeterProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::debug!(error = %e, "meter provider shutdown");
        }
    }
}

/// Installs the log subscriber and the global meter provider for `service`.
pub fn init(service: &str, log: &LogConfig) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_new(&log.level).map_err(|e| anyhow::anyhow!("log.level {:?}: {e}", log.level))?;
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if log.format == "json" {
        registry.with(fmt::layer().json().with_current_span(false)).try_init()
    } else {
        registry.with(fmt::layer().with_writer(std::io::stderr)).try_init()
    };
    // A second init in one process (tests) keeps the first subscriber.
    if let Err(e) = installed {
        tracing::debug!(error = %e, "log subscriber already installed");
    }

    let registry = prometheus::Registry::new();
    let exporter =
        opentelemetry_prometheus::exporter().with_registry(registry.clone()).scope_info_enabled(false).build()?;
    let provider = SdkMeterProvider::builder()
        .with_reader(exporter)
        .with_resource(opentelemetry_sdk::Resource::builder().with_service_name(format!("steno-{service}")).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());
    crate::metrics::record_build_info(service);
    Ok(Telemetry { registry, provider })
}
