//! A long file is split into parts that several transcribe processes work
//! on at once, and joined exactly once: segments in order, on the whole
//! file's timeline, nothing lost or repeated even when a process dies in
//! the middle of a part. (The speed-up is measured by `benches/fanout.rs`.)

use std::time::Duration;

use serde_json::Value;
use steno_proto::v1::{EventKind, Stage};

use crate::{
    api::Api,
    fixtures::{SPEECH_TEXT, serve_media, word_error_rate},
    harness::{System, metrics_at, wait_until},
};

/// `long.wav` (about 55 s) becomes 4 or 5 parts; a process that dies mid-part
/// gives its task back within a few seconds.
const SPLIT: [(&str, &str); 3] = [
    ("STENO_TRANSCRIBE__SPLIT_AFTER_SECS", "20"),
    ("STENO_TRANSCRIBE__PART_SECS", "15"),
    ("STENO_WORKER__ACK_WAIT_SECS", "3"),
];

/// A counter or gauge of the `transcribe` stage in a Prometheus text.
fn stage_value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Checks the joined transcript: every word of the six readings once, and
/// segments and words in order on the file's timeline.
/// Returns how many parts the job was split into.
async fn assert_joined(api: &Api, system: &System, id: &str) -> u32 {
    let job = api.finished(id, Duration::from_secs(300)).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
    let duration = job["duration_ms"].as_u64().expect("duration");

    let json: Value = serde_json::from_str(&api.transcript(id, "json").await).expect("json transcript");
    let segments = json["segments"].as_array().expect("segments");
    let text: Vec<&str> = segments.iter().filter_map(|s| s["text"].as_str()).collect();
    let text = text.join(" ").to_lowercase();
    let wer = word_error_rate(&[SPEECH_TEXT; 6].join(" "), &text);
    assert!(wer <= 0.2, "word error rate {wer}: {text}");
    for word in ["milk", "home", "week", "project"] {
        assert_eq!(text.matches(word).count(), 6, "{word} once per reading: {text}");
    }

    let times = |item: &Value| (item["start_ms"].as_u64().expect("start"), item["end_ms"].as_u64().expect("end"));
    let mut last_end = 0;
    for segment in segments {
        let (start, end) = times(segment);
        assert!(start + 500 >= last_end && start <= end && end <= duration + 500, "segment out of order: {segment}");
        for word in segment["words"].as_array().expect("words") {
            let (word_start, word_end) = times(word);
            assert!(word_start + 500 >= last_end && word_end <= end + 500, "word out of order: {word}");
            last_end = last_end.max(word_end);
        }
        last_end = last_end.max(end);
    }
    assert!(last_end > duration / 2, "the transcript covers the file: ends at {last_end} of {duration} ms");

    // One split, one join: the stage completed once.
    let events = system.job_events(id).await;
    let of = |kind: EventKind| {
        events.iter().filter(|(e, _)| e.kind() == kind && e.stage() == Stage::Transcribe).collect::<Vec<_>>()
    };
    assert_eq!(of(EventKind::StageCompleted).len(), 1, "transcribe completed once");
    let split =
        of(EventKind::Progress).iter().find_map(|(e, _)| e.message.strip_prefix("split into ").map(str::to_owned));
    let parts: u32 = split.and_then(|m| m.trim_end_matches(" parts").parse().ok()).expect("a split event");
    assert!((3..=5).contains(&parts), "{parts} parts");
    parts
}

#[tokio::test(flavor = "multi_thread")]
async fn long_file_is_split_across_two_transcribers_and_joined_once() {
    let system = System::start_with_transcribers(2, &SPLIT).await;
    let media = serve_media().await;
    let api = system.api();

    let id = api.submit_url(&format!("{media}/long.wav"), &["json", "txt"]).await;
    let parts = assert_joined(&api, &system, &id).await;

    // The split task and its parts, shared by both processes.
    let mut per_process = Vec::new();
    for port in system.replica_ports("transcribe") {
        let metrics = metrics_at(port).await;
        per_process.push(stage_value(&metrics, "steno_stage_tasks_total{outcome=\"ok\",stage=\"transcribe\"}"));
    }
    assert_eq!(per_process.iter().sum::<f64>(), f64::from(parts + 1), "{per_process:?}");
    assert!(per_process.iter().all(|n| *n > 0.0), "both processes worked on the job: {per_process:?}");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_part_whose_process_dies_is_redelivered_without_loss_or_repeats() {
    let mut system = System::start_with_transcribers(2, &SPLIT).await;
    let media = serve_media().await;
    let api = system.api();

    let id = api.submit_url(&format!("{media}/long.wav"), &["json"]).await;
    let ok = "steno_stage_tasks_total{outcome=\"ok\",stage=\"transcribe\"}";
    wait_until("the job to be split", Duration::from_secs(120), || async {
        for port in system.replica_ports("transcribe") {
            if stage_value(&metrics_at(port).await, ok) >= 1.0 {
                return Some(());
            }
        }
        None
    })
    .await;
    // The split task is done (parts take longer), so a busy process now is
    // working on a part.
    let busy = wait_until("a process to work on a part", Duration::from_secs(60), || async {
        for port in system.replica_ports("transcribe") {
            let metrics = metrics_at(port).await;
            if stage_value(&metrics, "steno_stage_in_progress{stage=\"transcribe\"}") >= 1.0 {
                return Some(port);
            }
        }
        None
    })
    .await;
    system.kill_replica(busy);

    assert_joined(&api, &system, &id).await;
    let survivor = metrics_at(system.replica_ports("transcribe")[0]).await;
    assert!(stage_value(&survivor, "steno_stage_redeliveries_total{stage=\"transcribe\"}") >= 1.0, "{survivor}");
    system.stop().await;
}
