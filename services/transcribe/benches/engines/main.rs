//! Transcription engines on the same clips and threads: steno's transcribe
//! stage function, bare whisper.cpp through whisper-rs, and faster-whisper
//! (CTranslate2, int8 and float32) on the same tiny.en weights, greedy and
//! beam 5. Each configuration runs in its own child process (this binary
//! with `--one …`, or the Python helper) so its peak RSS is its own. Prints
//! a markdown table and writes it to `target/bench/transcribe-engines.md`;
//! asserts nothing about time.
//!
//! Run it with `scripts/bench-transcribe.sh` (makes the venv, fetches the
//! models). Environment: `STENO_BENCH_PYTHON` (a python with
//! faster-whisper; its rows are left out without it), `STENO_BENCH_CT2_MODEL`
//! (the CTranslate2 tiny.en directory), `STENO_BENCH_MODELS_DIR` (ggml
//! models, default `models/`; the steno rows use Silero VAD when it holds
//! `ggml-silero-vad.bin`), `STENO_BENCH_THREADS` (2),
//! `STENO_BENCH_LONG_BEAM=0` (no beam 5 on the 10 min clip),
//! `STENO_BENCH_CLIPS=short,60s` (a subset), `STENO_BENCH_QUIET_WAIT` (how
//! long to wait before each try for the other processes to quieten, 600 s),
//! `STENO_BENCH_TRIES` (a row that others disturbed is tried again, up to 3
//! times in all, keeping the fastest), `STENO_BENCH_OUT`.
//!
//! The report ends with where the transcribe stage's time goes on a
//! 5-minute clip (`profile.rs`); `-- --profile` runs only that, into
//! `target/bench/transcribe-profile.md` (`STENO_BENCH_MODEL`: a
//! quantized tiny.en instead, here and for `--encoder-window`; the word
//! alignment uses tiny.en's heads).
//!
//! `-- --encoder-window` measures `transcribe.min_window_secs` and
//! `fit_encoder` on short clips of flite and espeak-ng voices
//! (`encoder_window.rs`), into `target/bench/encoder-window.md`.
//!
//! `--make-clips DIR` only writes the clips (`<name>.pcm`, `<name>.txt`) into
//! DIR, for a machine without flite (`scripts/cuda/build.sh`).

mod clips;
mod encoder_window;
mod machine;
mod profile;
mod report;
mod run_one;
#[path = "../../../../integration-tests/src/wer.rs"]
mod wer;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::Context;

use crate::{clips::Clip, report::Row, run_one::Tweak};

/// One engine with one set of weights and options.
#[derive(Clone)]
pub struct Setup {
    /// `steno`, `whisper.cpp` or `faster-whisper`.
    pub engine: &'static str,
    /// ggml model name, or CTranslate2 compute type.
    pub model: &'static str,
    pub tweak: Tweak,
    /// Left out on clips over two minutes (to keep the run short).
    pub short_clips_only: bool,
}

impl Setup {
    pub fn label(&self) -> String {
        match self.tweak {
            Tweak::None => self.engine.to_owned(),
            tweak => format!("{} +{}", self.engine, tweak.name()),
        }
    }

    pub fn weights(&self) -> &'static str {
        match self.model {
            "tiny.en" => "tiny.en f16",
            "tiny.en-q8_0" => "tiny.en q8_0",
            "int8" => "tiny.en int8",
            "float32" => "tiny.en float32",
            other => other,
        }
    }
}

struct Settings {
    threads: usize,
    models_dir: PathBuf,
    faster_whisper: Option<(String, String)>,
    long_beam: bool,
    clips: Option<String>,
    /// The model `--profile` and `--encoder-window` run (a tiny.en).
    model: String,
    quiet_wait: Duration,
    tries: usize,
    /// JSON lines from `cargo bench -p integration-tests --bench transcribe_system`.
    system_rows: Option<PathBuf>,
    out: PathBuf,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let faster_whisper = match (var("STENO_BENCH_PYTHON"), var("STENO_BENCH_CT2_MODEL")) {
            (Some(python), Some(model)) => Some((python, model)),
            _ => None,
        };
        Ok(Self {
            threads: var("STENO_BENCH_THREADS").map_or(Ok(2), |t| t.parse()).context("STENO_BENCH_THREADS")?,
            models_dir: var("STENO_BENCH_MODELS_DIR")
                .map_or_else(|| steno_runtime::config::data_home().join("models"), PathBuf::from),
            faster_whisper,
            long_beam: var("STENO_BENCH_LONG_BEAM").is_none_or(|v| v != "0"),
            clips: var("STENO_BENCH_CLIPS"),
            model: var("STENO_BENCH_MODEL").unwrap_or_else(|| "tiny.en".into()),
            quiet_wait: Duration::from_secs(
                var("STENO_BENCH_QUIET_WAIT").map_or(Ok(600), |t| t.parse()).context("STENO_BENCH_QUIET_WAIT")?,
            ),
            tries: var("STENO_BENCH_TRIES").map_or(Ok(3), |n| n.parse()).context("STENO_BENCH_TRIES")?,
            system_rows: var("STENO_BENCH_SYSTEM_ROWS").map(PathBuf::from),
            out: var("STENO_BENCH_OUT").map_or_else(|| root.join("target/bench/transcribe-engines.md"), PathBuf::from),
        })
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--one") {
        return run_one::run(&run_one::Args::parse(&args[2..])?);
    }
    let settings = Settings::from_env()?;
    if args.iter().any(|a| a == "--profile") {
        return write_table(&settings, "transcribe-profile.md", &profile_table(&settings)?);
    }
    if args.iter().any(|a| a == "--encoder-window") {
        machine::wait_for_quiet(settings.quiet_wait);
        return write_table(
            &settings,
            "encoder-window.md",
            &encoder_window::run_sweep(&settings.models_dir, &settings.model, settings.threads)?,
        );
    }
    let machine_at_start = machine::snapshot();
    eprintln!("machine at start: {machine_at_start}");

    let mut clips = Vec::new();
    for (name, seconds, seed) in clips::CLIPS {
        if settings.clips.as_ref().is_none_or(|wanted| wanted.split(',').any(|w| w == name)) {
            clips.push(clips::clip(name, seconds, seed)?);
        }
    }
    if args.get(1).map(String::as_str) == Some("--make-clips") {
        let dir = PathBuf::from(args.get(2).context("--make-clips takes a directory")?);
        for clip in &clips {
            std::fs::copy(&clip.pcm, dir.join(format!("{}.pcm", clip.name))).context("copy clip")?;
            std::fs::write(dir.join(format!("{}.txt", clip.name)), &clip.text).context("write clip text")?;
        }
        return Ok(());
    }
    let setup = |engine, model, tweak, short_clips_only| Setup { engine, model, tweak, short_clips_only };
    let mut setups = vec![
        setup("steno", "tiny.en", Tweak::None, false),
        // Like for like with bare whisper.cpp: a job without word times.
        setup("steno", "tiny.en", Tweak::NoWordTimes, false),
        // `transcribe.fit_encoder = false`: longer pieces padded to 30 s.
        setup("steno", "tiny.en", Tweak::Padded, false),
        setup("whisper.cpp", "tiny.en", Tweak::None, false),
        // Where steno's time goes: whisper.cpp with steno's parameters.
        setup("whisper.cpp", "tiny.en", Tweak::StenoParams, false),
        setup("steno", "tiny.en-q8_0", Tweak::None, false),
        setup("steno", "tiny.en-q8_0", Tweak::Padded, false),
        setup("whisper.cpp", "tiny.en-q8_0", Tweak::None, false),
        setup("whisper.cpp", "tiny.en-q8_0", Tweak::StenoParams, false),
        // Cheap things that might close the gap to faster-whisper.
        setup("whisper.cpp", "tiny.en", Tweak::FlashAttn, false),
        setup("whisper.cpp", "tiny.en-q8_0", Tweak::FlashAttn, false),
        setup("whisper.cpp", "tiny.en-q8_0", Tweak::OneThread, true),
    ];
    if settings.faster_whisper.is_some() {
        setups.push(setup("faster-whisper", "int8", Tweak::None, false));
        // Like for like with the steno rows.
        setups.push(setup("faster-whisper", "int8", Tweak::LikeSteno, false));
        setups.push(setup("faster-whisper", "float32", Tweak::None, false));
    }

    let (mut rows, mut failures) = (Vec::new(), Vec::new());
    for clip in &clips {
        for beams in [1, 5] {
            if beams > 1 && clip.seconds > 120.0 && !settings.long_beam {
                continue;
            }
            for setup in setups.iter().filter(|s| !(s.short_clips_only && clip.seconds > 120.0)) {
                match measure_quietest(&settings, setup, beams, clip) {
                    Ok(row) => {
                        eprintln!("{}", report::row_line(&row));
                        rows.push(row);
                    }
                    Err(e) => {
                        eprintln!("{} {} beams {beams} {}: {e:#}", setup.label(), setup.model, clip.name);
                        failures.push(format!("{} {} beams {beams} {}: {e:#}", setup.label(), setup.model, clip.name));
                    }
                }
            }
        }
    }

    if let Some(path) = &settings.system_rows {
        match system_rows(path, &clips) {
            Ok(system) => rows.extend(system),
            Err(e) => failures.push(format!("steno end to end: {e:#}")),
        }
    }

    let context = report::Context {
        threads: settings.threads,
        cpu: cpu_model(),
        faster_whisper: settings.faster_whisper.as_ref().map(|(python, _)| versions(python)),
        machine_at_start,
        machine_at_end: machine::snapshot(),
        long_beam: settings.long_beam,
        failures,
    };
    let mut markdown = report::render(&context, &clips, &rows);
    match profile_table(&settings) {
        Ok(table) => markdown.push_str(&format!("\n{table}")),
        Err(e) => markdown.push_str(&format!("\nThe profile failed: {e:#}\n")),
    }
    println!("\n{markdown}");
    if let Some(dir) = settings.out.parent() {
        std::fs::create_dir_all(dir).context("create report directory")?;
    }
    std::fs::write(&settings.out, &markdown).context("write report")?;
    eprintln!("wrote {}", settings.out.display());
    Ok(())
}

/// Prints a table of its own and writes it beside the report as `name`.
fn write_table(settings: &Settings, name: &str, table: &str) -> anyhow::Result<()> {
    println!("\n{table}");
    let out = settings.out.with_file_name(name);
    std::fs::create_dir_all(out.parent().context("report directory")?).context("create report directory")?;
    std::fs::write(&out, table).with_context(|| format!("write {}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// The transcribe stage's time split into its parts, on a 5-minute clip.
fn profile_table(settings: &Settings) -> anyhow::Result<String> {
    machine::wait_for_quiet(settings.quiet_wait);
    profile::run(&clips::clip("5min", 300.0, 4)?, &settings.models_dir, &settings.model, settings.threads)
}

/// Other processes using more than this many cores during a row disturb it
/// (whisper.cpp's threads spin at every barrier, so a preempted one stalls
/// the rest).
pub const DISTURBED_CORES: f64 = 0.25;

/// Measures once the machine is quiet; tries again while other processes
/// disturbed the run, and keeps the fastest try.
fn measure_quietest(settings: &Settings, setup: &Setup, beams: u32, clip: &Clip) -> anyhow::Result<Row> {
    let (mut best, mut error): (Option<Row>, Option<anyhow::Error>) = (None, None);
    for tries in 1..=settings.tries.max(1) {
        machine::wait_for_quiet(settings.quiet_wait);
        match measure(settings, setup, beams, clip) {
            Ok(mut row) => {
                row.tries = tries;
                let quiet = row.others_cores < DISTURBED_CORES;
                if best.as_ref().is_none_or(|b| row.seconds < b.seconds) {
                    best = Some(row);
                }
                if quiet {
                    break;
                }
            }
            Err(e) => error = Some(e.context(format!("try {tries}"))),
        }
    }
    best.ok_or_else(|| error.unwrap_or_else(|| anyhow::anyhow!("not run")))
}

/// Runs one configuration in a child process and reads its JSON line.
fn measure(settings: &Settings, setup: &Setup, beams: u32, clip: &Clip) -> anyhow::Result<Row> {
    // Short clips are noisy: best of three.
    let repeat = if clip.seconds < 30.0 { 3 } else { 1 };
    let pcm = clip.pcm.to_string_lossy().into_owned();
    // A try at under twice real time is given up (others are busy, or the
    // configuration is hopeless).
    let limit = (60.0 + clip.seconds / 2.0).round().to_string();
    let mut command = Command::new("timeout");
    command.args(["-s", "KILL", &limit]);
    if setup.engine == "faster-whisper" {
        let (python, ct2_model) = settings.faster_whisper.as_ref().context("no python for faster-whisper")?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/engines/faster_whisper_run.py");
        command.arg(python).arg(script).args(["--model", ct2_model, "--audio", &pcm]);
        command.args(["--compute-type", setup.model, "--beam-size", &beams.to_string()]);
        command.args(["--threads", &settings.threads.to_string(), "--repeat", &repeat.to_string()]);
        if setup.tweak == Tweak::LikeSteno {
            command.args(["--word-timestamps", "--vad-filter"]);
        }
    } else {
        let args = run_one::Args {
            engine: setup.engine.to_owned(),
            model: setup.model.to_owned(),
            beams,
            tweak: setup.tweak,
            pcm,
            threads: if setup.tweak == Tweak::OneThread { 1 } else { settings.threads },
            repeat,
            models_dir: settings.models_dir.to_string_lossy().into_owned(),
            reference: None,
        };
        command.arg(std::env::current_exe().context("own path")?).arg("--one").args(args.to_vec());
    }

    let (busy_before, clock) = (machine::busy_ticks(), Instant::now());
    let output = command.output().context("start child")?;
    if output.status.code() == Some(137) {
        anyhow::bail!("stopped after {limit} s");
    }
    let (wall, busy) = (clock.elapsed().as_secs_f64(), machine::busy_ticks().saturating_sub(busy_before));
    if !output.status.success() {
        anyhow::bail!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).context("no JSON line from the child")?;
    let json: serde_json::Value = serde_json::from_str(line).context("child JSON")?;
    let seconds = json["seconds"].as_array().into_iter().flatten().filter_map(|s| s.as_f64()).fold(f64::MAX, f64::min);
    let text = json["text"].as_str().unwrap_or_default();
    let child_ticks = json["cpu_ticks"].as_u64().unwrap_or(0);
    Ok(Row {
        setup: setup.clone(),
        beams,
        clip: clip.name,
        audio_seconds: clip.seconds,
        load_seconds: json["load_seconds"].as_f64().unwrap_or(f64::NAN),
        seconds,
        peak_rss_mib: json["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        wer: wer::word_error_rate(&clip.text, text),
        others_cores: busy.saturating_sub(child_ticks) as f64 / machine::TICKS_PER_SECOND / wall,
        tries: 1,
        load1: machine::loadavg().split_whitespace().next().unwrap_or_default().to_owned(),
    })
}

/// The "steno end to end" rows: each clip as a job through a running
/// system, measured by the integration tests' `transcribe_system` bench
/// (one JSON line a clip: `clip`, `seconds`, `peak_rss_kb`, `text`).
fn system_rows(path: &Path, clips: &[Clip]) -> anyhow::Result<Vec<Row>> {
    let lines = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let mut rows = Vec::new();
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let json: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("a line of {}", path.display()))?;
        let Some(clip) = clips.iter().find(|c| json["clip"] == c.name) else { continue };
        rows.push(Row {
            setup: Setup { engine: "steno end to end", model: "tiny.en", tweak: Tweak::None, short_clips_only: false },
            beams: 1,
            clip: clip.name,
            audio_seconds: clip.seconds,
            // Loaded by an earlier job.
            load_seconds: f64::NAN,
            seconds: json["seconds"].as_f64().context("seconds")?,
            peak_rss_mib: json["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
            wer: wer::word_error_rate(&clip.text, json["text"].as_str().unwrap_or_default()),
            // Every process of the system is the row's own.
            others_cores: 0.0,
            tries: 1,
            load1: "–".to_owned(),
        });
    }
    Ok(rows)
}

fn cpu_model() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let name = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim()));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{} × {cores}", name.unwrap_or("unknown CPU"))
}

fn versions(python: &str) -> String {
    let script = "import faster_whisper, ctranslate2; \
        print(f'faster-whisper {faster_whisper.__version__}, CTranslate2 {ctranslate2.__version__}')";
    Command::new(python)
        .args(["-c", script])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}
