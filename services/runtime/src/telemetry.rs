//! Logs (tracing, readable or JSON), traces (a span per stage task, W3C
//! `traceparent` carried in NATS headers by [`crate::trace`], exported over
//! OTLP when `tracing.otlp_endpoint` is set) and metrics (OpenTelemetry
//! meters read by a Prometheus exporter, served at `/metrics` by
//! [`crate::ops`]).

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_sdk::{
    Resource, metrics::SdkMeterProvider, propagation::TraceContextPropagator, trace::SdkTracerProvider,
};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, TracingConfig};

/// Keeps the providers alive; flushes them when dropped.
pub struct Telemetry {
    pub registry: prometheus::Registry,
    meters: SdkMeterProvider,
    tracer: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.tracer.shutdown() {
            tracing::debug!(error = %e, "tracer provider shutdown");
        }
        if let Err(e) = self.meters.shutdown() {
            tracing::debug!(error = %e, "meter provider shutdown");
        }
    }
}

/// Installs logs, the global tracer and meter providers and the trace
/// context propagator for `service`.
pub fn init(service: &str, log: &LogConfig, tracing_config: &TracingConfig) -> anyhow::Result<Telemetry> {
    let resource = Resource::builder().with_service_name(format!("steno-{service}")).build();
    let tracer = tracer_provider(tracing_config, resource.clone())?;
    global::set_text_map_propagator(TraceContextPropagator::new());
    global::set_tracer_provider(tracer.clone());
    let spans = tracing_opentelemetry::layer().with_tracer(tracer.tracer("steno"));

    let filter = EnvFilter::try_new(&log.level).map_err(|e| anyhow::anyhow!("log.level {:?}: {e}", log.level))?;
    let subscriber = tracing_subscriber::registry().with(filter).with(spans);
    let installed = if log.format == "json" {
        subscriber.with(fmt::layer().json().with_current_span(false)).try_init()
    } else {
        // Colours only on a terminal: not in log files (`steno up` writes them).
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        subscriber.with(fmt::layer().with_writer(std::io::stderr).with_ansi(ansi)).try_init()
    };
    // A second init in one process (tests) keeps the first subscriber.
    if let Err(e) = installed {
        tracing::debug!(error = %e, "log subscriber already installed");
    }

    let registry = prometheus::Registry::new();
    let exporter =
        opentelemetry_prometheus::exporter().with_registry(registry.clone()).scope_info_enabled(false).build()?;
    let meters = SdkMeterProvider::builder().with_reader(exporter).with_resource(resource).build();
    global::set_meter_provider(meters.clone());
    crate::metrics::record_build_info(service);
    Ok(Telemetry { registry, meters, tracer })
}

/// Spans always get trace ids (so context crosses NATS); they leave the
/// process only when an OTLP endpoint is configured.
fn tracer_provider(config: &TracingConfig, resource: Resource) -> anyhow::Result<SdkTracerProvider> {
    let builder = SdkTracerProvider::builder().with_resource(resource);
    if config.otlp_endpoint.is_empty() {
        return Ok(builder.build());
    }
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(&config.otlp_endpoint)
        .build()
        .map_err(|e| anyhow::anyhow!("tracing.otlp_endpoint {:?}: {e}", config.otlp_endpoint))?;
    Ok(builder.with_batch_exporter(exporter).build())
}
