//! The transcription engines bench's "steno end to end" rows: each clip the
//! engines bench uses, as a job through a running system (gateway →
//! download → transcode → transcribe → export, over NATS), timed by the
//! job record from its creation to its last update (`completed`), with the
//! model already loaded by a first job. The job is polled only twice a
//! second: on two cores whisper.cpp's threads stall whenever anything else
//! runs, so a busy poll would slow what it measures. Like the engines bench's steno rows:
//! tiny.en-q8_0 (the default model), greedy, word times, Silero VAD, `STENO_BENCH_THREADS` (2)
//! threads, no diarization. Clips under 30 s: best of three jobs.
//!
//! Reads the clips (`<name>.pcm`, 16 kHz mono s16le, and `<name>.txt`) from
//! `STENO_BENCH_CLIPS_DIR` and writes a JSON line per clip (`clip`,
//! `seconds`, `peak_rss_kb` of the transcribe process so far, `text`) to
//! `STENO_BENCH_SYSTEM_ROWS`, which the engines bench reads; asserts nothing
//! about time. `scripts/bench-transcribe.sh` runs it before the engines
//! bench (it needs `cargo build --release --bins`).

use integration_tests::{fixtures, harness};
use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use serde_json::json;

#[tokio::main]
async fn main() {
    let dir = PathBuf::from(std::env::var("STENO_BENCH_CLIPS_DIR").expect("STENO_BENCH_CLIPS_DIR names the clips"));
    let out =
        PathBuf::from(std::env::var("STENO_BENCH_SYSTEM_ROWS").expect("STENO_BENCH_SYSTEM_ROWS names the output"));
    let threads = std::env::var("STENO_BENCH_THREADS").unwrap_or_else(|_| "2".into());

    // Shortest first: the transcribe process's peak after each clip covers it and the shorter ones.
    let mut clips: Vec<(u64, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_stem()?.to_str()?.to_owned();
            (path.extension()? == "pcm" && dir.join(format!("{name}.txt")).exists())
                .then(|| (std::fs::metadata(&path).map_or(0, |m| m.len()), name))
        })
        .collect();
    clips.sort();
    assert!(!clips.is_empty(), "no clips in {}", dir.display());
    for (_, name) in &clips {
        fixtures::run(
            Command::new("ffmpeg")
                .args(["-nostdin", "-loglevel", "error", "-y", "-f", "s16le", "-ar", "16000", "-ac", "1", "-i"])
                .arg(dir.join(format!("{name}.pcm")))
                .arg(fixtures::media_dir().join(format!("bench-clip-{name}.wav"))),
        );
    }

    let system = harness::System::start_with(&[("STENO_TRANSCRIBE__THREADS", threads.as_str())]).await;
    let media = fixtures::serve_media().await;
    let api = system.api();
    let job = |name: &str| {
        json!({
            "source_url": format!("{media}/bench-clip-{name}.wav"),
            "formats": ["txt"],
            "diarize": false,
            "word_timestamps": true,
        })
    };
    let run = |name: String| {
        let (api, body) = (&api, job(&name));
        async move {
            let id = api.submit_new(body).await;
            let deadline = Instant::now() + Duration::from_secs(3600);
            loop {
                let job = api.job(&id).await;
                match job["status"].as_str().unwrap_or_default() {
                    "completed" => {
                        break (
                            seconds_between(&job["created_at"], &job["updated_at"]),
                            api.transcript(&id, "txt").await,
                        );
                    }
                    "failed" | "cancelled" => panic!("job {id} on {name}: {job}"),
                    _ => assert!(Instant::now() < deadline, "job {id} on {name} took over an hour"),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    // Loads the model (and warms the pipeline) before anything is timed.
    run(clips[0].1.clone()).await;

    let mut lines = String::new();
    for (bytes, name) in &clips {
        let audio_s = *bytes as f64 / 2.0 / 16_000.0;
        let mut best: Option<(f64, String)> = None;
        for _ in 0..if audio_s < 30.0 { 3 } else { 1 } {
            let (seconds, text) = run(name.clone()).await;
            if best.as_ref().is_none_or(|(b, _)| seconds < *b) {
                best = Some((seconds, text));
            }
        }
        let (seconds, text) = best.expect("one run at least");
        let peak_rss_kb = system.peak_rss_kib("transcribe");
        eprintln!("{name}: {audio_s:.1} s of audio in {seconds:.2} s end to end, transcribe peak {peak_rss_kb} KiB");
        lines += &json!({ "clip": name, "seconds": seconds, "peak_rss_kb": peak_rss_kb, "text": text }).to_string();
        lines.push('\n');
    }
    system.stop().await;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).expect("create the rows' directory");
    }
    std::fs::write(&out, lines).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
    println!("wrote {}", out.display());
}

/// Seconds from one RFC 3339 time of a job record to another.
fn seconds_between(from: &serde_json::Value, to: &serde_json::Value) -> f64 {
    let time = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("job time {v}: {e}"))
    };
    (time(to) - time(from)).as_seconds_f64()
}
