//! steno-download: fetches a job's source URL (http/https) into the artifact
//! store as `source`, streaming, with a size cap and timeouts. [`policy`]
//! refuses non-public addresses after DNS resolution.

pub use steno_runtime::address_policy as policy;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::{StreamExt, TryStreamExt};
use reqwest::{StatusCode, header};
use steno_runtime::{
    artifacts,
    config::DownloadConfig,
    metrics,
    proto::{Stage as StageKind, StageTask},
    stage::{JobContext, Output, Stage, StageError},
};
use url::Url;

use crate::policy::Network;

pub struct Download {
    config: DownloadConfig,
    allowed: Vec<Network>,
}

impl Download {
    /// Fails when `allow_networks` holds something that is not an address or network.
    pub fn new(config: DownloadConfig) -> anyhow::Result<Self> {
        let allowed = policy::networks(&config.allow_networks)?;
        Ok(Self { config, allowed })
    }

    /// Resolves `url`'s host and checks every address against the policy;
    /// returns the address to connect to.
    async fn resolve(&self, url: &Url) -> Result<SocketAddr, StageError> {
        policy::resolve(url, &self.allowed).await.map_err(|e| match e {
            policy::Unreachable::Lookup(why) => StageError::Retryable(anyhow::anyhow!(why)),
            policy::Unreachable::Refused(why) => StageError::permanent(why),
        })
    }

    /// Sends a GET pinned to the checked address; follows redirects itself
    /// so each hop is checked too.
    async fn get(&self, mut url: Url) -> Result<reqwest::Response, StageError> {
        for _ in 0..=self.config.max_redirects {
            check_scheme(&url)?;
            let addr = self.resolve(&url).await?;
            let host = url.host_str().unwrap_or_default().to_owned();
            // No proxy from the environment: the connection must go to the
            // address just checked, not wherever a proxy would take it.
            let client = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(self.config.connect_timeout_secs))
                .timeout(Duration::from_secs(self.config.timeout_secs))
                .user_agent(concat!("steno/", env!("CARGO_PKG_VERSION")))
                .resolve(&host, addr)
                .build()
                .map_err(|e| anyhow::anyhow!("build HTTP client: {e}"))?;
            let response = client.get(url.clone()).send().await.map_err(|e| {
                StageError::Retryable(anyhow::anyhow!("request to {} failed: {}", redacted(&url), error_chain(&e)))
            })?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| StageError::permanent("the source URL redirected without a Location"))?;
            url = url.join(location).map_err(|e| StageError::permanent(format!("bad redirect target: {e}")))?;
        }
        Err(StageError::permanent(format!("the source URL redirected more than {} times", self.config.max_redirects)))
    }
}

impl Stage for Download {
    const KIND: StageKind = StageKind::Download;

    async fn process(&self, mut task: StageTask, ctx: &JobContext) -> Result<Output, StageError> {
        let clock = std::time::Instant::now();
        let url = Url::parse(&task.source_url)
            .map_err(|e| StageError::permanent(format!("the source URL is not valid: {e}")))?;
        let response = self.get(url.clone()).await?;
        check_status(response.status())?;
        if let Some(length) = response.content_length().filter(|len| *len > self.config.max_bytes) {
            return Err(too_large(length, self.config.max_bytes));
        }
        let html_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|t| t.to_str().ok())
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
        let total = response.content_length();
        let mut body = response.bytes_stream();
        let first = match body.next().await {
            Some(chunk) => chunk.map_err(|e| StageError::Retryable(anyhow::anyhow!("read body: {e}")))?,
            None => return Err(StageError::permanent("the source URL returned an empty body")),
        };
        if html_type || looks_like_html(&first) {
            return Err(StageError::permanent("the source URL returned an HTML page, not audio or video"));
        }

        let over_cap = Arc::new(AtomicBool::new(false));
        let (cap, flag, progress) = (self.config.max_bytes, over_cap.clone(), ctx.progress());
        let mut received = 0u64;
        let stream =
            futures::stream::iter([Ok(first)]).chain(body).map_err(std::io::Error::other).and_then(move |chunk| {
                received += chunk.len() as u64;
                if let Some(total) = total {
                    progress.report(received as f32 / total.max(1) as f32);
                }
                let result = if received > cap {
                    flag.store(true, Ordering::Relaxed);
                    Err(std::io::Error::other("size limit exceeded"))
                } else {
                    Ok(chunk)
                };
                futures::future::ready(result)
            });
        let mut reader = tokio_util::io::StreamReader::new(stream);
        let stored = ctx.artifacts.put_reader(&ctx.job_id, artifacts::SOURCE, &mut reader).await;
        let size = match stored {
            Ok(size) => size,
            Err(_) if over_cap.load(Ordering::Relaxed) => return Err(too_large(cap + 1, cap)),
            Err(e) => return Err(StageError::Retryable(e.context(format!("download {}", redacted(&url))))),
        };
        metrics::downloaded(size, clock.elapsed().as_secs_f64());
        tracing::info!(bytes = size, "downloaded source");
        task.artifacts.get_or_insert_default().source = artifacts::SOURCE.to_owned();
        Ok(task.into())
    }
}

fn check_scheme(url: &Url) -> Result<(), StageError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(StageError::permanent(format!("only http and https URLs are supported (got {other}:)"))),
    }
}

/// 2xx passes; 408, 429 and 5xx may pass later; any other status is final.
fn check_status(status: StatusCode) -> Result<(), StageError> {
    let described = format!("the source URL returned HTTP {status}");
    match status {
        s if s.is_success() => Ok(()),
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
            Err(StageError::Retryable(anyhow::anyhow!(described)))
        }
        s if s.is_server_error() => Err(StageError::Retryable(anyhow::anyhow!(described))),
        _ => Err(StageError::permanent(described)),
    }
}

fn too_large(size: u64, cap: u64) -> StageError {
    StageError::permanent(format!("the source is larger than the download limit ({size} > {cap} bytes)"))
}

fn looks_like_html(first: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&first[..first.len().min(512)]).trim_start().to_ascii_lowercase();
    head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || head.starts_with("<head")
        || head.starts_with("<body")
}

fn redacted(url: &Url) -> String {
    steno_runtime::redact::url(url.as_str())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_html_pages() {
        assert!(looks_like_html(b"  <!DOCTYPE html><html>"));
        assert!(looks_like_html(b"<html lang=en>"));
        assert!(!looks_like_html(b"RIFF\x00\x00WAVEfmt "));
        assert!(!looks_like_html(b"ID3\x04"));
    }

    #[test]
    fn statuses_map_to_retry_or_failure() {
        assert!(check_status(StatusCode::OK).is_ok());
        assert!(matches!(check_status(StatusCode::NOT_FOUND), Err(StageError::Permanent(_))));
        assert!(matches!(check_status(StatusCode::BAD_GATEWAY), Err(StageError::Retryable(_))));
        let Err(StageError::Permanent(e)) = check_status(StatusCode::NOT_FOUND) else { panic!("permanent") };
        assert!(e.to_string().contains("404"), "{e}");
    }

    #[test]
    fn only_http_schemes() {
        assert!(check_scheme(&Url::parse("https://x.org/a.mp3").expect("url")).is_ok());
        assert!(check_scheme(&Url::parse("file:///etc/passwd").expect("url")).is_err());
    }

    /// With every proxy variable pointing at a closed port, a fetch still
    /// reaches the checked address itself: the pinned address is the one
    /// connected to.
    #[tokio::test]
    #[allow(unsafe_code)]
    async fn proxies_from_the_environment_are_ignored() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = [0u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut request).await;
            let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            let _ = tokio::io::AsyncWriteExt::write_all(&mut socket, response).await;
        });
        for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
            // SAFETY: the only test of this crate that touches the
            // environment; the others read none of it.
            unsafe { std::env::set_var(var, "http://127.0.0.1:9") };
        }
        let config = DownloadConfig { allow_networks: vec!["127.0.0.1".into()], ..DownloadConfig::default() };
        let download = Download::new(config).expect("download");
        let url = Url::parse(&format!("http://127.0.0.1:{port}/talk.wav")).expect("url");
        let response = download.get(url).await.map_err(|e| format!("{e:?}")).expect("fetched without the proxy");
        assert_eq!(response.status(), StatusCode::OK);
    }
}
