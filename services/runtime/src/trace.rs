//! W3C trace context across NATS: the current span's context goes into a
//! message's `traceparent` header when publishing, and a received message's
//! header becomes the parent of the span that handles it. One job is one
//! trace, from the gateway through every stage.

use async_nats::HeaderMap;
use opentelemetry::{
    global,
    propagation::{Extractor, Injector},
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Adds the current span's context (`traceparent`, `tracestate`) to `headers`.
pub fn inject_current(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&context, &mut HeaderInjector(headers)));
}

/// Makes the context in `headers` (if any) the parent of `span`.
pub fn set_parent_from(span: &tracing::Span, headers: Option<&HeaderMap>) {
    let Some(headers) = headers else { return };
    let context = global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)));
    if let Err(e) = span.set_parent(context) {
        tracing::debug!(error = ?e, "set span parent");
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| <async_nats::HeaderName as AsRef<str>>::as_ref(name)).collect()
    }
}
