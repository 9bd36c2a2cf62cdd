//! Builds the gateway: binds the REST, gRPC and ops ports (0 picks a free
//! one, for tests), connects to Postgres and NATS, and runs every part until
//! shutdown.

use std::{net::SocketAddr, sync::Arc};

use steno_runtime::{
    bus::Bus,
    config::{AUTH_NONE, Config, GatewayConfig},
    ops, queue, subjects,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{dead_letters, grpc, janitor, jobs::Jobs, ledger, nats_api, outbox, rest, store::Store};

pub struct Application {
    http: TcpListener,
    grpc: TcpListener,
    ops_addr: SocketAddr,
    jobs: Jobs,
    bus: Bus,
    config: Config,
}

impl Application {
    pub async fn build(
        config: Config,
        registry: prometheus::Registry,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let store = Store::connect(&config.gateway.database_url).await?;
        let bus = Bus::connect(&config, "gateway").await?;
        refuse_open_listeners(&config.gateway)?;
        let jobs = Jobs::new(store.clone(), bus.clone(), &config);
        let http = bind(config.gateway.http_addr, "gateway.http_addr").await?;
        let grpc = bind(config.gateway.grpc_addr, "gateway.grpc_addr").await?;
        let ready = ready_check(bus.clone(), store);
        let ops_addr = ops::serve(config.gateway.ops_addr, registry, ready, shutdown).await?;
        Ok(Self { http, grpc, ops_addr, jobs, bus, config })
    }

    pub fn http_port(&self) -> u16 {
        self.http.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn grpc_port(&self) -> u16 {
        self.grpc.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn ops_port(&self) -> u16 {
        self.ops_addr.port()
    }

    /// Serves until `shutdown`; the first part to fail stops the rest.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(http = self.http_port(), grpc = self.grpc_port(), ops = self.ops_port(), "gateway listening");
        let router = rest::router(self.jobs.clone(), self.config.gateway.max_upload_bytes);
        let http = axum::serve(self.http, router).with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let grpc = tonic::transport::Server::builder()
            .add_service(grpc::service(self.jobs.clone(), self.config.gateway.grpc_max_message_bytes))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(self.grpc),
                shutdown.clone().cancelled_owned(),
            );
        let every = std::time::Duration::from_secs(self.config.worker.queue_depth_interval_secs.max(1));
        tokio::spawn(queue::sample(self.bus.js.clone(), subjects::STAGES.to_vec(), every, shutdown.clone()));
        let store = self.jobs.store.clone();
        let parts = async {
            tokio::try_join!(
                async { http.await.map_err(|e| anyhow::anyhow!("REST server: {e}")) },
                async { grpc.await.map_err(|e| anyhow::anyhow!("gRPC server: {e}")) },
                ledger::run(self.bus.clone(), store, shutdown.clone()),
                nats_api::consume_submissions(self.jobs.clone(), shutdown.clone()),
                nats_api::serve_requests(self.jobs.clone(), self.bus.clone(), shutdown.clone()),
                dead_letters::run(self.bus.clone(), shutdown.clone()),
                outbox::run(self.jobs.clone(), shutdown.clone()),
                janitor::run(self.jobs.clone(), self.config.retention.clone(), shutdown.clone()),
            )
        };
        // Open requests and watch streams get `worker.drain_secs` to finish.
        let deadline = std::time::Duration::from_secs(self.config.worker.drain_secs);
        tokio::select! {
            result = parts => { result?; }
            () = async { shutdown.cancelled().await; tokio::time::sleep(deadline).await } => {
                tracing::warn!(deadline_secs = deadline.as_secs(), "shutdown deadline passed; closing what is still open");
            }
        }
        Ok(())
    }
}

/// `gateway.auth = "none"` is allowed only when no one off this machine
/// can reach the API.
fn refuse_open_listeners(gateway: &GatewayConfig) -> anyhow::Result<()> {
    if gateway.auth == AUTH_NONE && !(gateway.http_addr.ip().is_loopback() && gateway.grpc_addr.ip().is_loopback()) {
        anyhow::bail!(
            "gateway.auth = \"none\" needs gateway.http_addr and gateway.grpc_addr on loopback (127.0.0.1); \
             they are {} and {}. Use API keys (`steno keys create`) to listen on a network",
            gateway.http_addr,
            gateway.grpc_addr
        );
    }
    Ok(())
}

async fn bind(addr: SocketAddr, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("{key}: cannot bind {addr}: {e}"))
}

/// Ready while NATS is connected and Postgres answers.
fn ready_check(bus: Bus, store: Store) -> ops::ReadyCheck {
    Arc::new(move || {
        let (connected, store) = (bus.is_connected(), store.clone());
        Box::pin(async move {
            if !connected {
                return Err("NATS is disconnected".to_owned());
            }
            store.ping().await.map_err(|e| format!("Postgres: {e}"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_keys_only_on_loopback() {
        let mut gateway = GatewayConfig { auth: AUTH_NONE.into(), ..GatewayConfig::default() };
        let refused = refuse_open_listeners(&gateway).expect_err("0.0.0.0 without keys");
        assert!(refused.to_string().contains("loopback"), "{refused}");
        gateway.http_addr = ([127, 0, 0, 1], 8080).into();
        assert!(refuse_open_listeners(&gateway).is_err(), "gRPC still open");
        gateway.grpc_addr = ([127, 0, 0, 1], 50051).into();
        assert!(refuse_open_listeners(&gateway).is_ok());
        let keys = GatewayConfig::default();
        assert!(refuse_open_listeners(&keys).is_ok(), "keys on any address");
    }
}
