//! The ops HTTP server every service runs: `/healthz` (the process is up),
//! `/readyz` (its dependencies answer) and `/metrics` (Prometheus text).

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use prometheus::{Encoder, TextEncoder};
use tokio_util::sync::CancellationToken;

/// A readiness check: `Ok` when ready, else the reason.
pub type ReadyCheck = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Ops {
    registry: prometheus::Registry,
    ready: ReadyCheck,
}

/// Binds `addr` and serves until `shutdown`; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    registry: prometheus::Registry,
    ready: ReadyCheck,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    crate::service::SERVING.store(true, std::sync::atomic::Ordering::SeqCst);
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Ops { registry, ready });
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("bind ops server on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(e) = server.await {
            tracing::error!(error = %e, "ops server stopped");
        }
    });
    tracing::info!(addr = %bound, "ops server listening");
    Ok(bound)
}

/// Readiness of a service whose only dependency is NATS.
pub fn nats_ready(bus: crate::bus::Bus) -> ReadyCheck {
    Arc::new(move || {
        let connected = bus.is_connected();
        Box::pin(async move { if connected { Ok(()) } else { Err("NATS is disconnected".to_owned()) } })
    })
}

async fn readyz(State(ops): State<Ops>) -> impl IntoResponse {
    match (ops.ready)().await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}")),
    }
}

async fn metrics(State(ops): State<Ops>) -> impl IntoResponse {
    let mut body = Vec::new();
    match TextEncoder::new().encode(&ops.registry.gather(), &mut body) {
        Ok(()) => (StatusCode::OK, [("content-type", prometheus::TEXT_FORMAT)], body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, [("content-type", "text/plain")], e.to_string().into_bytes()),
    }
}
