//! Long media in bounded memory: 1, 10 and 60 minutes of speech (the flite
//! meeting clip repeated, with pauses) through the real system, one after
//! another on the same processes, recording each stage's peak resident
//! memory after each file, and transcribe's halfway through it too. Peak
//! RSS that does not grow with the length is the point. Prints a table;
//! asserts nothing about time.
//!
//! `cargo build --release --bins && cargo bench -p integration-tests --bench long_media`

use integration_tests::{fixtures, harness};
use std::time::{Duration, Instant};

use serde_json::json;

const MINUTES: [u32; 3] = [1, 10, 60];

#[tokio::main]
async fn main() {
    // `STENO_BENCH_WORD_TIMESTAMPS=0`: jobs without word times (no DTW).
    let word_times = std::env::var("STENO_BENCH_WORD_TIMESTAMPS").map_or(true, |v| v != "0");
    let files: Vec<(u32, String)> = MINUTES.iter().map(|&m| (m, fixtures::long_meeting(m))).collect();
    let system = harness::System::start_with(&[("STENO_TRANSCRIBE__THREADS", "0")]).await;
    let media = fixtures::serve_media().await;
    let api = system.api();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut rows = Vec::new();
    for (minutes, name) in &files {
        let clock = Instant::now();
        let body =
            json!({ "source_url": format!("{media}/{name}"), "formats": ["txt"], "word_timestamps": word_times });
        let (status, job) = api.submit(body).await;
        assert_eq!(status, 201, "{job}");
        let id = job["id"].as_str().expect("job id").to_owned();
        // Transcribe's high-water mark once a second, to compare halfway
        // through the file with its end.
        let mut peaks = Vec::new();
        let job = tokio::select! {
            job = api.finished(&id, Duration::from_secs(3600)) => job,
            () = async {
                loop {
                    peaks.push((clock.elapsed(), system.peak_rss_kib("transcribe")));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            } => unreachable!("the sampling never ends"),
        };
        assert_eq!(job["status"], "completed", "{job}");
        let wall = clock.elapsed().as_secs_f64();
        let halfway = peaks.iter().rev().find(|(t, _)| t.as_secs_f64() <= wall / 2.0).map_or(0, |(_, kib)| *kib);
        let text = api.transcript(&id, "txt").await;
        let words = text.split_whitespace().count();
        let rss = |service| system.peak_rss_kib(service) as f64 / 1024.0;
        rows.push(format!(
            "| {minutes} min | {wall:.0} s | {:.1}× | {words} | {:.0} MiB | {:.1} MiB | {:.1} MiB | {:.0} MiB |",
            f64::from(minutes * 60) / wall,
            rss("transcode"),
            halfway as f64 / 1024.0,
            rss("transcribe"),
            rss("diarize"),
        ));
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    system.stop().await;
    println!("\nload average before: {}  after: {}", load_before.trim(), load_after.trim());
    println!(
        "peak RSS is the process high-water mark after that file (files run in this order); word timestamps: {word_times}\n"
    );
    println!(
        "| audio | submit → completed | real time | words | transcode peak | transcribe peak halfway | transcribe peak | diarize peak |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
}
