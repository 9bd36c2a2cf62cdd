//! Nothing is kept past its time: `DELETE` removes a job and everything it
//! left at once; the janitor removes jobs finished longer ago than
//! `retention.days`, and artifacts no job owns.

use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;

use crate::{
    api::Api,
    fixtures::serve_media,
    harness::{System, wait_until},
};

/// Names of the objects stored for `job`.
async fn artifacts_of(js: &jetstream::Context, job: &str) -> Vec<String> {
    let store = js.get_object_store("steno-artifacts").await.expect("bucket");
    let mut list = store.list().await.expect("list");
    let mut names = Vec::new();
    while let Some(Ok(info)) = list.next().await {
        if info.name.starts_with(&format!("{job}/")) {
            names.push(info.name);
        }
    }
    names
}

/// How many events of `job` the events stream holds.
async fn events_of(js: &jetstream::Context, job: &str) -> usize {
    let stream = js.get_stream("STENO_EVENTS").await.expect("events");
    let mut subjects = stream.info_with_subjects(format!("steno.events.{job}.>")).await.expect("info");
    let mut count = 0;
    while let Some(Ok((_, n))) = subjects.next().await {
        count += n;
    }
    count
}

async fn complete_a_job(api: &Api, media: &str) -> String {
    let id = api.submit_plain(&format!("{media}/speech.wav")).await;
    assert_eq!(api.finished(&id, Duration::from_secs(120)).await["status"], "completed");
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_and_the_janitor_leave_nothing_behind() {
    let env = [("STENO_RETENTION__SWEEP_INTERVAL_SECS", "1"), ("STENO_RETENTION__ORPHAN_GRACE_SECS", "2")];
    let system = System::start_with(&env).await;
    let media = serve_media().await;
    let api = system.api();
    let js = jetstream::new(async_nats::connect(&system.nats_url).await.expect("connect"));

    // DELETE: gone at once, everywhere.
    let deleted = complete_a_job(&api, &media).await;
    assert!(!artifacts_of(&js, &deleted).await.is_empty());
    let response = api.http.delete(format!("{}/v1/jobs/{deleted}", api.base)).send().await.expect("delete");
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(api.get(&format!("/v1/jobs/{deleted}")).await.0, 404);
    assert!(artifacts_of(&js, &deleted).await.is_empty());
    assert_eq!(events_of(&js, &deleted).await, 0);
    let response = api.http.delete(format!("{}/v1/jobs/{deleted}", api.base)).send().await.expect("delete");
    assert_eq!(response.status().as_u16(), 404);

    // Retention: a job finished 31 days ago (retention.days is 30) goes.
    let expired = complete_a_job(&api, &media).await;
    let kept = complete_a_job(&api, &media).await;
    let ledger = sqlx::PgPool::connect(&system.database_url()).await.expect("ledger");
    sqlx::query("UPDATE jobs SET finished_at = now() - interval '31 days' WHERE id = $1")
        .bind(&expired)
        .execute(&ledger)
        .await
        .expect("age the job");
    // An upload whose job was never recorded.
    let store = js.get_object_store("steno-artifacts").await.expect("bucket");
    store.put("never-recorded/source", &mut &b"orphan bytes"[..]).await.expect("put");

    wait_until("the janitor to remove the expired job", Duration::from_secs(30), || async {
        let gone = api.get(&format!("/v1/jobs/{expired}")).await.0 == 404
            && artifacts_of(&js, &expired).await.is_empty()
            && artifacts_of(&js, "never-recorded").await.is_empty();
        gone.then_some(())
    })
    .await;
    assert_eq!(events_of(&js, &expired).await, 0);
    assert_eq!(api.job(&kept).await["status"], "completed");
    assert!(!artifacts_of(&js, &kept).await.is_empty(), "a job within retention keeps its artifacts");
    ledger.close().await;
    system.stop().await;
}
