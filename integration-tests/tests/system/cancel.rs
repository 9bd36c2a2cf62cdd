//! Cancelling a job stops the work on it wherever it is: the running stage
//! (ffmpeg, whisper.cpp, diarization) is abandoned, its in-progress gauge
//! returns to 0, and no later stage runs.

use std::time::{Duration, Instant};

use steno_proto::v1::{EventKind, Stage};

use crate::{
    fixtures::serve_media,
    harness::{System, metrics_at, slow_ffmpeg, wait_until},
};

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_running_stage_stops_it_and_nothing_after_runs() {
    let tools = tempfile::tempdir().expect("tempdir");
    let ffmpeg = slow_ffmpeg(tools.path());
    let system = System::start_with(&[("STENO_TRANSCODE__FFMPEG", ffmpeg.as_str())]).await;
    let media = serve_media().await;
    let api = system.api();
    for (name, stage) in
        [("transcode", Stage::Transcode), ("transcribe", Stage::Transcribe), ("diarize", Stage::Diarize)]
    {
        let id = api.submit_url(&format!("{media}/long.wav"), &["txt"]).await;
        let port = system.ops_port(name);
        let busy = format!("steno_stage_in_progress{{stage=\"{name}\"}} 1");
        wait_until(&format!("{name} to take the task"), Duration::from_secs(120), || async {
            metrics_at(port).await.contains(&busy).then_some(())
        })
        .await;

        let asked = Instant::now();
        let response = api.http.post(format!("{}/v1/jobs/{id}/cancel", api.base)).send().await.expect("cancel");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(api.job(&id).await["status"], "cancelled");
        let stopped = [
            format!("steno_stage_in_progress{{stage=\"{name}\"}} 0"),
            format!("steno_stage_tasks_total{{outcome=\"cancelled\",stage=\"{name}\"}} 1"),
        ];
        wait_until(&format!("{name} to stop"), Duration::from_secs(30), || async {
            let metrics = metrics_at(port).await;
            stopped.iter().all(|m| metrics.contains(m)).then_some(())
        })
        .await;
        eprintln!("{name} stopped {:?} after the cancel request", asked.elapsed());

        // Nothing after it ran: the stage did not hand the job on.
        let events = system.job_events(&id).await;
        let after = events.iter().map(|(e, _)| e).filter(|e| {
            e.kind() == EventKind::Completed || (e.kind() == EventKind::StageCompleted && e.stage() == stage)
        });
        assert_eq!(after.count(), 0, "{name}: {events:?}");
        assert_eq!(api.job(&id).await["status"], "cancelled");
    }
    let export = system.metrics("export").await;
    assert!(!export.contains("steno_stage_tasks_total{"), "export ran: {export}");
    system.stop().await;
}
