//! What metrics cost on the transcribe path: the instrument calls the worker
//! loop and the transcribe stage make for one task, and one Prometheus
//! scrape. Prints a table; compare the per-task figure with the transcribe
//! stage's own time (`cargo bench -p integration-tests --bench pipeline`).
//!
//! `cargo bench -p steno-runtime --bench metrics_overhead`

use std::time::Instant;

use prometheus::Encoder;
use steno_runtime::{
    config::{LogConfig, TracingConfig},
    metrics::{self, StageMetrics},
    telemetry,
};

const TASKS: u32 = 200_000;

fn main() -> anyhow::Result<()> {
    let log = LogConfig { level: "warn".into(), ..Default::default() };
    let runtime = tokio::runtime::Runtime::new()?;
    let _guard = runtime.enter();
    let telemetry = telemetry::init("bench", &log, &TracingConfig::default())?;
    let stage = StageMetrics::new("transcribe");

    // Exactly the calls one transcribe task makes: worker loop + stage body.
    let per_task = || {
        stage.started();
        metrics::transcribed("tiny.en", 26.1, 2.85);
        stage.finished();
        stage.processed(2.85);
        stage.outcome("ok");
    };
    for _ in 0..10_000 {
        per_task();
    }
    let clock = Instant::now();
    for _ in 0..TASKS {
        per_task();
    }
    let task_ns = clock.elapsed().as_nanos() as f64 / f64::from(TASKS);

    let scrapes = 200;
    let clock = Instant::now();
    let mut bytes = 0;
    for _ in 0..scrapes {
        let mut body = Vec::new();
        prometheus::TextEncoder::new().encode(&telemetry.registry.gather(), &mut body)?;
        bytes = body.len();
    }
    let scrape_us = clock.elapsed().as_micros() as f64 / f64::from(scrapes);

    // The transcribe stage's mean time for the pipeline bench's clip.
    let transcribe_s = 2.85;
    println!("\n| what | cost |\n| --- | --- |");
    println!("| metric calls per transcribe task (5 instrument updates) | {task_ns:.0} ns |");
    println!(
        "| share of one transcribe task ({transcribe_s} s for 26 s of audio, tiny.en, 2 cores) | {:.1e} |",
        task_ns / (transcribe_s * 1e9)
    );
    println!("| one /metrics encode ({bytes} bytes) | {scrape_us:.0} µs |");
    println!("| scrape cost at one scrape per 15 s | {:.1e} of one core |", scrape_us / 15e6);
    Ok(())
}
