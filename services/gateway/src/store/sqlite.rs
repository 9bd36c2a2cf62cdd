//! The ledger embedded in a SQLite file, for local mode (`steno transcribe`
//! with no running system). Same rows as Postgres; migrations from
//! `migrations/sqlite`; timestamps bound from Rust (RFC 3339 text).

use std::str::FromStr;

use chrono::Utc;
use sqlx::{
    Executor, SqlitePool,
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

use super::{JobRow, NewJobRow, Update};

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and migrates.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("gateway.database_url: {e}"))?
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("open SQLite database {url}: {e}"))?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await.map_err(|e| anyhow::anyhow!("run migrations: {e}"))?;
        Ok(Self { pool })
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.pool.execute("SELECT 1").await.map(|_| ())
    }

    pub async fn insert(&self, job: NewJobRow<'_>) -> Result<Option<JobRow>, sqlx::Error> {
        let now = Utc::now();
        let finished = (job.status == "failed").then_some(now);
        sqlx::query_as::<_, JobRow>(
            "INSERT INTO jobs (id, idempotency_key, status, error, submitted_via, source_url, upload_name, options,
                               created_at, updated_at, finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)
             ON CONFLICT DO NOTHING
             RETURNING *",
        )
        .bind(job.id)
        .bind(job.idempotency_key)
        .bind(job.status)
        .bind(job.error)
        .bind(job.submitted_via)
        .bind(job.source_url)
        .bind(job.upload_name)
        .bind(sqlx::types::Json(job.options))
        .bind(now)
        .bind(finished)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn get(&self, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = ?1").bind(id).fetch_optional(&self.pool).await
    }

    pub async fn find_existing(&self, id: &str, key: Option<&str>) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs WHERE id = ?1 OR (?2 IS NOT NULL AND idempotency_key = ?2) LIMIT 1",
        )
        .bind(id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn list(
        &self,
        status: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<JobRow>, sqlx::Error> {
        sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR seq < ?2) ORDER BY seq DESC LIMIT ?3",
        )
        .bind(status)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    pub async fn update(&self, id: &str, update: Update<'_>) -> Result<Option<JobRow>, sqlx::Error> {
        let now = Utc::now();
        let finished = update.status.filter(|s| ["completed", "failed", "cancelled"].contains(s)).map(|_| now);
        sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET
                status = COALESCE(?2, status),
                stage = COALESCE(?3, stage),
                progress = COALESCE(?4, progress),
                error = COALESCE(?5, error),
                language = COALESCE(?6, language),
                duration_ms = COALESCE(?7, duration_ms),
                exports = COALESCE(?8, exports),
                updated_at = ?9,
                finished_at = COALESCE(?10, finished_at)
             WHERE id = ?1 AND status NOT IN ('completed', 'failed', 'cancelled')
             RETURNING *",
        )
        .bind(id)
        .bind(update.status)
        .bind(update.stage)
        .bind(update.progress)
        .bind(update.error)
        .bind(update.language)
        .bind(update.duration_ms)
        .bind(update.exports.map(sqlx::types::Json))
        .bind(now)
        .bind(finished)
        .fetch_optional(&self.pool)
        .await
    }
}
