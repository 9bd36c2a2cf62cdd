//! Webhooks as the gateway records them and notify delivers them
//! (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`).

use async_nats::jetstream::{self, kv};
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
    crate::bus::open_bucket(js, subjects::WEBHOOK_SECRETS_BUCKET, replicas).await
}
