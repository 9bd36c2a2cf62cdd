//! Search over the tenant's finished transcripts: segments are indexed
//! just before the ledger records a job's completion and again when its
//! speakers are renamed; `GET /v1/search` finds them (Postgres full text,
//! SQLite FTS5 in the embedded ledger), scoped by tenant and to completed
//! jobs in the query itself.

use serde::{Deserialize, Serialize};
use steno_runtime::{JobId, artifacts::Artifacts, transcript::Transcript};

use crate::{
    auth::Caller,
    error::ApiError,
    jobs::Jobs,
    store::{SearchHit, SearchQuery, SearchRow, Store},
};

/// Hits per page when `limit` is not given, and the most a page may hold.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// The longest query.
const MAX_QUERY_CHARS: usize = 200;

/// Replaces the job's segments in the index with `transcript`'s.
pub async fn index(store: &Store, job_id: &str, tenant: &str, transcript: &Transcript) -> Result<(), sqlx::Error> {
    let name = |id: &str| transcript.speakers.iter().find(|s| s.id == id).map(|s| s.name.as_str());
    let rows: Vec<SearchRow> = transcript
        .segments
        .iter()
        .enumerate()
        .map(|(idx, s)| SearchRow {
            idx: idx as i64,
            start_ms: s.start_ms as i64,
            end_ms: s.end_ms as i64,
            speaker: s.speaker.as_deref(),
            speaker_name: s.speaker.as_deref().and_then(name),
            text: &s.text,
        })
        .collect();
    store.index(job_id, tenant, &transcript.language, &rows).await
}

/// Indexes a job that just completed from its final transcript (the
/// artifact its `completed` event names). A failure is logged, not
/// retried: the job stays completed, and is indexed again on a rename.
pub async fn index_completed(store: &Store, artifacts: &Artifacts, job_id: &str, tenant: &str, transcript: &str) {
    let indexed = async {
        let id = JobId::parse(job_id)?;
        let transcript: Transcript = artifacts.get_json(&id, transcript).await?;
        index(store, job_id, tenant, &transcript).await?;
        anyhow::Ok(transcript.segments.len())
    };
    match indexed.await {
        Ok(segments) => tracing::debug!(job_id, segments, "indexed for search"),
        Err(e) => tracing::warn!(job_id, error = format!("{e:#}"), "not indexed for search"),
    }
}

/// `GET /v1/search` parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The words to find (all of them).
    #[param(required = true)]
    pub q: Option<String>,
    /// A speaker id (`S1`) or name.
    pub speaker: Option<String>,
    /// A job id.
    pub job: Option<String>,
    /// A language code (`en`).
    pub language: Option<String>,
    /// Hits per page, 1-100 (default 20).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub next_cursor: Option<String>,
}

impl Jobs {
    /// The caller's segments matching `params`, best first.
    pub async fn search(&self, caller: &Caller, params: &SearchParams) -> Result<SearchPage, ApiError> {
        let text = params.q.as_deref().map(str::trim).unwrap_or_default();
        if text.is_empty() {
            return Err(ApiError::invalid("q", "give the words to search for"));
        }
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::invalid("q", format!("must be at most {MAX_QUERY_CHARS} characters")));
        }
        let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let offset = match params.cursor.as_deref() {
            None => 0,
            Some(cursor) => cursor
                .parse::<u32>()
                .map_err(|_| ApiError::invalid("cursor", "is not a cursor this search returned"))?,
        };
        let texts = [("q", text), ("speaker", params.speaker.as_deref().unwrap_or_default())];
        for (field, value) in texts {
            crate::submission::refuse_nul(field, value)?;
        }
        let query = SearchQuery {
            tenant: caller.scope(),
            text,
            speaker: params.speaker.as_deref().filter(|s| !s.is_empty()),
            job: params.job.as_deref().filter(|j| !j.is_empty()),
            language: params.language.as_deref().filter(|l| !l.is_empty()),
            limit: i64::from(limit) + 1,
            offset: i64::from(offset),
        };
        let mut hits = self.store.search(&query).await?;
        let next_cursor = (hits.len() > limit as usize).then(|| (offset + limit).to_string());
        hits.truncate(limit as usize);
        Ok(SearchPage { hits, next_cursor })
    }
}
