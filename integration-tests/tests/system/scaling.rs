//! Per-service scaling: three transcribe processes share one durable
//! consumer. Six jobs each complete exactly once, and the work is spread
//! over the replicas. (Throughput is measured by `benches/scaling.rs`.)

use std::time::Duration;

use crate::{
    fixtures::{SPEECH_TEXT, serve_media, word_error_rate},
    harness::{System, metrics_at},
};

async fn transcribed_by(port: u16) -> u64 {
    let metrics = metrics_at(port).await;
    metrics
        .lines()
        .find(|l| l.starts_with("steno_stage_tasks_total{outcome=\"ok\",stage=\"transcribe\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn three_transcribe_replicas_share_six_jobs_each_done_once() {
    let system = System::start_with_transcribers(3, &[]).await;
    let media = serve_media().await;
    let api = system.api();

    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(api.submit_url(&format!("{media}/speech.wav"), &["txt"]).await);
    }
    for id in &ids {
        let job = api.finished(id, Duration::from_secs(300)).await;
        assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
        let wer = word_error_rate(SPEECH_TEXT, &api.transcript(id, "txt").await);
        assert!(wer <= 0.25, "job {id}: word error rate {wer}");
    }

    let ports: Vec<u16> = system.ops_ports.iter().filter(|(s, _)| *s == "transcribe").map(|(_, p)| *p).collect();
    assert_eq!(ports.len(), 3);
    let mut per_replica = Vec::new();
    for port in ports {
        per_replica.push(transcribed_by(port).await);
    }
    assert_eq!(per_replica.iter().sum::<u64>(), 6, "each job transcribed exactly once: {per_replica:?}");
    assert!(per_replica.iter().filter(|n| **n > 0).count() >= 2, "work spread across replicas: {per_replica:?}");
    system.stop().await;
}
