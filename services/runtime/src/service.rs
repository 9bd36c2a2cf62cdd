//! What every service binary's `main` shares: arguments (`--config FILE`,
//! `--print-config`), config loading, telemetry, signal handling and exit
//! codes; plus [`serve_stage`], which runs a stage as a service.

use std::{future::Future, net::SocketAddr, path::PathBuf, process::ExitCode};

use tokio_util::sync::CancellationToken;

use crate::{bus::Bus, config::Config, ops, stage::Stage, telemetry, worker};

/// What a service's body gets.
pub struct Service {
    pub name: &'static str,
    pub config: Config,
    pub registry: prometheus::Registry,
    /// Fired on SIGTERM or Ctrl-C.
    pub shutdown: CancellationToken,
}

/// Runs a service binary: parses arguments, loads and validates config (a
/// bad key exits 2 naming it), starts telemetry and the runtime, and runs
/// `body` until it returns. Errors are logged once, here.
pub fn main<F, Fut>(name: &'static str, body: F) -> ExitCode
where
    F: FnOnce(Service) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let args = match parse_args(name) {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("steno-{name}: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("steno-{name}: {e}");
            return ExitCode::from(2);
        }
    };
    if args.print_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("steno-{name}: start tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let telemetry = match telemetry::init(name, &config.log, &config.tracing) {
            Ok(telemetry) => telemetry,
            Err(e) => {
                eprintln!("steno-{name}: start telemetry: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        let shutdown = shutdown_on_signal();
        let service = Service { name, config, registry: telemetry.registry.clone(), shutdown };
        match body(service).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "steno-{name} stopped");
                ExitCode::FAILURE
            }
        }
    })
}

/// Connects to NATS, starts the ops server on `ops_addr` and runs the
/// worker loop for `stage` until shutdown.
pub async fn serve_stage<S: Stage>(stage: S, service: Service, ops_addr: SocketAddr) -> anyhow::Result<()> {
    let bus = Bus::connect(&service.config, service.name).await?;
    serve_stage_on(stage, bus, service, ops_addr).await
}

/// [`serve_stage`] on a connection the service made (and uses for more).
pub async fn serve_stage_on<S: Stage>(
    stage: S,
    bus: Bus,
    service: Service,
    ops_addr: SocketAddr,
) -> anyhow::Result<()> {
    ops::serve(ops_addr, service.registry.clone(), ops::nats_ready(bus.clone()), service.shutdown.clone()).await?;
    worker::run(stage, bus, service.config.worker.clone(), service.shutdown).await
}

/// Set once the service serves its ops port (and may then take work).
/// Before that, while it loads a model say, a signal ends it at once:
/// it holds nothing to drain, and a slow load must not delay a stop.
pub(crate) static SERVING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A token fired by SIGTERM or SIGINT (or, before the service serves, an
/// immediate exit).
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return fire.cancel();
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        if !SERVING.load(std::sync::atomic::Ordering::SeqCst) {
            tracing::info!("shutdown requested while starting; exiting");
            std::process::exit(0);
        }
        tracing::info!("shutdown requested");
        fire.cancel();
    });
    token
}

struct Args {
    config: Option<PathBuf>,
    print_config: bool,
}

/// `None` when `--help` was answered.
fn parse_args(name: &str) -> Result<Option<Args>, String> {
    let mut args = Args { config: None, print_config: false };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--config" | "-c" => args.config = Some(iter.next().ok_or("--config needs a file")?.into()),
            "--print-config" => args.print_config = true,
            "--help" | "-h" => {
                println!(
                    "usage: steno-{name} [--config FILE] [--print-config]\n\nConfig: defaults, then config/steno.toml (or FILE), then STENO_<SECTION>__<KEY> environment variables."
                );
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(Some(args))
}
