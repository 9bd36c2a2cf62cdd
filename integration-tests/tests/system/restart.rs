//! A stage can stop and come back without losing work: tasks wait in its
//! queue (visible as queue depth), SIGTERM stops it cleanly, and a restarted
//! replica picks them up. Cancelled jobs are skipped, not processed.

use std::time::Duration;

use serde_json::Value;

use crate::{
    fixtures::{SPEECH_TEXT, serve_media, word_error_rate},
    harness::{System, wait_until},
};

#[tokio::test(flavor = "multi_thread")]
async fn stopped_stage_keeps_its_queue_and_cancelled_jobs_are_skipped() {
    let mut system = System::start().await;
    let media = serve_media().await;
    let api = system.api();

    system.stop_service("transcribe");
    let kept = api.submit_url(&format!("{media}/speech.wav"), &["txt"]).await;
    let cancelled = api.submit_url(&format!("{media}/speech.mp3"), &["txt"]).await;

    // Both wait in the transcribe queue, as JetStream reports it.
    let nats = async_nats::connect(&system.nats_url).await.expect("connect");
    let js = async_nats::jetstream::new(nats);
    wait_until("two tasks queued for transcribe", Duration::from_secs(60), || async {
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            js.get_consumer_from_stream("transcribe", "STENO_TRANSCRIBE").await.ok()?;
        let info = consumer.info().await.ok()?;
        (info.num_pending + info.num_ack_pending as u64 == 2).then_some(())
    })
    .await;
    for id in [&kept, &cancelled] {
        let job = api.job(id).await;
        assert!(matches!(job["status"].as_str(), Some("queued" | "running")), "{job}");
    }

    let response = api.http.post(format!("{}/v1/jobs/{cancelled}/cancel", api.base)).send().await.expect("cancel");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(api.job(&cancelled).await["status"], "cancelled");

    system.start_service("transcribe");
    let job = api.finished(&kept, Duration::from_secs(180)).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
    let wer = word_error_rate(SPEECH_TEXT, &api.transcript(&kept, "txt").await);
    assert!(wer <= 0.25, "word error rate {wer}");

    // The cancelled job's task was consumed and skipped; the job stays cancelled.
    let metrics_url = format!("http://127.0.0.1:{}/metrics", system.ops_port("transcribe"));
    wait_until("the cancelled task to be skipped", Duration::from_secs(30), || async {
        let metrics = reqwest::get(&metrics_url).await.ok()?.text().await.ok()?;
        metrics.contains("steno_stage_tasks_total{outcome=\"cancelled\",stage=\"transcribe\"} 1").then_some(())
    })
    .await;
    let job: Value = api.job(&cancelled).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    let response = api.http.post(format!("{}/v1/jobs/{kept}/cancel", api.base)).send().await.expect("cancel");
    assert_eq!(response.status().as_u16(), 409, "a finished job cannot be cancelled");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transcriber_killed_mid_job_loses_nothing() {
    // A short ack_wait so the crashed worker's task comes back quickly.
    let mut system = System::start_with(&[("STENO_WORKER__ACK_WAIT_SECS", "4")]).await;
    let media = serve_media().await;
    let api = system.api();
    let id = api.submit_url(&format!("{media}/long.wav"), &["txt"]).await;
    wait_until("transcription to start", Duration::from_secs(60), || async {
        let job = api.job(&id).await;
        (job["stage"] == "transcribe" && job["status"] == "running").then_some(())
    })
    .await;
    system.kill_service("transcribe");
    assert_ne!(api.job(&id).await["status"], "completed", "the clip is long enough to be cut off");

    system.start_service("transcribe");
    let job = api.finished(&id, Duration::from_secs(240)).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
    let text = api.transcript(&id, "txt").await;
    let expected = [SPEECH_TEXT; 6].join(" ");
    let wer = word_error_rate(&expected, &text);
    assert!(wer <= 0.25, "word error rate {wer}: {text}");
    let metrics = system.metrics("transcribe").await;
    assert!(metrics.contains("steno_stage_redeliveries_total{stage=\"transcribe\"} 1"), "{metrics}");
    assert!(metrics.contains("steno_stage_tasks_total{outcome=\"ok\",stage=\"transcribe\"} 1"), "{metrics}");
    system.stop().await;
}
