//! The ledger embedded in a SQLite file, for local mode (`steno transcribe`
//! with no running system). Same rows as Postgres; migrations from
//! `migrations/sqlite`; timestamps bound from Rust (RFC 3339 text).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::{
    Executor, SqlitePool,
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

use super::{JobRow, JobStatus, KeyRow, NewJobRow, SearchHit, SearchQuery, SearchRow, Update, WebhookRow};

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
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("create {}: {e}", dir.display()))?;
        }
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
        let finished = (job.status == JobStatus::Failed).then_some(now);
        sqlx::query_as::<_, JobRow>(
            "INSERT INTO jobs (id, idempotency_key, status, error, submitted_via, source_url, upload_name, options,
                               created_at, updated_at, finished_at, dispatched, tenant)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?3 <> 'queued', ?11)
             ON CONFLICT DO NOTHING
             RETURNING *",
        )
        .bind(job.id)
        .bind(job.idempotency_key)
        .bind(job.status.name())
        .bind(job.error)
        .bind(job.submitted_via)
        .bind(job.source_url)
        .bind(job.upload_name)
        .bind(sqlx::types::Json(job.options))
        .bind(now)
        .bind(finished)
        .bind(job.tenant)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn get(&self, id: &str, tenant: Option<&str>) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn find_existing(
        &self,
        tenant: &str,
        id: &str,
        key: Option<&str>,
    ) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs WHERE tenant = ?1 AND (id = ?2 OR (?3 IS NOT NULL AND idempotency_key = ?3)) LIMIT 1",
        )
        .bind(tenant)
        .bind(id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn in_flight(&self, tenant: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE tenant = ?1 AND status IN ('queued', 'running')")
            .bind(tenant)
            .fetch_one(&self.pool)
            .await
    }

    pub async fn list(
        &self,
        tenant: Option<&str>,
        status: Option<JobStatus>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<JobRow>, sqlx::Error> {
        sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR status = ?2)
               AND (?3 IS NULL OR seq < ?3)
             ORDER BY seq DESC LIMIT ?4",
        )
        .bind(tenant)
        .bind(status.map(JobStatus::name))
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    pub async fn update(&self, id: &str, update: Update<'_>) -> Result<Option<JobRow>, sqlx::Error> {
        let now = Utc::now();
        let finished = update.status.filter(|s| s.is_terminal()).map(|_| now);
        sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET
                status = COALESCE(?2, status),
                stage = CASE WHEN ?3 IS NOT NULL AND ?11 >= stage_rank THEN ?3 ELSE stage END,
                progress = CASE
                    WHEN ?4 IS NULL OR ?11 < stage_rank THEN progress
                    WHEN ?11 = stage_rank THEN MAX(progress, ?4)
                    ELSE ?4 END,
                stage_rank = CASE WHEN ?3 IS NOT NULL THEN MAX(stage_rank, ?11) ELSE stage_rank END,
                error = COALESCE(?5, error),
                language = COALESCE(?6, language),
                duration_ms = COALESCE(?7, duration_ms),
                exports = COALESCE(?8, exports),
                updated_at = ?9,
                finished_at = COALESCE(?10, finished_at)
             WHERE id = ?1 AND status NOT IN ('completed', 'failed', 'cancelled') AND (?12 = 0 OR attempt <= ?12)
             RETURNING *",
        )
        .bind(id)
        .bind(update.status.map(JobStatus::name))
        .bind(update.stage)
        .bind(update.progress)
        .bind(update.error)
        .bind(update.language)
        .bind(update.duration_ms)
        .bind(update.exports.map(sqlx::types::Json))
        .bind(now)
        .bind(finished)
        .bind(update.stage_rank)
        .bind(update.attempt)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn requeue(&self, id: &str, attempt: i32, stage: &str) -> Result<Option<JobRow>, sqlx::Error> {
        sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET status = 'queued', error = NULL, attempt = ?2, stage = ?3, stage_rank = 0, progress = 0,
                             finished_at = NULL, updated_at = ?4
             WHERE id = ?1 AND status = 'failed'
             RETURNING *",
        )
        .bind(id)
        .bind(attempt)
        .bind(stage)
        .bind(Utc::now())
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn delete(&self, id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM search_segments WHERE job_id = ?1").bind(id).execute(&self.pool).await?;
        sqlx::query("DELETE FROM webhook_attempts WHERE job_id = ?1").bind(id).execute(&self.pool).await?;
        let done = sqlx::query("DELETE FROM jobs WHERE id = ?1").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn index(
        &self,
        job_id: &str,
        tenant: &str,
        language: &str,
        rows: &[SearchRow<'_>],
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM search_segments WHERE job_id = ?1").bind(job_id).execute(&mut *tx).await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO search_segments (job_id, tenant, idx, start_ms, end_ms, speaker, speaker_name, language, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .bind(job_id)
            .bind(tenant)
            .bind(row.idx)
            .bind(row.start_ms)
            .bind(row.end_ms)
            .bind(row.speaker)
            .bind(row.speaker_name)
            .bind(language)
            .bind(row.text)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    pub async fn record_webhook(&self, row: &WebhookRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO webhook_attempts (job_id, number, at, url, http_status, delivered, last, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        )
        .bind(&row.job_id)
        .bind(row.number)
        .bind(row.at)
        .bind(&row.url)
        .bind(row.http_status)
        .bind(row.delivered)
        .bind(row.last)
        .bind(&row.error)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    pub async fn webhook_attempts(&self, job_id: &str) -> Result<Vec<WebhookRow>, sqlx::Error> {
        sqlx::query_as::<_, WebhookRow>("SELECT * FROM webhook_attempts WHERE job_id = ?1 ORDER BY number")
            .bind(job_id)
            .fetch_all(&self.pool)
            .await
    }

    pub async fn search(&self, query: &SearchQuery<'_>) -> Result<Vec<SearchHit>, sqlx::Error> {
        let Some(words) = fts5_query(query.text) else { return Ok(Vec::new()) };
        sqlx::query_as::<_, SearchHit>(
            "SELECT job_id, idx, start_ms, end_ms, speaker, speaker_name, language,
                    highlight(search_segments, 0, '<mark>', '</mark>') AS snippet,
                    -bm25(search_segments) AS rank
             FROM search_segments
             WHERE search_segments MATCH ?1 AND (?2 IS NULL OR tenant = ?2) AND (?3 IS NULL OR job_id = ?3)
               AND (?4 IS NULL OR lower(speaker) = lower(?4) OR lower(speaker_name) = lower(?4))
               AND (?5 IS NULL OR language = ?5)
               AND job_id IN (SELECT id FROM jobs WHERE status = 'completed')
             ORDER BY rank DESC, job_id, idx
             LIMIT ?6 OFFSET ?7",
        )
        .bind(words)
        .bind(query.tenant)
        .bind(query.job)
        .bind(query.speaker)
        .bind(query.language)
        .bind(query.limit)
        .bind(query.offset)
        .fetch_all(&self.pool)
        .await
    }

    pub async fn expired(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<JobRow>, sqlx::Error> {
        sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE finished_at < ?1 ORDER BY finished_at LIMIT ?2")
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
    }

    pub async fn fail_stalled(&self, before: DateTime<Utc>, reason: &str) -> Result<Vec<JobRow>, sqlx::Error> {
        let now = Utc::now();
        sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET status = 'failed', error = ?2, finished_at = ?3, updated_at = ?3
             WHERE status IN ('queued', 'running') AND updated_at < ?1
             RETURNING *",
        )
        .bind(before)
        .bind(reason)
        .bind(now)
        .fetch_all(&self.pool)
        .await
    }

    pub async fn mark_dispatched(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE jobs SET dispatched = 1 WHERE id = ?1").bind(id).execute(&self.pool).await.map(|_| ())
    }

    pub async fn undispatched(&self, grace_secs: i64, limit: i64) -> Result<Vec<JobRow>, sqlx::Error> {
        let cutoff = Utc::now() - chrono::Duration::seconds(grace_secs);
        sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs WHERE NOT dispatched AND status = 'queued' AND created_at < ?1 ORDER BY seq LIMIT ?2",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    pub async fn insert_key(&self, key: &KeyRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant, label, admin, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&key.id)
        .bind(&key.tenant)
        .bind(&key.label)
        .bind(key.admin)
        .bind(&key.secret_hash)
        .bind(key.created_at)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    pub async fn key(&self, id: &str) -> Result<Option<KeyRow>, sqlx::Error> {
        sqlx::query_as::<_, KeyRow>("SELECT * FROM api_keys WHERE id = ?1").bind(id).fetch_optional(&self.pool).await
    }

    pub async fn keys(&self) -> Result<Vec<KeyRow>, sqlx::Error> {
        sqlx::query_as::<_, KeyRow>("SELECT * FROM api_keys ORDER BY created_at").fetch_all(&self.pool).await
    }

    pub async fn revoke_key(&self, id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
            .bind(id)
            .bind(Utc::now())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Words as an FTS5 query that finds segments with all of them: each word
/// quoted (FTS5's own syntax never reaches it); `None` without any.
fn fts5_query(text: &str) -> Option<String> {
    let words: Vec<String> = text.split_whitespace().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
    (!words.is_empty()).then(|| words.join(" "))
}
