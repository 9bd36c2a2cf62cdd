//! Webhooks, the gateway's part: a job with a `webhook_url` has its target
//! recorded in the jobs bucket when it is dispatched, and its tenant a
//! signing secret; the notify service delivers and reports each attempt,
//! which the ledger keeps (`GET /v1/jobs/{id}/webhooks`).

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use steno_runtime::{
    JobId, subjects,
    webhook::{self, SECRET_PREFIX, Target},
};

use crate::{auth::Caller, error::ApiError, jobs::Jobs, store::WebhookRow};

/// A job's webhook and every attempt to deliver it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhooksView {
    /// Without user-info or query.
    pub url: Option<String>,
    pub attempts: Vec<WebhookRow>,
}

impl Jobs {
    /// Records where the job's webhook goes (and makes the tenant a secret
    /// if it has none), before its first task is published. Idempotent.
    pub async fn register_webhook(&self, job_id: &str, tenant: &str, url: &str) -> anyhow::Result<()> {
        self.signing_secret(tenant, false).await?;
        let id = JobId::parse(job_id)?;
        let target = serde_json::to_vec(&Target { url: url.to_owned(), tenant: tenant.to_owned() })?;
        self.bus.flags.put(subjects::webhook_key(&id), target.into()).await?;
        Ok(())
    }

    /// The caller's tenant's signing secret, made on first use; `rotate`
    /// replaces it (later deliveries are signed with the new one).
    pub async fn webhook_secret(&self, caller: &Caller, rotate: bool) -> Result<String, ApiError> {
        self.signing_secret(&caller.tenant, rotate)
            .await
            .map_err(|e| ApiError::unavailable("cannot read the webhook secret", &e))
    }

    async fn signing_secret(&self, tenant: &str, rotate: bool) -> anyhow::Result<String> {
        let secrets = self.webhook_secrets.get_or_try_init(|| webhook::secrets(&self.bus.js, self.replicas)).await?;
        if !rotate && let Some(secret) = secrets.get(tenant).await? {
            return Ok(String::from_utf8(secret.to_vec())?);
        }
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness"))?;
        let secret = format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(bytes));
        if rotate {
            secrets.put(tenant, secret.clone().into()).await?;
            return Ok(secret);
        }
        // Two gateways making the first secret at once: the first one wins.
        match secrets.create(tenant, secret.clone().into()).await {
            Ok(_) => Ok(secret),
            Err(_) => Ok(secrets
                .get(tenant)
                .await?
                .map(|s| String::from_utf8_lossy(&s).into_owned())
                .ok_or_else(|| anyhow::anyhow!("the webhook secret vanished"))?),
        }
    }

    /// The caller's job's webhook and its attempts.
    pub async fn webhooks(&self, caller: &Caller, id: &JobId) -> Result<WebhooksView, ApiError> {
        let job = self.get(caller, id).await?;
        let options: crate::views::OptionsView =
            serde_json::from_value(job.options.0).map_err(|e| ApiError::Internal(e.into()))?;
        let url = options.webhook_url.as_deref().map(steno_runtime::redact::url);
        let mut attempts = self.store.webhook_attempts(id.as_str()).await?;
        for attempt in &mut attempts {
            attempt.url = steno_runtime::redact::url(&attempt.url);
        }
        Ok(WebhooksView { url, attempts })
    }
}
