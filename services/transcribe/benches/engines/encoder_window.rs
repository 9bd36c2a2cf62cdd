//! `--encoder-window`: what encoding a piece as less than whisper's 30 s
//! window (whisper.cpp's `audio_ctx`) costs in words and saves in time.
//! Short clips of one, two and four sentences read by three flite and three
//! espeak-ng voices go through the stage's `transcribe_samples` (VAD, word
//! times) with every piece encoded as 30 s, with each fitted to its length
//! (`transcribe.fit_encoder`) given at least 0–20 s
//! (`transcribe.min_window_secs`), with pieces up to 10 s encoded as 10 s
//! and longer ones as 30 s (the default before 2026-12-05), and with pieces
//! up to 10 s encoded as 10 s and longer ones fitted but given at least 15
//! or 20 s (`transcribe.fit_min_secs`; 20 s the default). Prints the word error rate
//! by clip length and by synthesizer, and the seconds a clip; writes
//! `target/bench/encoder-window.md`.

use std::{fmt::Write as _, path::Path, time::Instant};

use anyhow::Context;
use steno_runtime::{proto::JobOptions, stage::ProgressReporter};
use steno_transcribe::{models::Models, whisper, whisper::EncoderWindow};

use crate::clips::{SAMPLE_RATE, Sentences, speak};

/// Bump when the text or the synthesis changes, so stale caches are ignored.
const CACHE_VERSION: &str = "v1-floor";
/// `(synthesizer, voice)`.
const VOICES: [(&str, &str); 6] = [
    ("flite", "slt"),
    ("flite", "awb"),
    ("flite", "rms"),
    ("espeak-ng", "en-us"),
    ("espeak-ng", "en-gb+m3"),
    ("espeak-ng", "en-us+f4"),
];
/// Sentences a clip, and clips of each length a voice.
const LENGTHS: [usize; 3] = [1, 2, 4];
const CLIPS_EACH: usize = 4;

/// Each piece encoded at its own length, but as at least `min_secs`.
const fn fitted(min_secs: f32) -> EncoderWindow {
    EncoderWindow { min_secs, fit: true, fit_min_secs: 0.0 }
}
/// Pieces up to 10 s encoded as 10 s, longer ones fitted but as at least
/// `fit_min_secs`.
const fn fitted_above_ten(fit_min_secs: f32) -> EncoderWindow {
    EncoderWindow { min_secs: 10.0, fit: true, fit_min_secs }
}
const WINDOWS: [(&str, EncoderWindow); 9] = [
    ("30 s", EncoderWindow { min_secs: 0.0, fit: false, fit_min_secs: 0.0 }),
    ("fitted", fitted(0.0)),
    ("fitted, at least 5 s", fitted(5.0)),
    ("fitted, at least 10 s", fitted(10.0)),
    ("fitted, at least 15 s", fitted(15.0)),
    ("fitted, at least 20 s", fitted(20.0)),
    ("10 s up to 10 s, else fitted, at least 15 s", fitted_above_ten(15.0)),
    ("10 s up to 10 s, else fitted, at least 20 s (the default)", fitted_above_ten(20.0)),
    ("10 s up to 10 s, else 30 s", EncoderWindow { min_secs: 10.0, fit: false, fit_min_secs: 0.0 }),
];

struct Clip {
    synthesizer: &'static str,
    sentences: usize,
    text: String,
    samples: Vec<f32>,
}

pub fn run_sweep(models_dir: &Path, model_name: &str, threads: usize) -> anyhow::Result<String> {
    let clips = make_clips()?;
    let config =
        steno_runtime::config::TranscribeConfig { models_dir: models_dir.to_owned(), threads, ..Default::default() };
    let models = Models::new(&config);
    let model = models.get(model_name, true).map_err(anyhow::Error::msg)?;
    let options = JobOptions { model: model_name.into(), ..Default::default() };
    let (progress, _watch) = tokio::sync::watch::channel(0.0_f32);

    let mut out = String::new();
    let audio: f64 = clips.iter().map(|c| c.samples.len() as f64 / SAMPLE_RATE as f64).sum();
    let _ = writeln!(
        out,
        "## The encoder's window on short pieces ({model_name}, {threads} threads, greedy, word times, VAD; {} clips, {audio:.0} s)\n",
        clips.len()
    );
    let mut header = "| encoder window | ".to_owned();
    for n in LENGTHS {
        let _ = write!(header, "WER, {n} sentence{} | ", if n > 1 { "s" } else { "" });
    }
    header.push_str("WER, flite | WER, espeak-ng | WER, all | s a 1-sentence clip | s in all |");
    let _ = writeln!(out, "{header}\n|{}", " --- |".repeat(header.matches('|').count() - 1));
    for (label, window) in WINDOWS {
        let request = whisper::Request::new(&options, threads, window);
        // (errors, reference words) by length and by synthesizer.
        let (mut by_length, mut by_synth) = ([(0.0, 0); LENGTHS.len()], [(0.0, 0); 2]);
        let (mut one_sentence_secs, mut one_sentence_clips, clock) = (0.0, 0, Instant::now());
        for clip in &clips {
            let started = Instant::now();
            let transcript = steno_transcribe::transcribe_samples(
                &model,
                models.vad(),
                &clip.samples,
                &request,
                ProgressReporter::new(progress.clone()),
            )?;
            if clip.sentences == 1 {
                one_sentence_secs += started.elapsed().as_secs_f64();
                one_sentence_clips += 1;
            }
            let text = transcript.segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
            let words = clip.text.split_whitespace().count();
            let errors = crate::wer::word_error_rate(&clip.text, &text) * words as f64;
            for total in [
                &mut by_length[LENGTHS.iter().position(|&n| n == clip.sentences).unwrap_or(0)],
                &mut by_synth[usize::from(clip.synthesizer != "flite")],
            ] {
                total.0 += errors;
                total.1 += words;
            }
        }
        let rate = |(errors, words): (f64, usize)| format!("{:.1} %", 100.0 * errors / words.max(1) as f64);
        let mut line = format!("| {label} | ");
        for total in by_length {
            let _ = write!(line, "{} | ", rate(total));
        }
        let all = (by_synth[0].0 + by_synth[1].0, by_synth[0].1 + by_synth[1].1);
        let _ = write!(
            line,
            "{} | {} | {} | {:.2} | {:.1} |",
            rate(by_synth[0]),
            rate(by_synth[1]),
            rate(all),
            one_sentence_secs / one_sentence_clips.max(1) as f64,
            clock.elapsed().as_secs_f64()
        );
        eprintln!("{line}");
        let _ = writeln!(out, "{line}");
    }
    Ok(out)
}

/// Makes (or reuses) each voice's clips: the same sentences for every
/// voice, so the synthesizers are compared on one text.
fn make_clips() -> anyhow::Result<Vec<Clip>> {
    let dir = std::env::temp_dir().join("steno-bench-media").join(CACHE_VERSION);
    std::fs::create_dir_all(&dir).context("create media cache")?;
    let mut clips = Vec::new();
    for (synthesizer, voice) in VOICES {
        let mut sentences = Sentences(7);
        for (length, n) in LENGTHS.iter().enumerate() {
            for i in 0..CLIPS_EACH {
                let text: Vec<String> = (0..*n).map(|_| sentences.next_sentence()).collect();
                let text = text.join(" ");
                let pcm = dir.join(format!("{synthesizer}-{voice}-{length}-{i}.pcm"));
                if !pcm.exists() {
                    let audio = speak(synthesizer, voice, &text, &dir.join("sentence.wav"))?;
                    std::fs::write(&pcm, audio).context("write clip")?;
                }
                let bytes = std::fs::read(&pcm).context("read clip")?;
                let samples =
                    bytes.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect();
                clips.push(Clip { synthesizer, sentences: *n, text, samples });
            }
        }
    }
    Ok(clips)
}
