//! One long file over 1, 2 and 3 transcribe replicas: the file split into
//! parts that every replica takes (`transcribe.split_after_secs`), against
//! one replica transcribing it whole. Prints a table of the transcribe
//! stage's time (its first `started` to its `stage_completed` event);
//! asserts nothing about time.
//!
//! `cargo build --release --bins && cargo bench -p integration-tests --bench fanout`

use integration_tests::{fixtures, harness};
use std::time::{Duration, Instant};

use serde_json::json;
use steno_proto::v1::{EventKind, Stage};

const MINUTES: u32 = 10;

/// Seconds between the first transcribe `started` event and its
/// `stage_completed`.
async fn transcribe_seconds(system: &harness::System, id: &str) -> f64 {
    let events = system.job_events(id).await;
    let at = |kind: EventKind| {
        events.iter().find(|(e, _)| e.stage() == Stage::Transcribe && e.kind() == kind).and_then(|(e, _)| e.at)
    };
    let (Some(start), Some(end)) = (at(EventKind::Started), at(EventKind::StageCompleted)) else { return f64::NAN };
    (end.seconds - start.seconds) as f64 + f64::from(end.nanos - start.nanos) / 1e9
}

fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

#[tokio::main]
async fn main() {
    let file = fixtures::long_meeting(MINUTES);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("\n{MINUTES} min of speech (flite meeting clip with pauses), tiny.en-q8_0, diarize off, {cores} cores");
    println!("load average before: {}\n", load_average());
    println!(
        "| transcribe replicas | whisper threads each | split into parts | transcribe stage | real time | speed-up | submit → completed | words | load average after |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let half = (cores / 2).max(1).to_string();
    let all = cores.to_string();
    // (replicas, threads each, split_after_secs); part_secs stays 120.
    let runs = [(1, &all, "0"), (1, &all, "300"), (2, &half, "300"), (3, &half, "300")];
    let mut base = None;
    for (replicas, threads, split_after) in runs {
        let env =
            [("STENO_TRANSCRIBE__THREADS", threads.as_str()), ("STENO_TRANSCRIBE__SPLIT_AFTER_SECS", split_after)];
        let system = harness::System::start_with_transcribers(replicas, &env).await;
        let media = fixtures::serve_media().await;
        let api = system.api();

        let clock = Instant::now();
        let (status, job) =
            api.submit(json!({ "source_url": format!("{media}/{file}"), "formats": ["txt"], "diarize": false })).await;
        assert_eq!(status, 201, "{job}");
        let id = job["id"].as_str().expect("job id").to_owned();
        let job = api.finished(&id, Duration::from_secs(1800)).await;
        assert_eq!(job["status"], "completed", "{job}");
        let wall = clock.elapsed().as_secs_f64();
        let stage = transcribe_seconds(&system, &id).await;
        let parts = system
            .job_events(&id)
            .await
            .iter()
            .find_map(|(e, _)| e.message.strip_prefix("split into ").map(|m| m.trim_end_matches(" parts").to_owned()))
            .unwrap_or_else(|| "no".into());
        let words = api.transcript(&id, "txt").await.split_whitespace().count();
        let base_stage = *base.get_or_insert(stage);
        println!(
            "| {replicas} | {threads} | {parts} | {stage:.1} s | {:.1}× | {:.2}× | {wall:.1} s | {words} | {} |",
            f64::from(MINUTES * 60) / stage,
            base_stage / stage,
            load_average()
        );
        system.stop().await;
    }
}
