//! NATS connection, idempotent provisioning of every stream and bucket, and
//! typed publishing: callers hand over a message, the subject comes from
//! [`crate::subjects`].

use std::time::Duration;

use async_nats::{
    HeaderMap,
    jetstream::{
        self,
        consumer::{PullConsumer, pull},
        kv,
        message::{PublishMessage, StreamMessage},
        object_store, stream,
    },
};
use prost::Message as _;
use steno_proto::v1::{EventKind, JobEvent, Stage, StageTask};

use crate::{
    JobId,
    artifacts::Artifacts,
    config::{Config, NatsConfig, RetentionConfig},
    subjects,
};

/// Most tasks one stage (or the submit subject) holds.
const MAX_QUEUED: i64 = 1_000_000;

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
    pub async fn connect(config: &Config, name: &str) -> anyhow::Result<Self> {
        let client = connect_with_retry(&config.nats, name).await?;
        check_server_version(&client.server_info().version)?;
        crate::metrics::register_nats_connected(client.clone());
        let js = jetstream::new(client.clone());
        let (artifacts, flags) = provision(&js, &config.nats, &config.retention).await?;
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
    /// time, and waits for the stream's ack. An event that ends a stage or
    /// the job is published at most once ([`subjects::event_msg_id`]).
    pub async fn publish_event(&self, mut event: JobEvent) -> anyhow::Result<()> {
        let job_id = JobId::parse(&event.job_id)?;
        if event.at.is_none() {
            event.at = Some(now_timestamp());
        }
        let subject = subjects::event_subject(&job_id, event.kind());
        let mut headers = HeaderMap::new();
        crate::trace::inject_current(&mut headers);
        let mut publish = PublishMessage::build().headers(headers).payload(event.encode_to_vec().into());
        if let Some(id) = subjects::event_msg_id(&job_id, event.kind(), event.stage(), event.attempt) {
            publish = publish.message_id(id);
        }
        self.js
            .send_publish(subject, publish)
            .await?
            .await
            .map_err(|e| anyhow::anyhow!("publish {:?} event: {e}", event.kind()))?;
        Ok(())
    }

    /// Keeps a message no consumer could finish in the dead letters, with why
    /// (`steno.dlq.<source>.<id>`). Idempotent: a second copy of the same
    /// stream message within the duplicate window is dropped.
    pub async fn dead_letter(&self, letter: DeadLetter<'_>) -> anyhow::Result<()> {
        let mut headers = HeaderMap::new();
        let reason: String = letter.reason.chars().map(|c| if c.is_control() { ' ' } else { c }).take(1000).collect();
        headers.insert(subjects::DLQ_HEADER_REASON, reason.as_str());
        headers.insert(subjects::DLQ_HEADER_ATTEMPTS, letter.attempts.to_string().as_str());
        headers.insert(subjects::DLQ_HEADER_STREAM, letter.stream);
        headers.insert(subjects::DLQ_HEADER_SEQUENCE, letter.sequence.to_string().as_str());
        let publish = PublishMessage::build()
            .headers(headers)
            .payload(letter.payload)
            .message_id(format!("{}:{}", letter.stream, letter.sequence));
        self.js
            .send_publish(subjects::dead_letter_subject(letter.source, letter.id), publish)
            .await?
            .await
            .map_err(|e| anyhow::anyhow!("publish dead letter: {e}"))?;
        crate::metrics::dead_letter(letter.source, letter.stranded);
        tracing::warn!(source = letter.source, id = letter.id, attempts = letter.attempts, reason, "dead-lettered");
        Ok(())
    }

    /// The latest dead letter of `id` from `source`, if one is kept.
    pub async fn find_dead_letter(&self, source: &str, id: &str) -> anyhow::Result<Option<StreamMessage>> {
        let stream = self.js.get_stream_no_info(subjects::DLQ_STREAM).await?;
        match stream.get_last_raw_message_by_subject(&subjects::dead_letter_subject(source, id)).await {
            Ok(message) => Ok(Some(message)),
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("read dead letters: {e}")),
        }
    }

    /// Removes the dead letters of `id` from `source` (after a retry).
    pub async fn remove_dead_letters(&self, source: &str, id: &str) -> anyhow::Result<()> {
        let stream = self.js.get_stream_no_info(subjects::DLQ_STREAM).await?;
        stream.purge().filter(subjects::dead_letter_subject(source, id)).await?;
        Ok(())
    }

    /// Whether `stage` of the job's `attempt` already handed the job on (an
    /// earlier delivery published its successor).
    pub async fn handed_on(&self, job_id: &JobId, stage: Stage, attempt: u32) -> anyhow::Result<bool> {
        Ok(self.flags.get(subjects::handed_on_key(job_id, stage, attempt)).await?.is_some())
    }

    /// Records that `stage` handed the job on; a second record is a no-op.
    pub async fn mark_handed_on(&self, job_id: &JobId, stage: Stage, attempt: u32) -> anyhow::Result<()> {
        match self.flags.create(subjects::handed_on_key(job_id, stage, attempt), "1".into()).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes what NATS holds of a job: artifacts, events, flags and dead
    /// letters.
    pub async fn remove_job(&self, job_id: &JobId) -> anyhow::Result<()> {
        self.artifacts.delete_job(job_id).await?;
        let purges = [
            (subjects::EVENTS_STREAM.to_owned(), subjects::job_events_filter(job_id)),
            (subjects::kv_stream(subjects::JOBS_BUCKET), subjects::job_flags_filter(job_id)),
            (subjects::DLQ_STREAM.to_owned(), subjects::job_dead_letters_filter(job_id)),
        ];
        for (stream, filter) in purges {
            let stream = self.js.get_stream_no_info(&stream).await?;
            stream.purge().filter(filter.as_str()).await.map_err(|e| anyhow::anyhow!("purge {filter}: {e}"))?;
        }
        Ok(())
    }

    /// The durable pull consumer `config` describes on `stream`: created if
    /// missing, its `ack_wait` and `max_deliver` brought in line with
    /// `config` if they differ (they are set from config, which may change).
    pub async fn ensure_consumer(&self, stream: &str, config: pull::Config) -> anyhow::Result<PullConsumer> {
        let name = config.durable_name.clone().unwrap_or_default();
        let stream = self.js.get_stream(stream).await?;
        let consumer: PullConsumer = stream
            .get_or_create_consumer(&name, config.clone())
            .await
            .map_err(|e| anyhow::anyhow!("create consumer {name}: {e}"))?;
        let current = &consumer.cached_info().config;
        if current.ack_wait == config.ack_wait && current.max_deliver == config.max_deliver {
            return Ok(consumer);
        }
        tracing::info!(consumer = name, max_deliver = config.max_deliver, "updating consumer");
        stream.update_consumer(config).await.map_err(|e| anyhow::anyhow!("update consumer {name}: {e}"))
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

/// A message to keep in the dead letters ([`Bus::dead_letter`]).
pub struct DeadLetter<'a> {
    /// A stage name, [`subjects::DLQ_SUBMIT`] or [`subjects::DLQ_LEDGER`].
    pub source: &'a str,
    /// The job id, or another id unique within the source.
    pub id: &'a str,
    pub payload: bytes::Bytes,
    pub attempts: i64,
    /// What a person reads: why it could not be finished.
    pub reason: &'a str,
    /// Where the message was.
    pub stream: &'a str,
    pub sequence: u64,
    /// JetStream gave up on it (no consumer decided to fail it).
    pub stranded: bool,
}

/// A KV bucket of one value a key (file storage), created if missing.
pub async fn open_bucket(
    js: &async_nats::jetstream::Context,
    bucket: &str,
    replicas: usize,
) -> anyhow::Result<async_nats::jetstream::kv::Store> {
    match js.get_key_value(bucket).await {
        Ok(store) => Ok(store),
        Err(_) => js
            .create_key_value(async_nats::jetstream::kv::Config {
                bucket: bucket.into(),
                history: 1,
                storage: async_nats::jetstream::stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("create KV bucket {bucket}: {e}")),
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
        let connected = connect_options(config, name).await?.connect(&config.url).await;
        match connected {
            Ok(client) => return Ok(client),
            Err(e) if e.kind() == async_nats::ConnectErrorKind::AuthorizationViolation => {
                anyhow::bail!(
                    "NATS at {} refused steno-{name}'s credentials (nats.user, nats.creds_file, …)",
                    config.url
                )
            }
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(url = config.url, error = %e, attempt, "NATS not reachable yet; retrying");
            }
            Err(e) => anyhow::bail!("connect to NATS at {} (nats.url): {e}", config.url),
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The connection's name, timeouts and credentials: a `.creds` file, an
/// nkey seed file, or a user and password (at most one), and TLS with a CA
/// and, when given, a client certificate.
pub async fn connect_options(config: &NatsConfig, name: &str) -> anyhow::Result<async_nats::ConnectOptions> {
    let mut options = async_nats::ConnectOptions::new()
        .name(format!("steno-{name}"))
        .connection_timeout(Duration::from_secs(config.connect_timeout_secs))
        .max_reconnects(None)
        .event_callback(|event| async move { tracing::info!(%event, "nats connection event") });
    if !config.creds_file.as_os_str().is_empty() {
        options = options
            .credentials_file(&config.creds_file)
            .await
            .map_err(|e| anyhow::anyhow!("nats.creds_file {}: {e}", config.creds_file.display()))?;
    } else if !config.nkey_seed_file.as_os_str().is_empty() {
        let seed = std::fs::read_to_string(&config.nkey_seed_file)
            .map_err(|e| anyhow::anyhow!("nats.nkey_seed_file {}: {e}", config.nkey_seed_file.display()))?;
        options = options.nkey(seed.trim().to_owned());
    } else if !config.user.is_empty() {
        options = options.user_and_password(config.user.clone(), config.password.clone());
    }
    if !config.tls_ca.as_os_str().is_empty() {
        options = options.require_tls(true).add_root_certificates(config.tls_ca.clone());
    }
    if !config.tls_cert.as_os_str().is_empty() {
        options = options.add_client_certificate(config.tls_cert.clone(), config.tls_key.clone());
    }
    Ok(options)
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
async fn provision(
    js: &jetstream::Context,
    config: &NatsConfig,
    retention: &RetentionConfig,
) -> anyhow::Result<(Artifacts, kv::Store)> {
    let duplicate_window = Duration::from_secs(config.duplicate_window_secs);
    // Queues are bounded: a full one refuses new tasks (the submission says
    // so) rather than dropping old ones.
    let work_queue = |name: String, subject: String| stream::Config {
        name,
        subjects: vec![subject],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window,
        num_replicas: config.replicas,
        max_messages: MAX_QUEUED,
        discard: stream::DiscardPolicy::New,
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
            duplicate_window,
            num_replicas: config.replicas,
            ..Default::default()
        },
    )
    .await?;
    let kept = Duration::from_secs(config.events_max_age_hours * 3600);
    ensure_stream(
        js,
        stream::Config {
            name: subjects::DLQ_STREAM.into(),
            subjects: vec![subjects::DLQ_WILDCARD.into()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: kept,
            duplicate_window,
            num_replicas: config.replicas,
            ..Default::default()
        },
    )
    .await?;
    ensure_stream(
        js,
        stream::Config {
            subjects: subjects::advisory_subjects(),
            max_age: kept,
            ..work_queue(subjects::ADVISORIES_STREAM.into(), String::new())
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
    // Flags outlive no job: they age out with `retention.days`.
    let kept_flags = Duration::from_secs(retention.days * 24 * 3600);
    let flags = match js.get_key_value(subjects::JOBS_BUCKET).await {
        Ok(store) => store,
        Err(_) => js
            .create_key_value(kv::Config {
                bucket: subjects::JOBS_BUCKET.into(),
                history: 1,
                storage: stream::StorageType::File,
                num_replicas: config.replicas,
                max_age: kept_flags,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("create KV bucket {}: {e}", subjects::JOBS_BUCKET))?,
    };
    // A bucket made before `retention.days` was set (or changed) gets it.
    let flags_stream = subjects::kv_stream(subjects::JOBS_BUCKET);
    let current = js.get_stream(&flags_stream).await.map_err(|e| anyhow::anyhow!("open stream {flags_stream}: {e}"))?;
    if current.cached_info().config.max_age != kept_flags {
        let config = stream::Config { max_age: kept_flags, ..current.cached_info().config.clone() };
        js.update_stream(config).await.map_err(|e| anyhow::anyhow!("update stream {flags_stream}: {e}"))?;
    }
    Ok((artifacts, flags))
}

/// Creates a stream, or brings an existing one's subjects and limits in
/// line with `config`.
async fn ensure_stream(js: &jetstream::Context, config: stream::Config) -> anyhow::Result<()> {
    let name = config.name.clone();
    let stream =
        js.get_or_create_stream(config.clone()).await.map_err(|e| anyhow::anyhow!("create stream {name}: {e}"))?;
    let current = &stream.cached_info().config;
    // The server reports "no limit" as -1 where the config says 0.
    let limit = |n: i64| n.max(0);
    let changed = current.subjects != config.subjects
        || current.max_age != config.max_age
        || (!config.duplicate_window.is_zero() && current.duplicate_window != config.duplicate_window)
        || limit(current.max_messages) != limit(config.max_messages)
        || current.discard != config.discard;
    if changed {
        tracing::info!(stream = name, "updating stream limits");
        js.update_stream(config).await.map_err(|e| anyhow::anyhow!("update stream {name}: {e}"))?;
    }
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
