//! Silero VAD (the model `scripts/fetch-test-model.sh` converts) in the
//! pieces: loud noise between two sentences is dropped with it and kept by
//! the loudness detector alone, while the speech is kept by both.

mod common;

use std::sync::Arc;

use common::speech;

use steno_transcribe::{
    pieces::{Piecer, SAMPLE_RATE},
    vad::Vad,
};

/// White noise at about -20 dBFS, from a fixed seed.
fn noise(seconds: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..seconds * SAMPLE_RATE)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.35
        })
        .collect()
}

/// Seconds of audio the pieces keep.
fn kept_seconds(vad: Option<Arc<Vad>>, audio: &[f32]) -> f64 {
    let mut piecer = Piecer::new(vad);
    piecer.push(audio);
    let mut kept = 0;
    while let Some(piece) = piecer.next_piece(false).or_else(|| piecer.next_piece(true)) {
        kept += piece.samples.len();
    }
    kept as f64 / SAMPLE_RATE as f64
}

#[test]
fn noise_between_sentences_is_dropped_and_speech_kept() {
    let model = steno_runtime::config::data_home().join("models/ggml-silero-vad.bin");
    assert!(model.exists(), "{} is missing: run scripts/fetch-test-model.sh", model.display());
    let vad = Arc::new(Vad::load(&model).expect("load the VAD model"));
    let dir = tempfile::tempdir().expect("temp dir");
    let first = speech("The weekly meeting moved to Friday afternoon.", dir.path());
    let second = speech("Our support desk repaired the kitchen floor last week.", dir.path());
    let speech_seconds = (first.len() + second.len()) as f64 / SAMPLE_RATE as f64;
    let audio: Vec<f32> = [first, noise(6), second].concat();

    let by_loudness = kept_seconds(None, &audio);
    let with_vad = kept_seconds(Some(vad), &audio);
    eprintln!("speech {speech_seconds:.2} s; kept by loudness {by_loudness:.2} s, with the VAD {with_vad:.2} s");
    assert!(by_loudness > speech_seconds + 5.5, "loudness alone keeps the noise");
    assert!(with_vad < speech_seconds + 1.5, "the VAD drops the noise, keeping at most the pauses' padding");
    assert!(with_vad > speech_seconds - 1.0, "the VAD keeps the speech");
}
