//! Nothing is lost when things break: a task whose worker dies during every
//! attempt ends its job `failed` with a reason, kept in `STENO_DLQ`, and
//! `retry` completes it; a job recorded by a gateway that stopped before
//! publishing its first task is queued when a gateway runs again.

use std::time::Duration;

use async_nats::jetstream;
use serde_json::{Value, json};

use crate::{
    fixtures::{SPEECH_TEXT, serve_media, word_error_rate},
    harness::{System, wait_until},
};

/// Waits until the running transcriber is working on a task.
async fn transcribing(system: &System) {
    let port = system.ops_port("transcribe");
    wait_until("transcribe to take the task", Duration::from_secs(60), || async {
        let metrics = crate::harness::metrics_at(port).await;
        metrics.contains("steno_stage_in_progress{stage=\"transcribe\"} 1").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_killed_at_every_attempt_is_dead_lettered_and_retry_completes_it() {
    // Short ack_wait: a killed worker's task comes back quickly.
    let env = [("STENO_WORKER__MAX_DELIVER", "2"), ("STENO_WORKER__ACK_WAIT_SECS", "3")];
    let mut system = System::start_with(&env).await;
    let media = serve_media().await;
    let api = system.api();
    let id = api.submit_plain(&format!("{media}/long.wav")).await;

    for _attempt in 0..2 {
        transcribing(&system).await;
        system.kill_service("transcribe");
        system.start_service("transcribe");
        system.wait_ready().await;
    }
    let job = api.finished(&id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "failed", "{job}\n{}", system.logs());
    let error = job["error"].as_str().unwrap_or_default();
    assert!(error.contains("transcribe stopped during every one of 2 attempts"), "{error}");

    // The task is kept in the dead letters with why, and gone from its queue.
    let js = jetstream::new(async_nats::connect(&system.nats_url).await.expect("connect"));
    let dlq = js.get_stream("STENO_DLQ").await.expect("dead letters");
    let letter = dlq.get_last_raw_message_by_subject(&format!("steno.dlq.transcribe.{id}")).await.expect("letter");
    assert_eq!(letter.headers.get("Steno-Attempts").map(|v| v.as_str()), Some("2"));
    let reason = letter.headers.get("Steno-Reason").map(|v| v.as_str().to_owned()).unwrap_or_default();
    assert!(reason.contains("stopped during every one"), "{reason}");
    let mut queue = js.get_stream("STENO_TRANSCRIBE").await.expect("stream");
    assert_eq!(queue.info().await.expect("info").state.messages, 0, "the stranded task is removed");
    let metrics = system.metrics("gateway").await;
    assert!(metrics.contains("steno_dead_letters_total{kind=\"stranded\",source=\"transcribe\"} 1"), "{metrics}");

    // Retry requeues it from transcribe, keeping the audio already made.
    let response = api.http.post(format!("{}/v1/jobs/{id}/retry", api.base)).send().await.expect("retry");
    assert_eq!(response.status().as_u16(), 200);
    let retried: Value = response.json().await.expect("job");
    assert_eq!(retried["status"], "queued", "{retried}");
    let job = api.finished(&id, Duration::from_secs(240)).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
    let wer = word_error_rate(&[SPEECH_TEXT; 6].join(" "), &api.transcript(&id, "txt").await);
    assert!(wer <= 0.25, "word error rate {wer}");
    let events = system.job_events(&id).await;
    let transcodes = events.iter().filter(|(e, _)| e.kind() == steno_proto::v1::EventKind::Started && e.stage == 2);
    assert_eq!(transcodes.count(), 1, "retry starts from the failed stage, not from the beginning");
    assert!(dlq.get_last_raw_message_by_subject(&format!("steno.dlq.transcribe.{id}")).await.is_err());

    // A job that is not failed cannot be retried.
    let response = api.http.post(format!("{}/v1/jobs/{id}/retry", api.base)).send().await.expect("retry");
    assert_eq!(response.status().as_u16(), 409);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_recorded_but_never_queued_is_queued_by_the_next_gateway() {
    let mut system = System::start().await;
    let media = serve_media().await;
    let api = system.api();

    // What a gateway leaves when it stops between the insert and the
    // publish: a queued row whose first task was never published.
    system.stop_service("gateway");
    let id = format!("stranded-{}", uuid::Uuid::new_v4().simple());
    let ledger = sqlx::PgPool::connect(&system.database_url()).await.expect("ledger");
    let options = json!({ "formats": ["txt"], "diarize": false });
    sqlx::query(
        "INSERT INTO jobs (id, tenant, status, submitted_via, source_url, options, dispatched)
         VALUES ($1, 'test', 'queued', 'rest', $2, $3, FALSE)",
    )
    .bind(&id)
    .bind(format!("{media}/speech.wav"))
    .bind(&options)
    .execute(&ledger)
    .await
    .expect("insert");

    system.start_service("gateway");
    system.wait_ready().await;
    // A bound on liveness, not speed: the whole suite shares two cores.
    let job = api.finished(&id, Duration::from_secs(300)).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
    let wer = word_error_rate(SPEECH_TEXT, &api.transcript(&id, "txt").await);
    assert!(wer <= 0.25, "word error rate {wer}");
    let dispatched: bool = sqlx::query_scalar("SELECT dispatched FROM jobs WHERE id = $1")
        .bind(&id)
        .fetch_one(&ledger)
        .await
        .expect("row");
    assert!(dispatched);
    ledger.close().await;
    system.stop().await;
}
