//! The ledger on Postgres: the database is created if missing; migrations
//! from `migrations/pg`.

use std::str::FromStr;

use sqlx::{
    ConnectOptions, Executor, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use chrono::{DateTime, Utc};

use super::{JobRow, JobStatus, KeyRow, NewJobRow, SearchHit, SearchQuery, SearchRow, Update, WebhookRow};

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects, creating the database if it does not exist, and migrates.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|e| anyhow::anyhow!("gateway.database_url: {e}"))?;
        create_database_if_missing(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("connect to Postgres: {e}"))?;
        sqlx::migrate!("./migrations/pg").run(&pool).await.map_err(|e| anyhow::anyhow!("run migrations: {e}"))?;
        Ok(Self { pool })
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.pool.execute("SELECT 1").await.map(|_| ())
    }

    pub async fn insert(&self, job: NewJobRow<'_>) -> Result<Option<JobRow>, sqlx::Error> {
        let query = sqlx::query_as::<_, JobRow>(
            "INSERT INTO jobs (id, idempotency_key, status, error, submitted_via, source_url, upload_name, options,
                               finished_at, dispatched, tenant)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $3 = 'failed' THEN now() END, $3 <> 'queued', $9)
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
        .bind(job.tenant);
        query.fetch_optional(&self.pool).await
    }

    pub async fn get(&self, id: &str, tenant: Option<&str>) -> Result<Option<JobRow>, sqlx::Error> {
        let query =
            sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)")
                .bind(id)
                .bind(tenant);
        query.fetch_optional(&self.pool).await
    }

    pub async fn find_existing(
        &self,
        tenant: &str,
        id: &str,
        key: Option<&str>,
    ) -> Result<Option<JobRow>, sqlx::Error> {
        let query = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs
             WHERE tenant = $1 AND (id = $2 OR ($3::text IS NOT NULL AND idempotency_key = $3)) LIMIT 1",
        )
        .bind(tenant)
        .bind(id)
        .bind(key);
        query.fetch_optional(&self.pool).await
    }

    pub async fn in_flight(&self, tenant: &str) -> Result<i64, sqlx::Error> {
        let query =
            sqlx::query_scalar("SELECT count(*) FROM jobs WHERE tenant = $1 AND status IN ('queued', 'running')")
                .bind(tenant);
        query.fetch_one(&self.pool).await
    }

    pub async fn list(
        &self,
        tenant: Option<&str>,
        status: Option<JobStatus>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<JobRow>, sqlx::Error> {
        let query = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs
             WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR status = $2)
               AND ($3::bigint IS NULL OR seq < $3)
             ORDER BY seq DESC LIMIT $4",
        )
        .bind(tenant)
        .bind(status.map(JobStatus::name))
        .bind(before)
        .bind(limit);
        query.fetch_all(&self.pool).await
    }

    pub async fn update(&self, id: &str, update: Update<'_>) -> Result<Option<JobRow>, sqlx::Error> {
        let query = sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET
                status = COALESCE($2, status),
                stage = CASE WHEN $3::text IS NOT NULL AND $9 >= stage_rank THEN $3 ELSE stage END,
                progress = CASE
                    WHEN $4::real IS NULL OR $9 < stage_rank THEN progress
                    WHEN $9 = stage_rank THEN GREATEST(progress, $4)
                    ELSE $4 END,
                stage_rank = CASE WHEN $3::text IS NOT NULL THEN GREATEST(stage_rank, $9) ELSE stage_rank END,
                error = COALESCE($5, error),
                language = COALESCE($6, language),
                duration_ms = COALESCE($7, duration_ms),
                exports = COALESCE($8, exports),
                updated_at = now(),
                finished_at = CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() ELSE finished_at END
             WHERE id = $1 AND status NOT IN ('completed', 'failed', 'cancelled') AND ($10 = 0 OR attempt <= $10)
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
        .bind(update.stage_rank)
        .bind(update.attempt);
        query.fetch_optional(&self.pool).await
    }

    pub async fn requeue(&self, id: &str, attempt: i32, stage: &str) -> Result<Option<JobRow>, sqlx::Error> {
        let query = sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET status = 'queued', error = NULL, attempt = $2, stage = $3, stage_rank = 0, progress = 0,
                             finished_at = NULL, updated_at = now()
             WHERE id = $1 AND status = 'failed'
             RETURNING *",
        )
        .bind(id)
        .bind(attempt)
        .bind(stage);
        query.fetch_optional(&self.pool).await
    }

    pub async fn delete(&self, id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM search_segments WHERE job_id = $1").bind(id).execute(&self.pool).await?;
        sqlx::query("DELETE FROM webhook_attempts WHERE job_id = $1").bind(id).execute(&self.pool).await?;
        let done = sqlx::query("DELETE FROM jobs WHERE id = $1").bind(id).execute(&self.pool).await?;
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
        sqlx::query("DELETE FROM search_segments WHERE job_id = $1").bind(job_id).execute(&mut *tx).await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO search_segments (job_id, tenant, idx, start_ms, end_ms, speaker, speaker_name, language, text)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
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
        sqlx::query_as::<_, WebhookRow>("SELECT * FROM webhook_attempts WHERE job_id = $1 ORDER BY number")
            .bind(job_id)
            .fetch_all(&self.pool)
            .await
    }

    pub async fn search(&self, query: &SearchQuery<'_>) -> Result<Vec<SearchHit>, sqlx::Error> {
        sqlx::query_as::<_, SearchHit>(
            "SELECT s.job_id, s.idx, s.start_ms, s.end_ms, s.speaker, s.speaker_name, s.language,
                    ts_headline('simple', s.text, q, 'StartSel=<mark>, StopSel=</mark>, HighlightAll=true') AS snippet,
                    ts_rank(s.document, q)::float8 AS rank
             FROM search_segments s, websearch_to_tsquery('simple', $1) q
             WHERE s.document @@ q AND ($2::text IS NULL OR s.tenant = $2) AND ($3::text IS NULL OR s.job_id = $3)
               AND ($4::text IS NULL OR lower(s.speaker) = lower($4) OR lower(s.speaker_name) = lower($4))
               AND ($5::text IS NULL OR s.language = $5)
               AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = s.job_id AND j.status = 'completed')
             ORDER BY rank DESC, s.job_id, s.idx
             LIMIT $6 OFFSET $7",
        )
        .bind(query.text)
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
        let query =
            sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE finished_at < $1 ORDER BY finished_at LIMIT $2")
                .bind(before)
                .bind(limit);
        query.fetch_all(&self.pool).await
    }

    pub async fn fail_stalled(&self, before: DateTime<Utc>, reason: &str) -> Result<Vec<JobRow>, sqlx::Error> {
        let query = sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET status = 'failed', error = $2, finished_at = now(), updated_at = now()
             WHERE status IN ('queued', 'running') AND updated_at < $1
             RETURNING *",
        )
        .bind(before)
        .bind(reason);
        query.fetch_all(&self.pool).await
    }

    pub async fn mark_dispatched(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE jobs SET dispatched = TRUE WHERE id = $1").bind(id).execute(&self.pool).await.map(|_| ())
    }

    pub async fn undispatched(&self, grace_secs: i64, limit: i64) -> Result<Vec<JobRow>, sqlx::Error> {
        let query = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs
             WHERE NOT dispatched AND status = 'queued' AND created_at < now() - make_interval(secs => $1)
             ORDER BY seq LIMIT $2",
        )
        .bind(grace_secs as f64)
        .bind(limit);
        query.fetch_all(&self.pool).await
    }
}

impl PgStore {
    pub async fn insert_key(&self, key: &KeyRow) -> Result<(), sqlx::Error> {
        let query = sqlx::query(
            "INSERT INTO api_keys (id, tenant, label, admin, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.id)
        .bind(&key.tenant)
        .bind(&key.label)
        .bind(key.admin)
        .bind(&key.secret_hash)
        .bind(key.created_at);
        query.execute(&self.pool).await.map(|_| ())
    }

    pub async fn key(&self, id: &str) -> Result<Option<KeyRow>, sqlx::Error> {
        let query = sqlx::query_as::<_, KeyRow>("SELECT * FROM api_keys WHERE id = $1").bind(id);
        query.fetch_optional(&self.pool).await
    }

    pub async fn keys(&self) -> Result<Vec<KeyRow>, sqlx::Error> {
        sqlx::query_as::<_, KeyRow>("SELECT * FROM api_keys ORDER BY created_at").fetch_all(&self.pool).await
    }

    pub async fn revoke_key(&self, id: &str) -> Result<bool, sqlx::Error> {
        let query = sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL").bind(id);
        Ok(query.execute(&self.pool).await?.rows_affected() > 0)
    }
}

async fn create_database_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = options.get_database().map(str::to_owned) else { return Ok(()) };
    let admin = options.clone().database("postgres");
    let mut last_error = None;
    // Postgres may still be starting (compose, CI): try for a while.
    for _ in 0..30 {
        match admin.connect().await {
            Ok(mut conn) => {
                let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await?;
                if !exists {
                    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
                    let created = conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}"))).await;
                    // Another gateway replica may have won the race.
                    if let Err(e) = created {
                        tracing::debug!(error = %e, "create database");
                    } else {
                        tracing::info!(database = name, "created database");
                    }
                }
                return Ok(());
            }
            Err(e) => {
                last_error = Some(e);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
    Err(anyhow::anyhow!("connect to Postgres: {}", last_error.map(|e| e.to_string()).unwrap_or_default()))
}
