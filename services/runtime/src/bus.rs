//! NATS connection, idempotent provisioning of every stream and bucket, and
//! typed publishing: callers hand over a message, the subject comes from
//! [`crate::subjects`].

use std::time::Duration;

use async_nats::{
    HeaderMap,
    jetstream::{self, kv, message::PublishMessage, object_store, stream},
};
use prost::Message as _;
use steno_proto::v1::{EventKind, JobEvent, Stage, StageTask};

use crate::{JobId, artifacts::Artifacts, config::NatsConfig, subjects};

/// Seconds within which a repeated `Nats-Msg-Id` is dropped by the server.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Everything a service needs on NATS: the client, JetStream, the artifact
/// store and the job flags bucket. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub artifacts: Artifacts,
    pub flags: kv::Store,
}

impl Bus {
    /// Connects (retrying for up to a minute while NATS is not up yet, and
    /// reconnecting forever once connected), checks the server version and
    /// provisions streams and buckets.
    pub async fn connect(config: &NatsConfig, name: &str) -> anyhow::Result<Self> {
        let client = connect_with_retry(config, name).await?;
        check_server_version(&client.server_info().version)?;
        crate::metrics::register_nats_connected(client.clone());
        let js = jetstream::new(client.clone());
        let (artifacts, flags) = provision(&js, config).await?;
        Ok(Self { client, js, artifacts, flags })
    }

    /// True while the connection to NATS is up (readiness).
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Publishes a stage task to its stage's subject and waits for the
    /// stream's ack. A repeat within the duplicate window is dropped by the
    /// server (`Nats-Msg-Id`), so a redelivered upstream stage is harmless.
    pub async fn publish_task(&self, task: &StageTask) -> anyhow::Result<()> {
        let stage = task.stage();
        let job_id = JobId::parse(&task.job_id)?;
        let mut headers = HeaderMap::new();
        crate::trace::inject_current(&mut headers);
        let publish = PublishMessage::build()
            .headers(headers)
            .payload(task.encode_to_vec().into())
            .message_id(subjects::stage_msg_id(&job_id, stage, task.attempt, task.part.map(|p| p.index)));
        self.js
            .send_publish(subjects::stage_subject(stage), publish)
            .await?
            .await
            .map_err(|e| anyhow::anyhow!("publish {} task: {e}", subjects::stage_name(stage)))?;
        Ok(())
    }

    /// Publishes a job event to `steno.events.<job_id>.<kind>`, stamping the
    /// time, and waits for the stream's ack.
    pub async fn publish_event(&self, mut event: JobEvent) -> anyhow::Result<()> {
        let job_id = JobId::parse(&event.job_id)?;
        if event.at.is_none() {
            event.at = Some(now_timestamp());
        }
        let subject = subjects::event_subject(&job_id, event.kind());
        let mut headers = HeaderMap::new();
        crate::trace::inject_current(&mut headers);
        self.js
            .publish_with_headers(subject, headers, event.encode_to_vec().into())
            .await?
            .await
            .map_err(|e| anyhow::anyhow!("publish {:?} event: {e}", event.kind()))?;
        Ok(())
    }

    /// Marks a job cancelled; workers skip its remaining tasks.
    pub async fn set_cancelled(&self, job_id: &JobId) -> anyhow::Result<()> {
        self.flags.put(subjects::cancel_key(job_id), "1".into()).await?;
        Ok(())
    }

    pub async fn is_cancelled(&self, job_id: &JobId) -> anyhow::Result<bool> {
        Ok(self.flags.get(subjects::cancel_key(job_id)).await?.is_some())
    }
}

/// Convenience constructor for events.
pub fn event(job_id: &str, kind: EventKind, stage: Stage) -> JobEvent {
    JobEvent { job_id: job_id.to_owned(), kind: kind.into(), stage: stage.into(), ..Default::default() }
}

pub fn now_timestamp() -> prost_types::Timestamp {
    let now = chrono::Utc::now();
    prost_types::Timestamp { seconds: now.timestamp(), nanos: now.timestamp_subsec_nanos() as i32 }
}

async fn connect_with_retry(config: &NatsConfig, name: &str) -> anyhow::Result<async_nats::Client> {
    const ATTEMPTS: u32 = 60;
    let mut attempt = 1;
    loop {
        let connected = async_nats::ConnectOptions::new()
            .name(format!("steno-{name}"))
            .connection_timeout(Duration::from_secs(config.connect_timeout_secs))
            .max_reconnects(None)
            .event_callback(|event| async move { tracing::info!(%event, "nats connection event") })
            .connect(&config.url)
            .await;
        match connected {
            Ok(client) => return Ok(client),
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(url = config.url, error = %e, attempt, "NATS not reachable yet; retrying");
            }
            Err(e) => anyhow::bail!("connect to NATS at {} (nats.url): {e}", config.url),
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// steno needs NATS 2.10+: older servers cannot create the KV bucket and
/// silently ignore consumer options steno relies on.
fn check_server_version(version: &str) -> anyhow::Result<()> {
    if !is_supported_server(version) {
        anyhow::bail!("NATS server {version} is too old: steno needs NATS 2.10 or newer with JetStream");
    }
    Ok(())
}

/// Whether a NATS server version (`2.10.3`, `v2.15.1`) is one steno runs on.
pub fn is_supported_server(version: &str) -> bool {
    let mut parts = version.trim().trim_start_matches('v').split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (2, 10)
}

/// Creates what is missing; leaves what exists. Safe to run from every
/// replica of every service at start.
async fn provision(js: &jetstream::Context, config: &NatsConfig) -> anyhow::Result<(Artifacts, kv::Store)> {
    let work_queue = |name: String, subject: String| stream::Config {
        name,
        subjects: vec![subject],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        num_replicas: config.replicas,
        ..Default::default()
    };
    for stage in subjects::STAGES {
        ensure_stream(js, work_queue(subjects::stage_stream(stage), subjects::stage_subject(stage))).await?;
    }
    ensure_stream(js, work_queue(subjects::SUBMIT_STREAM.into(), subjects::SUBMIT_SUBJECT.into())).await?;
    ensure_stream(
        js,
        stream::Config {
            name: subjects::EVENTS_STREAM.into(),
            subjects: vec![subjects::EVENTS_WILDCARD.into()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: Duration::from_secs(config.events_max_age_hours * 3600),
            num_replicas: config.replicas,
            ..Default::default()
        },
    )
    .await?;
    let artifacts = match js.get_object_store(subjects::ARTIFACTS_BUCKET).await {
        Ok(store) => store,
        Err(_) => js
            .create_object_store(object_store::Config {
                bucket: subjects::ARTIFACTS_BUCKET.into(),
                storage: stream::StorageType::File,
                num_replicas: config.replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("create object store {}: {e}", subjects::ARTIFACTS_BUCKET))?,
    };
    let chunks_stream = subjects::object_store_stream(subjects::ARTIFACTS_BUCKET);
    let chunks =
        js.get_stream(&chunks_stream).await.map_err(|e| anyhow::anyhow!("open stream {chunks_stream}: {e}"))?;
    let artifacts = Artifacts::new(artifacts, chunks);
    let flags = match js.get_key_value(subjects::JOBS_BUCKET).await {
        Ok(store) => store,
        Err(_) => js
            .create_key_value(kv::Config {
                bucket: subjects::JOBS_BUCKET.into(),
                history: 1,
                storage: stream::StorageType::File,
                num_replicas: config.replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("create KV bucket {}: {e}", subjects::JOBS_BUCKET))?,
    };
    Ok((artifacts, flags))
}

async fn ensure_stream(js: &jetstream::Context, config: stream::Config) -> anyhow::Result<()> {
    let name = config.name.clone();
    js.get_or_create_stream(config).await.map_err(|e| anyhow::anyhow!("create stream {name}: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_servers_older_than_2_10() {
        assert!(check_server_version("2.9.10").is_err());
        assert!(check_server_version("2.10.0").is_ok());
        assert!(check_server_version("2.15.1").is_ok());
        assert!(check_server_version("3.0.0").is_ok());
    }
}
