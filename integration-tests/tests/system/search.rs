//! Search over finished transcripts, on both ledgers (Postgres full text,
//! SQLite FTS5): ranked hits with times, speaker and a highlighted
//! snippet; scoped to the tenant; filters; renamed speakers found by name;
//! a deleted job gone from it.

use std::time::Duration;

use serde_json::Value;

use crate::{
    api::Api,
    fixtures::{media_dir, meeting_clip},
    harness::System,
};

async fn search(api: &Api, query: &str) -> Vec<Value> {
    let (status, body) = api.get(&format!("/v1/search?{query}")).await;
    assert_eq!(status, 200, "search {query}: {body}");
    let page: Value = serde_json::from_str(&body).expect("JSON");
    page["hits"].as_array().expect("hits").clone()
}

fn jobs_of(hits: &[Value]) -> Vec<&str> {
    let mut jobs: Vec<&str> = hits.iter().filter_map(|h| h["job_id"].as_str()).collect();
    jobs.dedup();
    jobs
}

async fn completed_upload(api: &Api, file: &str) -> String {
    let (status, job) = api.upload(&media_dir().join(file), &[("formats", "json")]).await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    let job = api.finished(&id, Duration::from_secs(300)).await;
    assert_eq!(job["status"], "completed", "{job}");
    // The ledger indexes a transcript before it marks the job completed,
    // so a job that reads completed is found at once.
    assert!(!search(api, &format!("q=the&job={id}")).await.is_empty(), "completed {id} is not indexed");
    id
}

async fn search_works(system: &System) {
    let api = system.api();
    let other = Api::new(&system.http, &system.create_key("search-other", false));
    let speech = completed_upload(&api, "speech.wav").await;
    let meeting = completed_upload(&api, meeting_clip()).await;
    let theirs = completed_upload(&other, "speech.wav").await;

    // A word found in one job, with times, speaker and the word marked.
    let hits = search(&api, "q=milk").await;
    assert_eq!(jobs_of(&hits), [speech.as_str()], "{hits:?}");
    let hit = &hits[0];
    assert!(hit["snippet"].as_str().is_some_and(|s| s.to_lowercase().contains("<mark>milk</mark>")), "{hit}");
    assert!(hit["end_ms"].as_i64() > hit["start_ms"].as_i64(), "{hit}");
    assert_eq!(hit["speaker"], "S1", "{hit}");
    // The other tenant finds only its own.
    assert_eq!(jobs_of(&search(&other, "q=milk").await), [theirs.as_str()]);

    // Ranked: best first; every word must match; filters narrow.
    let hits = search(&api, "q=the").await;
    let scores: Vec<f64> = hits.iter().filter_map(|h| h["score"].as_f64()).collect();
    assert!(scores.len() >= 2 && scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(search(&api, "q=milk%20survey").await.is_empty(), "all words must match");
    assert_eq!(jobs_of(&search(&api, &format!("q=the&job={meeting}")).await), [meeting.as_str()]);
    assert!(search(&api, "q=milk&language=de").await.is_empty());
    let (status, body) = api.get("/v1/search?q=").await;
    assert!(status == 422 && body.contains("\"q\""), "{status} {body}");

    // A renamed speaker is found by name, and filtered on.
    let renamed =
        api.http.patch(format!("{}/v1/jobs/{speech}/speakers", api.base)).json(&serde_json::json!({ "S1": "Zebulon" }));
    assert_eq!(renamed.send().await.expect("rename").status().as_u16(), 200);
    assert_eq!(jobs_of(&search(&api, "q=zebulon").await), [speech.as_str()]);
    let by_name = search(&api, "q=milk&speaker=zebulon").await;
    assert!(!by_name.is_empty() && by_name.iter().all(|h| h["speaker_name"] == "Zebulon"), "{by_name:?}");

    // A deleted job is gone from search.
    let deleted = api.http.delete(format!("{}/v1/jobs/{speech}", api.base)).send().await.expect("delete");
    assert_eq!(deleted.status().as_u16(), 204);
    assert!(search(&api, "q=milk").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn search_on_postgres() {
    let system = System::start().await;
    search_works(&system).await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn search_on_the_embedded_ledger() {
    let db = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", db.path().join("steno.db").display());
    let system = System::start_with(&[("DATABASE_URL", url.as_str())]).await;
    search_works(&system).await;
    system.stop().await;
}
