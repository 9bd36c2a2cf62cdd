//! The segmentation model run here against the reference runtime: for a
//! fixed 3 s test signal, every frame's class probabilities match what
//! onnxruntime 1.32 computed from the same ONNX file
//! (`tests/data/segmentation-reference.txt`). Needs the model
//! (`scripts/fetch-speaker-model.sh` writes it).

use steno_diarize::segmentation::{CLASSES, Segmenter, frames_of};

/// The test signal, as the reference was computed from it: a gliding tone
/// with a slow tremolo, a high tone and a little seeded noise, at 16 kHz.
fn signal(samples: usize) -> Vec<f32> {
    let mut state: u64 = 12_345;
    (0..samples)
        .map(|n| {
            let t = n as f64 / 16_000.0;
            let tau = std::f64::consts::TAU;
            let mut v = 0.3 * (tau * (180.0 + 60.0 * t) * t).sin() * (0.6 + 0.4 * (tau * 3.0 * t).sin())
                + 0.05 * (tau * 2500.0 * t).sin();
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            v += ((state >> 40) as f64 / 16_777_216.0 - 0.5) * 0.02;
            v as f32
        })
        .collect()
}

#[test]
fn matches_the_reference_runtime() {
    let path = steno_runtime::config::data_home().join("models/pyannote-segmentation-3.0.onnx");
    let model = Segmenter::load(&path).expect("the segmentation model (scripts/fetch-speaker-model.sh)");
    let reference: Vec<Vec<f32>> = include_str!("data/segmentation-reference.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(' ').map(|v| v.parse().expect("a number")).collect())
        .collect();
    let samples = signal(48_000);
    assert_eq!(reference.len(), frames_of(samples.len()));
    let ours = model.probabilities(&samples);
    assert_eq!(ours.len(), reference.len() * CLASSES);
    let worst = ours.iter().zip(reference.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "largest difference from onnxruntime: {worst}");
    assert!(model.probabilities(&samples[..200]).is_empty(), "shorter than one filter: no frame");
}
