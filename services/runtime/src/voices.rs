//! The tenants' known voices: a name and a voiceprint (the speaker
//! encoder's mean embedding of a 5–30 s clip), kept in the
//! [`subjects::VOICES_BUCKET`] KV bucket as JSON. The gateway records a
//! voice when it is enrolled and lists and deletes them; diarize fills in
//! the print from the enrolment job's audio, and names the speakers of a
//! tenant's jobs whose voices match one.

use async_nats::jetstream::{self, kv};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::subjects;

/// A known voice; `print` is empty until its enrolment job has made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voice {
    pub id: String,
    pub name: String,
    /// The enrolment job (its audio, its status).
    pub job_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Unit length.
    #[serde(default)]
    pub print: Vec<f32>,
    /// Speech the print was made from.
    #[serde(default)]
    pub speech_ms: u64,
}

/// The voices bucket, made on first use.
pub async fn bucket(js: &jetstream::Context, replicas: usize) -> anyhow::Result<kv::Store> {
    crate::bus::open_bucket(js, subjects::VOICES_BUCKET, replicas).await
}

/// One voice of `tenant`; `None` when there is none by that id.
pub async fn get(store: &kv::Store, tenant: &str, id: &str) -> anyhow::Result<Option<Voice>> {
    let Some(bytes) = store.get(subjects::voice_key(tenant, id)).await.map_err(|e| anyhow::anyhow!("{e}"))? else {
        return Ok(None);
    };
    Ok(Some(serde_json::from_slice(&bytes)?))
}

pub async fn put(store: &kv::Store, tenant: &str, voice: &Voice) -> anyhow::Result<()> {
    let key = subjects::voice_key(tenant, &voice.id);
    store.put(key, serde_json::to_vec(voice)?.into()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

pub async fn delete(store: &kv::Store, tenant: &str, id: &str) -> anyhow::Result<()> {
    store.purge(subjects::voice_key(tenant, id)).await.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Every voice of `tenant`, oldest first.
pub async fn list(store: &kv::Store, tenant: &str) -> anyhow::Result<Vec<Voice>> {
    let prefix = format!("{tenant}.");
    let keys: Vec<String> = match store.keys().await {
        Ok(keys) => keys.try_filter(|k| std::future::ready(k.starts_with(&prefix))).try_collect().await?,
        Err(e) => anyhow::bail!("list {}: {e}", subjects::VOICES_BUCKET),
    };
    let mut voices = Vec::new();
    for key in keys {
        if let Some(voice) = get(store, tenant, &key[prefix.len()..]).await? {
            voices.push(voice);
        }
    }
    voices.sort_by_key(|v| v.created_at);
    Ok(voices)
}
