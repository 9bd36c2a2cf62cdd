//! The job ledger: Postgres in deployments, SQLite (embedded, for
//! `steno transcribe` without a running system). One [`Store`] over both;
//! each backend has its own SQL and migrations (`migrations/pg`,
//! `migrations/sqlite`), kept in step.

mod postgres;
mod sqlite;

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;
pub use steno_runtime::proto::JobStatus;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub seq: i64,
    pub id: String,
    pub tenant: String,
    pub idempotency_key: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: JobStatus,
    pub stage: Option<String>,
    pub progress: f32,
    pub error: Option<String>,
    pub submitted_via: String,
    pub source_url: Option<String>,
    pub upload_name: Option<String>,
    pub options: sqlx::types::Json<serde_json::Value>,
    pub language: Option<String>,
    pub duration_ms: Option<i64>,
    pub exports: sqlx::types::Json<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempt: i32,
    pub stage_rank: i32,
    pub dispatched: bool,
}

impl JobRow {
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }
}

/// A job to insert.
pub struct NewJobRow<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub submitted_via: &'a str,
    pub source_url: Option<&'a str>,
    pub upload_name: Option<&'a str>,
    pub options: serde_json::Value,
    /// Queued, or failed for a submission refused on arrival.
    pub status: JobStatus,
    pub error: Option<&'a str>,
}

/// An API key: its public id, its tenant, and the SHA-256 of its secret.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub id: String,
    pub tenant: String,
    pub label: String,
    pub admin: bool,
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What an event changes on a job. Stage and progress never move back: a
/// stage applies only if its `stage_rank` (route position) is not below the
/// job's, and progress within a stage only grows. An update of an `attempt`
/// a retry replaced is ignored (0: no check).
#[derive(Default)]
pub struct Update<'a> {
    pub attempt: i64,
    pub status: Option<JobStatus>,
    pub stage: Option<&'a str>,
    pub stage_rank: i32,
    pub progress: Option<f32>,
    pub error: Option<&'a str>,
    pub language: Option<&'a str>,
    pub duration_ms: Option<i64>,
    pub exports: Option<Vec<String>>,
}

/// A transcript segment as search indexes it.
pub struct SearchRow<'a> {
    pub idx: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub speaker: Option<&'a str>,
    pub speaker_name: Option<&'a str>,
    pub text: &'a str,
}

/// A search: words to find (all of them, in the text or the speaker's
/// name), optionally within one job, speaker (id or name) or language.
pub struct SearchQuery<'a> {
    pub tenant: Option<&'a str>,
    pub text: &'a str,
    pub speaker: Option<&'a str>,
    pub job: Option<&'a str>,
    pub language: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

/// A matching segment, best first, as the API shows it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub job_id: String,
    /// The segment's index in the job's transcript.
    #[serde(rename = "segment")]
    #[schema(rename = "segment")]
    pub idx: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub speaker: Option<String>,
    pub speaker_name: Option<String>,
    pub language: String,
    /// The segment's text with the matched words in `<mark>…</mark>`
    /// (not HTML-escaped: escape the rest before showing it as HTML).
    pub snippet: String,
    /// Higher is better.
    #[serde(rename = "score")]
    #[schema(rename = "score")]
    pub rank: f64,
}

/// One webhook delivery attempt of a job.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct WebhookRow {
    #[serde(skip)]
    pub job_id: String,
    /// 1 for the first try.
    pub number: i64,
    pub at: DateTime<Utc>,
    pub url: String,
    /// The receiver's answer; 0 when none came (timeout, refused).
    pub http_status: i64,
    pub delivered: bool,
    /// No more attempts follow.
    pub last: bool,
    pub error: String,
}

/// The ledger, on whichever backend `gateway.database_url` names.
#[derive(Clone)]
pub enum Store {
    Postgres(postgres::PgStore),
    Sqlite(sqlite::SqliteStore),
}

/// Forwards a call to the backend in use.
macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::Postgres($store) => $call,
            Store::Sqlite($store) => $call,
        }
    };
}

impl Store {
    /// Connects to `postgres://…` (creating the database if missing) or
    /// `sqlite:…` (creating the file), and migrates.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(sqlite::SqliteStore::connect(url).await?))
        } else {
            Ok(Self::Postgres(postgres::PgStore::connect(url).await?))
        }
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        dispatch!(self, s => timed("ping", s.ping()).await)
    }

    /// Inserts a job; `None` when its id or idempotency key already exists.
    pub async fn insert(&self, job: NewJobRow<'_>) -> Result<Option<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("insert", s.insert(job)).await)
    }

    /// A job of `tenant` (`None`: of any tenant, for admins and the
    /// gateway's own work); another tenant's job is not found.
    pub async fn get(&self, id: &str, tenant: Option<&str>) -> Result<Option<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("get", s.get(id, tenant)).await)
    }

    /// The job of `tenant` a resubmission refers to, by id or idempotency key.
    pub async fn find_existing(
        &self,
        tenant: &str,
        id: &str,
        key: Option<&str>,
    ) -> Result<Option<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("find_existing", s.find_existing(tenant, id, key)).await)
    }

    /// How many of `tenant`'s jobs are queued or running.
    pub async fn in_flight(&self, tenant: &str) -> Result<i64, sqlx::Error> {
        dispatch!(self, s => timed("in_flight", s.in_flight(tenant)).await)
    }

    /// Jobs of `tenant` (`None`: every tenant), newest first; `before` is
    /// the `seq` cursor of the previous page.
    pub async fn list(
        &self,
        tenant: Option<&str>,
        status: Option<JobStatus>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("list", s.list(tenant, status, before, limit)).await)
    }

    /// Applies an update unless the job is already finished; returns the
    /// job when it changed.
    pub async fn update(&self, id: &str, update: Update<'_>) -> Result<Option<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("update", s.update(id, update)).await)
    }

    /// Puts a failed job back in the queue as `attempt`, from `stage`;
    /// `None` unless it was failed.
    pub async fn requeue(&self, id: &str, attempt: i32, stage: &str) -> Result<Option<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("requeue", s.requeue(id, attempt, stage)).await)
    }

    /// Records that a job's first task was published.
    pub async fn mark_dispatched(&self, id: &str) -> Result<(), sqlx::Error> {
        dispatch!(self, s => timed("mark_dispatched", s.mark_dispatched(id)).await)
    }

    /// Removes a job's row and its search index; whether there was one.
    pub async fn delete(&self, id: &str) -> Result<bool, sqlx::Error> {
        dispatch!(self, s => timed("delete", s.delete(id)).await)
    }

    /// Whether a job's row exists.
    pub async fn exists(&self, id: &str) -> Result<bool, sqlx::Error> {
        Ok(self.get(id, None).await?.is_some())
    }

    /// Replaces a job's segments in the search index.
    pub async fn index(
        &self,
        job_id: &str,
        tenant: &str,
        language: &str,
        rows: &[SearchRow<'_>],
    ) -> Result<(), sqlx::Error> {
        dispatch!(self, s => timed("index", s.index(job_id, tenant, language, rows)).await)
    }

    /// Segments matching `query`, best first.
    pub async fn search(&self, query: &SearchQuery<'_>) -> Result<Vec<SearchHit>, sqlx::Error> {
        dispatch!(self, s => timed("search", s.search(query)).await)
    }

    /// Records a webhook attempt (once: a redelivered event changes nothing).
    pub async fn record_webhook(
        &self,
        job_id: &str,
        attempt: &steno_runtime::proto::WebhookAttempt,
    ) -> Result<(), sqlx::Error> {
        let row = WebhookRow {
            job_id: job_id.to_owned(),
            number: i64::from(attempt.number),
            at: Utc::now(),
            url: attempt.url.clone(),
            http_status: i64::from(attempt.http_status),
            delivered: attempt.delivered,
            last: attempt.last,
            error: attempt.error.clone(),
        };
        dispatch!(self, s => timed("record_webhook", s.record_webhook(&row)).await)
    }

    /// A job's webhook attempts, first first.
    pub async fn webhook_attempts(&self, job_id: &str) -> Result<Vec<WebhookRow>, sqlx::Error> {
        dispatch!(self, s => timed("webhook_attempts", s.webhook_attempts(job_id)).await)
    }

    pub async fn insert_key(&self, key: &KeyRow) -> Result<(), sqlx::Error> {
        dispatch!(self, s => timed("insert_key", s.insert_key(key)).await)
    }

    /// A key by its public id (revoked ones too).
    pub async fn key(&self, id: &str) -> Result<Option<KeyRow>, sqlx::Error> {
        dispatch!(self, s => timed("key", s.key(id)).await)
    }

    /// Every key, oldest first.
    pub async fn keys(&self) -> Result<Vec<KeyRow>, sqlx::Error> {
        dispatch!(self, s => timed("keys", s.keys()).await)
    }

    /// Revokes a key; whether there was an unrevoked one.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, sqlx::Error> {
        dispatch!(self, s => timed("revoke_key", s.revoke_key(id)).await)
    }

    /// Finished jobs older than `days`, oldest first.
    pub async fn expired(&self, days: u64, limit: i64) -> Result<Vec<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("expired", s.expired(days_ago(days), limit)).await)
    }

    /// Fails unfinished jobs that made no progress for `days`; their ids.
    pub async fn fail_stalled(&self, days: u64, reason: &str) -> Result<Vec<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("fail_stalled", s.fail_stalled(days_ago(days), reason)).await)
    }

    /// Queued jobs whose first task was not published `grace_secs` after
    /// they were recorded (the gateway stopped in between, or NATS was
    /// down), oldest first.
    pub async fn undispatched(&self, grace_secs: i64, limit: i64) -> Result<Vec<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("undispatched", s.undispatched(grace_secs, limit)).await)
    }
}

/// The moment `days` ago (at most a century).
fn days_ago(days: u64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(i64::try_from(days.min(36_500)).unwrap_or(36_500))
}

/// Whether a ledger error means the database cannot be reached now (worth
/// waiting for), rather than a query it refuses.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        // Connection exceptions, shutting down, out of resources.
        sqlx::Error::Database(e) => {
            e.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57") || c.starts_with("53"))
        }
        _ => false,
    }
}

/// Runs a query, recording its latency and failure in the ledger metrics.
async fn timed<T>(query: &'static str, run: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, sqlx::Error> {
    let clock = std::time::Instant::now();
    let result = run.await;
    steno_runtime::metrics::db_query(query, clock.elapsed().as_secs_f64(), result.is_ok());
    result
}
