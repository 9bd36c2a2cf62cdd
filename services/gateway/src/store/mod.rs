//! The job ledger: Postgres in deployments, SQLite (embedded, for
//! `steno transcribe` without a running system). One [`Store`] over both;
//! each backend has its own SQL and migrations (`migrations/pg`,
//! `migrations/sqlite`), kept in step.

mod postgres;
mod sqlite;

use std::future::Future;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub seq: i64,
    pub id: String,
    pub idempotency_key: Option<String>,
    pub status: String,
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
}

pub const TERMINAL: [&str; 3] = ["completed", "failed", "cancelled"];
pub const STATUSES: [&str; 5] = ["queued", "running", "completed", "failed", "cancelled"];

impl JobRow {
    pub fn is_terminal(&self) -> bool {
        TERMINAL.contains(&self.status.as_str())
    }
}

/// A job to insert.
pub struct NewJobRow<'a> {
    pub id: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub submitted_via: &'a str,
    pub source_url: Option<&'a str>,
    pub upload_name: Option<&'a str>,
    pub options: serde_json::Value,
    /// `queued`, or `failed` for a submission refused on arrival.
    pub status: &'a str,
    pub error: Option<&'a str>,
}

/// What an event changes on a job.
#[derive(Default)]
pub struct Update<'a> {
    pub status: Option<&'a str>,
    pub stage: Option<&'a str>,
    pub progress: Option<f32>,
    pub error: Option<&'a str>,
    pub language: Option<&'a str>,
    pub duration_ms: Option<i64>,
    pub exports: Option<Vec<String>>,
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

    pub async fn get(&self, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("get", s.get(id)).await)
    }

    /// The job a resubmission refers to, by id or idempotency key.
    pub async fn find_existing(&self, id: &str, key: Option<&str>) -> Result<Option<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("find_existing", s.find_existing(id, key)).await)
    }

    /// Newest first; `before` is the `seq` cursor of the previous page.
    pub async fn list(
        &self,
        status: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("list", s.list(status, before, limit)).await)
    }

    /// Applies an update unless the job is already finished; returns the
    /// job when it changed.
    pub async fn update(&self, id: &str, update: Update<'_>) -> Result<Option<JobRow>, sqlx::Error> {
        dispatch!(self, s => timed("update", s.update(id, update)).await)
    }
}

/// Runs a query, recording its latency and failure in the ledger metrics.
async fn timed<T>(query: &'static str, run: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, sqlx::Error> {
    let clock = std::time::Instant::now();
    let result = run.await;
    steno_runtime::metrics::db_query(query, clock.elapsed().as_secs_f64(), result.is_ok());
    result
}
