//! steno-notify: delivers a job's webhook when it completes, fails or is
//! cancelled. A durable consumer of the terminal events in `STENO_EVENTS`
//! (shared by every replica), so a restart loses none: each event is acked
//! once delivered (2xx), refused (another 4xx or a 3xx, or an address the
//! policy refuses) or out of attempts, and otherwise redelivered by
//! JetStream after the next back-off. Requests follow the Standard Webhooks
//! specification, signed with the tenant's secret; every attempt is
//! published as a `webhook` event, which the gateway's ledger keeps.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{AckKind, Message, kv};
use base64::Engine as _;
use prost::Message as _;
use ring::hmac;
use steno_runtime::{
    JobId,
    address_policy::{self, Network, Unreachable},
    bus::Bus,
    config::{Config, NotifyConfig},
    consume::{consume, durable},
    proto::{EventKind, JobEvent, WebhookAttempt},
    subjects,
    webhook::{self, SECRET_PREFIX, Target},
};
use tokio_util::sync::CancellationToken;

/// Deliveries of one event beyond its attempts (a notify killed mid-attempt).
const SPARE_DELIVERIES: i64 = 5;

pub async fn run(bus: Bus, config: &Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let notifier = Arc::new(Notifier {
        allowed: address_policy::networks(&config.download.allow_networks)?,
        secrets: webhook::secrets(&bus.js, config.nats.replicas).await?,
        config: config.notify.clone(),
        bus: bus.clone(),
    });
    let consumer = async_nats::jetstream::consumer::pull::Config {
        filter_subjects: subjects::terminal_event_filters(),
        ..durable(subjects::NOTIFY_CONSUMER, i64::from(config.notify.max_attempts) + SPARE_DELIVERIES)
    };
    tracing::info!(max_attempts = config.notify.max_attempts, "delivering webhooks");
    consume(&bus, subjects::EVENTS_STREAM, consumer, shutdown, |message| {
        let notifier = notifier.clone();
        async move {
            let ack = notifier.handle(&message).await;
            (message, ack)
        }
    })
    .await
}

struct Notifier {
    bus: Bus,
    config: NotifyConfig,
    allowed: Vec<Network>,
    secrets: kv::Store,
}

/// How one attempt went.
struct Outcome {
    http_status: u16,
    delivered: bool,
    /// Worth trying again (timeout, no answer, 408, 429, 5xx).
    retry: bool,
    error: String,
}

impl Outcome {
    fn failed(retry: bool, error: String) -> Self {
        Self { http_status: 0, delivered: false, retry, error }
    }
}

impl Notifier {
    async fn handle(&self, message: &Message) -> AckKind {
        let number = message.info().map_or(1, |i| i.delivered).max(1) as u32;
        let Ok(event) = JobEvent::decode(message.payload.clone()) else {
            tracing::warn!(subject = %message.subject, "undecodable event; no webhook");
            return AckKind::Ack;
        };
        let Ok(job_id) = JobId::parse(&event.job_id) else { return AckKind::Ack };
        let target = match self.bus.flags.get(subjects::webhook_key(&job_id)).await {
            Ok(Some(bytes)) => match serde_json::from_slice::<Target>(&bytes) {
                Ok(target) => target,
                Err(e) => {
                    tracing::warn!(%job_id, error = %e, "unreadable webhook target; no webhook");
                    return AckKind::Ack;
                }
            },
            Ok(None) => return AckKind::Ack,
            Err(e) => {
                tracing::warn!(%job_id, error = %e, "cannot read the webhook target; trying again");
                return AckKind::Nak(Some(Duration::from_secs(5)));
            }
        };
        let outcome = self.deliver(&job_id, &event, &target).await;
        let last = outcome.delivered || !outcome.retry || number >= self.config.max_attempts;
        tracing::info!(
            %job_id, attempt = number, status = outcome.http_status, delivered = outcome.delivered, last,
            error = outcome.error, "webhook attempt"
        );
        let attempt = WebhookAttempt {
            number,
            http_status: u32::from(outcome.http_status),
            delivered: outcome.delivered,
            last,
            error: outcome.error,
            url: target.url,
        };
        let record = JobEvent {
            webhook: Some(attempt),
            tenant: target.tenant,
            attempt: event.attempt,
            ..steno_runtime::bus::event(job_id.as_str(), EventKind::Webhook, event.stage())
        };
        if let Err(e) = self.bus.publish_event(record).await {
            tracing::warn!(%job_id, error = format!("{e:#}"), "the webhook attempt was not recorded");
        }
        if last { AckKind::Ack } else { AckKind::Nak(Some(self.backoff(number))) }
    }

    /// The wait after attempt `number` failed.
    fn backoff(&self, number: u32) -> Duration {
        let waits = &self.config.backoff_secs;
        let index = (number as usize).saturating_sub(1).min(waits.len().saturating_sub(1));
        Duration::from_secs(waits.get(index).copied().unwrap_or(60))
    }

    async fn deliver(&self, job_id: &JobId, event: &JobEvent, target: &Target) -> Outcome {
        let secret = match self.secret(&target.tenant).await {
            Ok(secret) => secret,
            Err(e) => return Outcome::failed(true, format!("the tenant's signing secret is not readable: {e:#}")),
        };
        let url = match url::Url::parse(&target.url) {
            Ok(url) => url,
            Err(e) => return Outcome::failed(false, format!("the webhook URL is not valid: {e}")),
        };
        let addr = match address_policy::resolve(&url, &self.allowed).await {
            Ok(addr) => addr,
            Err(Unreachable::Lookup(why)) => return Outcome::failed(true, why),
            Err(Unreachable::Refused(why)) => return Outcome::failed(false, why),
        };
        let body = payload(job_id, event, &self.config.public_url).to_string();
        let id = format!("msg_{job_id}_{}_{}", subjects::event_kind_name(event.kind()), event.attempt);
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = sign(&secret, &id, &timestamp, &body);
        // No proxy and no redirects: the request goes to the address just checked.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(self.config.timeout_secs))
            .user_agent(concat!("steno-notify/", env!("CARGO_PKG_VERSION")))
            .resolve(url.host_str().unwrap_or_default(), addr)
            .build();
        let client = match client {
            Ok(client) => client,
            Err(e) => return Outcome::failed(true, format!("build HTTP client: {e}")),
        };
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Err(e) if e.is_timeout() => Outcome::failed(true, "the receiver did not answer in time".into()),
            Err(e) => Outcome::failed(true, format!("the request failed: {e}")),
            Ok(response) => {
                let status = response.status();
                let retry = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
                let error = if status.is_success() { String::new() } else { format!("the receiver answered {status}") };
                Outcome { http_status: status.as_u16(), delivered: status.is_success(), retry, error }
            }
        }
    }

    /// The tenant's secret's key bytes.
    async fn secret(&self, tenant: &str) -> anyhow::Result<Vec<u8>> {
        let stored = self.secrets.get(tenant).await?.ok_or_else(|| anyhow::anyhow!("tenant {tenant} has none"))?;
        let text = String::from_utf8(stored.to_vec())?;
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(&text);
        Ok(base64::engine::general_purpose::STANDARD.decode(encoded)?)
    }
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
fn sign(key: &[u8], id: &str, timestamp: &str, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag.as_ref()))
}

/// The body: `{type, timestamp, data: {job_id, tenant, status, error?, links}}`.
fn payload(job_id: &JobId, event: &JobEvent, public_url: &str) -> serde_json::Value {
    let status = subjects::event_kind_name(event.kind());
    let base = public_url.trim_end_matches('/');
    let job = format!("{base}/v1/jobs/{job_id}");
    let mut links = serde_json::json!({ "job": job, "events": format!("{job}/events") });
    for export in event.artifacts.iter().flat_map(|a| &a.exports) {
        if let Some(format) = export.strip_prefix("transcript.") {
            links[format] = serde_json::Value::String(format!("{job}/{export}"));
        }
    }
    let at = event.at.as_ref().and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
    let mut data =
        serde_json::json!({ "job_id": job_id.as_str(), "tenant": event.tenant, "status": status, "links": links });
    if event.kind() == EventKind::Failed {
        data["error"] = serde_json::Value::String(event.message.clone());
    }
    serde_json::json!({
        "type": format!("job.{status}"),
        "timestamp": at.unwrap_or_else(chrono::Utc::now).to_rfc3339(),
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_standard_webhooks_does() {
        // The specification's example: secret, id, timestamp, payload and signature.
        let key = base64::engine::general_purpose::STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("b64");
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn the_payload_links_the_job_and_its_transcripts() {
        let id = JobId::parse("job-1").expect("id");
        let event = JobEvent {
            job_id: "job-1".into(),
            kind: EventKind::Completed as i32,
            tenant: "acme".into(),
            artifacts: Some(steno_runtime::proto::Artifacts {
                exports: vec!["transcript.srt".into(), "transcript.json".into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let body = payload(&id, &event, "https://steno.example.org/");
        assert_eq!(body["type"], "job.completed");
        assert_eq!(body["data"]["tenant"], "acme");
        assert_eq!(body["data"]["links"]["srt"], "https://steno.example.org/v1/jobs/job-1/transcript.srt");
        assert!(body["data"].get("error").is_none());
    }
}
