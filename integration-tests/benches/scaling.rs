//! Throughput of the whole system with 1, 2 and 3 transcribe replicas on six
//! 30 s jobs submitted at once. Prints a table; asserts nothing about time.
//!
//! `cargo build --release --bins && cargo bench -p integration-tests --bench scaling`

use integration_tests::{fixtures, harness};
use std::time::{Duration, Instant};

const JOBS: usize = 6;

#[tokio::main]
async fn main() {
    let clip = fixtures::meeting_clip();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("\n{JOBS} jobs of a ~31 s clip submitted at once, tiny.en-q8_0, {cores} cores");
    println!(
        "\n| transcribe replicas | whisper threads each | wall seconds | jobs per minute | speed-up | load average after |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut base = None;
    // Threads per replica: all cores (the default), and the cores shared out.
    let runs = [(1, cores), (2, cores), (2, (cores / 2).max(1)), (3, (cores / 3).max(1))];
    for (replicas, threads) in runs {
        let threads_env = threads.to_string();
        let system =
            harness::System::start_with_transcribers(replicas, &[("STENO_TRANSCRIBE__THREADS", &threads_env)]).await;
        let media = fixtures::serve_media().await;
        let api = system.api();
        let clock = Instant::now();
        let mut ids = Vec::new();
        for _ in 0..JOBS {
            ids.push(api.submit_url(&format!("{media}/{clip}"), &["txt"]).await);
        }
        for id in &ids {
            let job = api.finished(id, Duration::from_secs(900)).await;
            assert_eq!(job["status"], "completed", "{job}");
        }
        let wall = clock.elapsed().as_secs_f64();
        let base_wall = *base.get_or_insert(wall);
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "| {replicas} | {threads} | {wall:.2} | {:.1} | {:.2}× | {} |",
            JOBS as f64 * 60.0 / wall,
            base_wall / wall,
            load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
        system.stop().await;
    }
}
