//! Webhooks as the gateway records them and notify delivers them
//! (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`).

use async_nats::jetstream::{self, kv, stream};
use serde::{Deserialize, Serialize};

use crate::subjects;

/// A job's webhook (`<job_id>.webhook` in the jobs bucket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub url: String,
    pub tenant: String,
}

/// How a tenant's signing secret starts; the rest is base64 of its bytes.
pub const SECRET_PREFIX: &str = "whsec_";

/// The bucket of tenants' signing secrets, created if missing. Only the
/// gateway (which writes them) and notify (which signs with them) open it.
pub async fn secrets(js: &jetstream::Context, replicas: usize) -> anyhow::Result<kv::Store> {
    match js.get_key_value(subjects::WEBHOOK_SECRETS_BUCKET).await {
        Ok(store) => Ok(store),
        Err(_) => js
            .create_key_value(kv::Config {
                bucket: subjects::WEBHOOK_SECRETS_BUCKET.into(),
                history: 1,
                storage: stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("create KV bucket {}: {e}", subjects::WEBHOOK_SECRETS_BUCKET)),
    }
}
