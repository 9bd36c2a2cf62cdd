//! End-to-end latency of one 30 s clip through the real system, split by
//! stage from the job's own events, and the transcribe stage's real-time
//! factor. Prints a table; asserts nothing about time.
//!
//! `cargo build --release --bins && cargo bench -p integration-tests --bench pipeline`

use integration_tests::{fixtures, harness};
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use steno_proto::v1::{EventKind, Stage};

const RUNS: usize = 3;

fn seconds(t: &Option<prost_types::Timestamp>) -> f64 {
    t.as_ref().map_or(0.0, |t| t.seconds as f64 + f64::from(t.nanos) / 1e9)
}

#[tokio::main]
async fn main() {
    let clip = fixtures::meeting_clip();
    // Transcribe with every core, as deployed (the test harness uses one).
    let system = harness::System::start_with(&[("STENO_TRANSCRIBE__THREADS", "0")]).await;
    let media = fixtures::serve_media().await;
    let api = system.api();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let mut stage_seconds: BTreeMap<(usize, String), Vec<f64>> = BTreeMap::new();
    let (mut walls, mut audio_seconds, mut wers) = (Vec::new(), 0.0, Vec::new());
    for _ in 0..RUNS {
        let clock = Instant::now();
        let id = api.submit_url(&format!("{media}/{clip}"), &["txt"]).await;
        let job = api.finished(&id, Duration::from_secs(600)).await;
        walls.push(clock.elapsed().as_secs_f64());
        assert_eq!(job["status"], "completed", "{job}");
        audio_seconds = job["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0;
        wers.push(fixtures::word_error_rate(fixtures::MEETING_TEXT, &api.transcript(&id, "txt").await));

        let mut last_done = None;
        let mut started_at = BTreeMap::new();
        for (event, _) in system.job_events(&id).await {
            let at = seconds(&event.at);
            let stage = event.stage();
            let name = steno_runtime::subjects::stage_name(stage);
            match event.kind() {
                EventKind::Queued => last_done = Some(at),
                EventKind::Started => {
                    if let Some(done) = last_done {
                        stage_seconds
                            .entry((stage as usize * 2, format!("{name} (queue wait)")))
                            .or_default()
                            .push(at - done);
                    }
                    started_at.insert(stage as i32, at);
                }
                EventKind::StageCompleted | EventKind::Completed => {
                    let start = started_at.get(&(stage as i32)).copied().unwrap_or(at);
                    stage_seconds.entry((stage as usize * 2 + 1, name.to_owned())).or_default().push(at - start);
                    last_done = Some(at);
                }
                _ => {}
            }
        }
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    system.stop().await;

    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "\n{RUNS} runs of a {audio_seconds:.1} s clip (flite), tiny.en-q8_0, {} cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!("load average before: {}  after: {}", load_before.trim(), load_after.trim());
    println!("\n| step | mean seconds | min | max |\n| --- | --- | --- | --- |");
    for ((_, name), values) in &stage_seconds {
        let (min, max) = values.iter().fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        println!("| {name} | {:.3} | {min:.3} | {max:.3} |", mean(values));
    }
    println!("| **end to end (client: submit → completed seen)** | {:.3} | | |", mean(&walls));
    let transcribe =
        stage_seconds.get(&(Stage::Transcribe as usize * 2 + 1, "transcribe".to_owned())).map_or(0.0, |v| mean(v));
    println!(
        "\ntranscribe real-time factor: {:.1}× real time ({audio_seconds:.1} s audio in {transcribe:.2} s)",
        audio_seconds / transcribe.max(1e-9)
    );
    println!("word error rate against the spoken text: {:.3} (mean)", mean(&wers));
}
