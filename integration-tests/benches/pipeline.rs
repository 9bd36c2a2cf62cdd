//! End-to-end latency of one 30 s clip through the real system, split by
//! stage from the job's own events, and the transcribe stage's real-time
//! factor. Prints a table; asserts nothing about time.
//!
//! `cargo build --release --bins && cargo bench -p integration-tests --bench pipeline`

// The shared test helpers are not all used here.
#![allow(dead_code)]

#[path = "../tests/system/api.rs"]
mod api;
#[path = "../tests/system/fixtures.rs"]
mod fixtures;
#[path = "../tests/system/harness.rs"]
mod harness;

use std::{
    collections::BTreeMap,
    process::Command,
    time::{Duration, Instant},
};

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::StreamExt;
use prost::Message as _;
use steno_proto::v1::{EventKind, JobEvent, Stage};

const RUNS: usize = 3;
const TEXT: &str = "Good morning, and welcome to the weekly project meeting. Today we will review the \
    progress of the new billing system, discuss the results of the customer survey, and plan the work \
    for the next two weeks. The billing team finished the invoice module on time, and testing starts \
    on Monday. The survey shows that most customers like the new design, but many of them asked for \
    faster support. We will hire two more people for the support desk before the end of the month. \
    Thank you all for coming today, and please send me your questions by email before Friday.";

fn seconds(t: &Option<prost_types::Timestamp>) -> f64 {
    t.as_ref().map_or(0.0, |t| t.seconds as f64 + f64::from(t.nanos) / 1e9)
}

#[tokio::main]
async fn main() {
    let clip = fixtures::media_dir().join("meeting-30s.wav");
    let status = Command::new("flite").args(["-voice", "slt", "-t", TEXT, "-o"]).arg(&clip).status().expect("flite");
    assert!(status.success(), "flite failed");
    let system = harness::System::start().await;
    let media = fixtures::serve_media().await;
    let api = api::Api::new(&system.http);
    let nats = async_nats::connect(&system.nats_url).await.expect("connect");
    let js = async_nats::jetstream::new(nats);
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let mut stage_seconds: BTreeMap<(usize, String), Vec<f64>> = BTreeMap::new();
    let (mut walls, mut audio_seconds, mut wers) = (Vec::new(), 0.0, Vec::new());
    for _ in 0..RUNS {
        let clock = Instant::now();
        let id = api.submit_url(&format!("{media}/meeting-30s.wav"), &["txt"]).await;
        let job = api.finished(&id, Duration::from_secs(600)).await;
        walls.push(clock.elapsed().as_secs_f64());
        assert_eq!(job["status"], "completed", "{job}");
        audio_seconds = job["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0;
        wers.push(fixtures::word_error_rate(TEXT, &api.transcript(&id, "txt").await));

        let stream = js.get_stream("STENO_EVENTS").await.expect("events stream");
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: format!("steno.events.{id}.>"),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .expect("consumer");
        let mut messages = consumer.messages().await.expect("messages");
        let mut last_done = None;
        let mut started_at = BTreeMap::new();
        while let Some(Ok(message)) = messages.next().await {
            let event = JobEvent::decode(message.payload.clone()).expect("event");
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
            if event.kind() == EventKind::Completed {
                break;
            }
        }
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    system.stop().await;

    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "\n{RUNS} runs of a {audio_seconds:.1} s clip (flite), tiny.en, {} cores",
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
