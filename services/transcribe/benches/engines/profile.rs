//! `--profile`: where the transcribe stage's time goes on a 5-minute clip.
//! whisper.cpp reports no timings for a state made apart from its context
//! (as the stage's are), so each part is timed on its own or found by
//! difference, each the fastest of two runs:
//! - mel spectrogram: `pcm_to_mel` over the whole clip;
//! - encoder: `encode` at every 30 s window of it;
//! - decoder: bare `full` (greedy, no timestamps) less the two above;
//! - word alignment: `full` with the stage's parameters (DTW with the
//!   tiny.en heads, token timestamps) less bare `full`;
//! - VAD: Silero over the clip (the stage runs it on another thread while
//!   whisper.cpp works, so it adds little to the stage's wall time);
//! - the rest: the stage (`transcribe_samples`: pieces cut at pauses, each
//!   a whisper window of its own, encoded as the service's config says)
//!   less `full` with its parameters.

use std::{path::Path, time::Instant};

use anyhow::Context;
use steno_runtime::{proto::JobOptions, stage::ProgressReporter};
use steno_transcribe::{models::Models, pieces::Piecer, whisper};
use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters,
};

use crate::clips::{Clip, SAMPLE_RATE};

/// Mel frames in one 30 s whisper window (10 ms hop).
const WINDOW_FRAMES: usize = 3000;

/// The fastest of two runs of `f`, in seconds.
fn fastest(mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..2 {
        let clock = Instant::now();
        f()?;
        best = best.min(clock.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn context(models_dir: &Path, model: &str, dtw: bool) -> anyhow::Result<WhisperContext> {
    let mut params = WhisperContextParameters::default();
    if dtw {
        let mode = DtwMode::ModelPreset { model_preset: DtwModelPreset::TinyEn };
        params.dtw_parameters(DtwParameters { mode, ..Default::default() });
    }
    let path = models_dir.join(format!("ggml-{model}.bin"));
    WhisperContext::new_with_params(&path, params).with_context(|| format!("load {}", path.display()))
}

fn full(context: &WhisperContext, samples: &[f32], threads: usize, stage_params: bool) -> anyhow::Result<()> {
    let mut state = context.create_state()?;
    let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    params.set_n_threads(threads as i32);
    params.set_language(Some("en"));
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_timestamps(false);
    params.set_token_timestamps(stage_params);
    params.set_suppress_nst(stage_params);
    state.full(params, samples)?;
    Ok(())
}

/// The profile of `model_name` as a markdown table.
pub fn run(clip: &Clip, models_dir: &Path, model_name: &str, threads: usize) -> anyhow::Result<String> {
    let pcm = std::fs::read(&clip.pcm).context("read clip")?;
    let samples: Vec<f32> =
        pcm.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect();
    let (plain, aligned) = (context(models_dir, model_name, false)?, context(models_dir, model_name, true)?);

    let windows = (samples.len() / (SAMPLE_RATE / 100)).div_ceil(WINDOW_FRAMES);
    let mel = fastest(|| Ok(plain.create_state()?.pcm_to_mel(&samples, threads)?))?;
    let mut state = plain.create_state()?;
    state.pcm_to_mel(&samples, threads)?;
    let encoder = fastest(|| {
        for window in 0..windows {
            state.encode(window * WINDOW_FRAMES, threads)?;
        }
        Ok(())
    })?;
    eprintln!("profile: mel {mel:.2} s, encoder {encoder:.2} s over {windows} windows");
    let bare = fastest(|| full(&plain, &samples, threads, false))?;
    let with_words = fastest(|| full(&aligned, &samples, threads, true))?;
    eprintln!("profile: full {bare:.2} s, with word times {with_words:.2} s");

    let config = steno_runtime::config::TranscribeConfig {
        models_dir: models_dir.to_owned(),
        default_model: model_name.into(),
        threads,
        ..Default::default()
    };
    let models = Models::new(&config);
    let vad_model = models.vad().context("the profile needs ggml-silero-vad.bin in the models directory")?;
    let vad = fastest(|| vad_model.speech(&samples).map(drop).map_err(anyhow::Error::msg))?;
    let (pieces, piece_seconds) = pieces(&models, &samples);
    let model = models.get(model_name, true).map_err(anyhow::Error::msg)?;
    let options = JobOptions { model: model_name.into(), ..Default::default() };
    let request = whisper::Request::new(&options, threads, whisper::EncoderWindow::of(&config));
    let (progress, _watch) = tokio::sync::watch::channel(0.0_f32);
    let stage = fastest(|| {
        let reporter = ProgressReporter::new(progress.clone());
        steno_transcribe::transcribe_samples(&model, models.vad(), &samples, &request, reporter)?;
        Ok(())
    })?;
    eprintln!("profile: vad {vad:.2} s, stage {stage:.2} s in {pieces} pieces");

    let share = |s: f64| format!("{:.0} %", 100.0 * s / stage);
    let rows = [
        ("mel spectrogram", mel, format!("the whole clip ({:.0} s)", clip.seconds)),
        ("encoder", encoder, format!("{windows} windows of 30 s; the stage's {pieces} pieces each cost one")),
        ("decoder", bare - mel - encoder, "bare `full` less mel and encoder".into()),
        ("word alignment (DTW, token times)", with_words - bare, "`full` with the stage's parameters less bare".into()),
        ("VAD (Silero)", vad, "on another thread, beside whisper.cpp".into()),
        (
            "the rest: pieces, steno's code",
            stage - with_words,
            format!(
                "the stage less `full` with its parameters; {pieces} pieces of {piece_seconds:.0} s of speech, \
                 each encoded as the config says (`fit_encoder`, `fit_min_secs`)"
            ),
        ),
        ("the transcribe stage", stage, format!("{:.1}× real time", clip.seconds / stage)),
    ];
    let mut table = format!(
        "### Where the transcribe stage's time goes ({model_name}, {threads} threads, greedy, word times, VAD; {:.0} s clip)\n\n\
         | part | seconds | share of the stage | how |\n| --- | ---: | ---: | --- |\n",
        clip.seconds
    );
    for (part, seconds, how) in rows {
        table.push_str(&format!("| {part} | {seconds:.2} | {} | {how} |\n", share(seconds)));
    }
    Ok(table)
}

/// How many pieces the stage cuts the clip into, and their speech in seconds.
fn pieces(models: &Models, samples: &[f32]) -> (usize, f64) {
    let mut piecer = Piecer::new(models.vad());
    piecer.push(samples);
    let (mut count, mut kept) = (0, 0);
    while let Some(piece) = piecer.next_piece(false).or_else(|| piecer.next_piece(true)) {
        if !piece.samples.is_empty() {
            count += 1;
            kept += piece.samples.len();
        }
    }
    (count, kept as f64 / SAMPLE_RATE as f64)
}
