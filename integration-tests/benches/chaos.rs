//! Chaos at scale: 1,000 short jobs at once, two transcribers, a random
//! worker killed every 10 s. Prints the table (jobs, completed, failed with
//! a reason, duplicated, lost); the test suite runs the same with 100.
//!
//! `cargo build --release --bins && cargo bench -p integration-tests --bench chaos`
//! (`STENO_CHAOS_JOBS=N` for another count).

use integration_tests::chaos;
use std::time::Duration;

#[tokio::main]
async fn main() {
    let jobs = std::env::var("STENO_CHAOS_JOBS").ok().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let (system, report) = chaos::run(jobs, Duration::from_secs(10), Duration::from_secs(4 * 3600)).await;
    println!("{}", report.table());
    println!("\nload average before: {}", load.trim());
    system.stop().await;
}
