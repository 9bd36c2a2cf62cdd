//! Short jobs: many 3 s clips submitted at once to a system on one
//! machine (one replica of each stage, default options, so diarized too),
//! with the clip encoded as 10 s (`transcribe.min_window_secs = 10`, the
//! default) and as whisper's whole 30 s window (`0`). Prints jobs a minute
//! end to end; asserts nothing about time.
//!
//! `cargo build --release --bins && cargo bench -p integration-tests --bench short_jobs`
//! (`STENO_SHORT_JOBS=N` for another count than 150).

use integration_tests::{fixtures, harness};
use std::{
    process::Command,
    time::{Duration, Instant},
};

#[tokio::main]
async fn main() {
    let jobs: usize = std::env::var("STENO_SHORT_JOBS").ok().and_then(|n| n.parse().ok()).unwrap_or(150);
    let clip = "short-3s.wav";
    fixtures::run(
        Command::new("flite")
            .args(["-voice", "slt", "-t", "Please send the quarterly report to the finance team.", "-o"])
            .arg(fixtures::media_dir().join(clip)),
    );
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut rows = Vec::new();
    for window in ["10", "0"] {
        let system = harness::System::start_with(&[("STENO_TRANSCRIBE__MIN_WINDOW_SECS", window)]).await;
        let media = fixtures::serve_media().await;
        let api = system.api();
        let clock = Instant::now();
        let mut ids = Vec::new();
        for _ in 0..jobs {
            ids.push(api.submit_url(&format!("{media}/{clip}"), &["txt"]).await);
        }
        for id in &ids {
            let job = api.finished(id, Duration::from_secs(3600)).await;
            assert_eq!(job["status"], "completed", "{job}");
        }
        let wall = clock.elapsed().as_secs_f64();
        let text = api.transcript(&ids[0], "txt").await;
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        rows.push(format!(
            "| {window} | {jobs} | {wall:.1} | {:.0} | {:.2} | {} | {} |",
            jobs as f64 * 60.0 / wall,
            wall / jobs as f64,
            text.trim(),
            load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        ));
        system.stop().await;
    }
    println!(
        "\n{jobs} jobs of a 3.3 s clip submitted at once, tiny.en-q8_0, {cores} cores, one replica of each stage\n"
    );
    println!(
        "| transcribe.min_window_secs | jobs | wall s | jobs a minute | s a job | first job's text | load average after |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    rows.iter().for_each(|row| println!("{row}"));
}
