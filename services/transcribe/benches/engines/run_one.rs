//! The child side: one configuration in this process, so its peak RSS is
//! its own. Prints one JSON line like `faster_whisper_run.py` does. steno
//! runs `STENO_BENCH_AT_ONCE` jobs at once on its one model (each run's
//! `seconds` is then the time all of them took).

use std::{path::Path, time::Instant};

use anyhow::Context;
use steno_runtime::{proto::JobOptions, stage::ProgressReporter};
use steno_transcribe::{models::Models, whisper};
use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters,
};

/// A change to bare whisper.cpp's defaults, to see what it costs or saves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tweak {
    None,
    /// Flash attention (whisper-rs turns it off by default; it rules out DTW).
    FlashAttn,
    /// The parameters steno sets: token timestamps with DTW (tiny.en heads),
    /// non-speech tokens suppressed. The rest of steno's cost is its own code.
    StenoParams,
    /// One thread instead of the bench's threads.
    OneThread,
    /// steno with a job's `word_timestamps: false` (no DTW, no token times).
    NoWordTimes,
    /// steno with pieces over `transcribe.min_window_secs` padded to 30 s
    /// (`transcribe.fit_encoder = false`, the default before 2026-12-05).
    Padded,
    /// faster-whisper with word times and its Silero VAD, as steno runs.
    LikeSteno,
}

impl Tweak {
    const ALL: [(Tweak, &'static str); 7] = [
        (Tweak::None, "-"),
        (Tweak::FlashAttn, "flash-attn"),
        (Tweak::StenoParams, "steno-params"),
        (Tweak::OneThread, "1-thread"),
        (Tweak::NoWordTimes, "no-word-times"),
        (Tweak::Padded, "padded"),
        (Tweak::LikeSteno, "word-times+vad"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(t, _)| *t == self).map_or("-", |(_, name)| name)
    }

    fn parse(name: &str) -> anyhow::Result<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(t, _)| *t).context("unknown tweak")
    }
}

/// What the parent passes after `--one`.
pub struct Args {
    pub engine: String,
    pub model: String,
    pub beams: u32,
    pub tweak: Tweak,
    pub pcm: String,
    pub threads: usize,
    pub repeat: usize,
    pub models_dir: String,
    /// The clip's text, for a `wer` in the JSON line (`scripts/cuda/check.sh`;
    /// the parent bench measures it itself).
    pub reference: Option<String>,
}

impl Args {
    pub fn to_vec(&self) -> Vec<String> {
        vec![
            self.engine.clone(),
            self.model.clone(),
            self.beams.to_string(),
            self.tweak.name().to_owned(),
            self.pcm.clone(),
            self.threads.to_string(),
            self.repeat.to_string(),
            self.models_dir.clone(),
        ]
        .into_iter()
        .chain(self.reference.clone())
        .collect()
    }

    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let usage = || anyhow::anyhow!("--one takes 8 arguments (and a reference text file), got {args:?}");
        let [engine, model, beams, tweak, pcm, threads, repeat, models_dir, reference @ ..] = args else {
            return Err(usage());
        };
        if reference.len() > 1 {
            return Err(usage());
        }
        Ok(Self {
            engine: engine.clone(),
            model: model.clone(),
            beams: beams.parse()?,
            tweak: Tweak::parse(tweak)?,
            pcm: pcm.clone(),
            threads: threads.parse()?,
            repeat: repeat.parse()?,
            models_dir: models_dir.clone(),
            reference: reference.first().cloned(),
        })
    }
}

struct Outcome {
    text: String,
    seconds: Vec<f64>,
    load_seconds: f64,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let pcm = std::fs::read(&args.pcm).context("read clip")?;
    let outcome = match args.engine.as_str() {
        "steno" => steno(args, &pcm)?,
        "whisper.cpp" => bare(args, &pcm)?,
        other => anyhow::bail!("unknown engine {other}"),
    };
    let wer = match &args.reference {
        Some(path) => {
            let reference = std::fs::read_to_string(path).context("read reference text")?;
            Some(crate::wer::word_error_rate(&reference, &outcome.text))
        }
        None => None,
    };
    let json = serde_json::json!({
        "text": outcome.text,
        "seconds": outcome.seconds,
        "load_seconds": outcome.load_seconds,
        "peak_rss_kb": self_status_kb("VmHWM"),
        "cpu_ticks": self_cpu_ticks(),
        "wer": wer,
    });
    println!("{json}");
    Ok(())
}

/// The transcribe stage's own code: `Models`, and its pieces of one whisper
/// window cut at pauses (`transcribe_samples`).
fn steno(args: &Args, pcm: &[u8]) -> anyhow::Result<Outcome> {
    let samples = samples(pcm);
    let config = steno_runtime::config::TranscribeConfig {
        models_dir: args.models_dir.clone().into(),
        default_model: args.model.clone(),
        threads: args.threads,
        ..Default::default()
    };
    let clock = Instant::now();
    let models = Models::new(&config);
    let word_timestamps = args.tweak != Tweak::NoWordTimes;
    let model = models.get(&args.model, word_timestamps).map_err(anyhow::Error::msg)?;
    let load_seconds = clock.elapsed().as_secs_f64();

    let options = JobOptions {
        model: args.model.clone(),
        beam_size: args.beams,
        word_timestamps: Some(word_timestamps),
        ..Default::default()
    };
    let window = whisper::EncoderWindow {
        fit: config.fit_encoder && args.tweak != Tweak::Padded,
        ..whisper::EncoderWindow::of(&config)
    };
    let request = || whisper::Request::new(&options, args.threads, window);
    let (progress, _watch) = tokio::sync::watch::channel(0.0_f32);
    let transcribe = || {
        let transcript = steno_transcribe::transcribe_samples(
            &model,
            models.vad(),
            &samples,
            &request(),
            ProgressReporter::new(progress.clone()),
        )?;
        anyhow::Ok(transcript.segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" "))
    };
    // `at_once` jobs on the one model, each with its own decoding state,
    // as a replica with `worker.concurrency` runs them.
    let at_once = at_once();
    let (mut seconds, mut text) = (Vec::new(), String::new());
    for _ in 0..args.repeat {
        let clock = Instant::now();
        let texts: Vec<anyhow::Result<String>> = std::thread::scope(|scope| {
            let jobs: Vec<_> = (0..at_once).map(|_| scope.spawn(transcribe)).collect();
            jobs.into_iter().map(|job| job.join().unwrap_or_else(|_| Err(anyhow::anyhow!("job panicked")))).collect()
        });
        seconds.push(clock.elapsed().as_secs_f64());
        text = texts.into_iter().last().context("no job")??;
    }
    Ok(Outcome { text, seconds, load_seconds })
}

/// Jobs steno runs at once in this process (`STENO_BENCH_AT_ONCE`, 1).
fn at_once() -> usize {
    std::env::var("STENO_BENCH_AT_ONCE").ok().and_then(|n| n.parse().ok()).filter(|&n| n > 0).unwrap_or(1)
}

/// whisper.cpp through whisper-rs as its README shows, no steno code.
fn bare(args: &Args, pcm: &[u8]) -> anyhow::Result<Outcome> {
    let samples = samples(pcm);
    let path = Path::new(&args.models_dir).join(format!("ggml-{}.bin", args.model));
    let clock = Instant::now();
    let mut params = WhisperContextParameters::default();
    params.flash_attn(args.tweak == Tweak::FlashAttn);
    if args.tweak == Tweak::StenoParams {
        let mode = DtwMode::ModelPreset { model_preset: DtwModelPreset::TinyEn };
        params.dtw_parameters(DtwParameters { mode, ..Default::default() });
    }
    let context = WhisperContext::new_with_params(&path, params).context("load model")?;
    let load_seconds = clock.elapsed().as_secs_f64();

    let (mut seconds, mut text) = (Vec::new(), String::new());
    for _ in 0..args.repeat {
        let clock = Instant::now();
        let mut state = context.create_state()?;
        let strategy = match args.beams {
            0 | 1 => SamplingStrategy::Greedy { best_of: 1 },
            beams => SamplingStrategy::BeamSearch { beam_size: beams as i32, patience: -1.0 },
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(args.threads as i32);
        params.set_language(Some("en"));
        if args.tweak == Tweak::StenoParams {
            params.set_token_timestamps(true);
            params.set_suppress_nst(true);
        }
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        state.full(params, &samples)?;
        let parts: Vec<String> =
            state.as_iter().filter_map(|s| s.to_str_lossy().ok().map(|t| t.trim().to_owned())).collect();
        seconds.push(clock.elapsed().as_secs_f64());
        text = parts.join(" ");
    }
    Ok(Outcome { text, seconds, load_seconds })
}

/// Little-endian 16-bit PCM to samples in -1..1, as the stage reads its input.
fn samples(pcm: &[u8]) -> Vec<f32> {
    pcm.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect()
}

fn self_status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn self_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    ticks(11) + ticks(12)
}
