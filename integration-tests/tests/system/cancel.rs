//! Cancelling a job stops the work on it wherever it is: the running
//! transcription is abandoned, and no later stage runs.

use std::time::{Duration, Instant};

use serde_json::json;
use steno_proto::v1::{EventKind, Stage};

use crate::{
    api::Api,
    fixtures::serve_media,
    harness::{System, metrics_at, wait_until},
};

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_running_transcription_stops_it_and_nothing_after_runs() {
    let system = System::start().await;
    let media = serve_media().await;
    let api = Api::new(&system.http);
    let (status, job) =
        api.submit(json!({ "source_url": format!("{media}/long.wav"), "formats": ["txt"], "diarize": false })).await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    let transcribe = system.ops_port("transcribe");
    wait_until("transcribe to take the task", Duration::from_secs(60), || async {
        metrics_at(transcribe).await.contains("steno_stage_in_progress{stage=\"transcribe\"} 1").then_some(())
    })
    .await;

    let asked = Instant::now();
    let response = api.http.post(format!("{}/v1/jobs/{id}/cancel", api.base)).send().await.expect("cancel");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(api.job(&id).await["status"], "cancelled");
    wait_until("the transcription to stop", Duration::from_secs(30), || async {
        let metrics = metrics_at(transcribe).await;
        let stopped = metrics.contains("steno_stage_in_progress{stage=\"transcribe\"} 0")
            && metrics.contains("steno_stage_tasks_total{outcome=\"cancelled\",stage=\"transcribe\"} 1");
        stopped.then_some(())
    })
    .await;
    eprintln!("transcription stopped {:?} after the cancel request", asked.elapsed());

    // Nothing after it ran: no transcript, no export task, no completion.
    let events = system.job_events(&id).await;
    let after = events.iter().map(|(e, _)| e).filter(|e| {
        e.kind() == EventKind::Completed || (e.kind() == EventKind::StageCompleted && e.stage() == Stage::Transcribe)
    });
    assert_eq!(after.count(), 0, "{events:?}");
    let export = system.metrics("export").await;
    assert!(!export.contains("steno_stage_tasks_total{"), "export ran: {export}");
    assert_eq!(api.job(&id).await["status"], "cancelled");
    system.stop().await;
}
