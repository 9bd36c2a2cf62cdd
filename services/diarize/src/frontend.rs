//! The encoder's front end, matching `librosa.feature.melspectrogram` with
//! Resemblyzer's settings: 16 kHz, 400-sample periodic Hann window and FFT,
//! hop 160 (10 ms), centred frames with 200 zeros of padding each side
//! (librosa ≥ 0.10's `pad_mode="constant"`), power spectrum `|X|²`, 40 Slaney
//! mel bands with Slaney area normalisation over 0–8000 Hz, and no log.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex, num_complex::Complex};

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
pub const N_MELS: usize = 40;
const N_BINS: usize = N_FFT / 2 + 1;

/// One triangular mel filter: weights for bins `start..start + weights.len()`.
#[derive(Debug, Clone)]
struct MelFilter {
    start: usize,
    weights: Vec<f32>,
}

/// Computes power mel spectrograms; cheap to share between threads.
pub struct MelFrontend {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    filters: Vec<MelFilter>,
}

impl MelFrontend {
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        let window = (0..N_FFT)
            .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        let filters = mel_filterbank()
            .into_iter()
            .map(|row| {
                let start = row.iter().position(|&w| w > 0.0).unwrap_or(0);
                let end = row.iter().rposition(|&w| w > 0.0).map_or(start, |e| e + 1);
                MelFilter { start, weights: row[start..end].to_vec() }
            })
            .collect();
        MelFrontend { fft, window, filters }
    }

    /// Number of frames librosa produces for `n` samples (centred framing).
    pub fn frame_count(n: usize) -> usize {
        1 + n / HOP
    }

    /// The power mel spectrogram, `frame_count(samples.len())` rows of
    /// `N_MELS`, flattened row-major.
    pub fn power_mel(&self, samples: &[f32]) -> Vec<f32> {
        let frames = Self::frame_count(samples.len());
        let mut out = vec![0.0f32; frames * N_MELS];
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; N_BINS];
        let pad = N_FFT / 2;
        for (f, mel) in out.chunks_exact_mut(N_MELS).enumerate() {
            // Frame f covers padded samples [f*HOP, f*HOP + N_FFT), i.e.
            // original samples starting at f*HOP - pad; outside is zero.
            for (i, x) in input.iter_mut().enumerate() {
                let at = (f * HOP + i).checked_sub(pad);
                *x = at.and_then(|a| samples.get(a)).map_or(0.0, |s| s * self.window[i]);
            }
            if self.fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch).is_err() {
                continue; // only fails on wrong buffer lengths, which make_*_vec rules out
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = Complex::norm_sqr(c);
            }
            for (m, filter) in mel.iter_mut().zip(&self.filters) {
                let bins = &power[filter.start..filter.start + filter.weights.len()];
                *m = bins.iter().zip(&filter.weights).map(|(p, w)| p * w).sum();
            }
        }
        out
    }
}

impl Default for MelFrontend {
    fn default() -> Self {
        Self::new()
    }
}

/// Slaney's mel scale (librosa `htk=False`): linear below 1 kHz, log above.
fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    let logstep = 6.4f64.ln() / 27.0;
    if hz < 1000.0 { hz / F_SP } else { 1000.0 / F_SP + (hz / 1000.0).ln() / logstep }
}

fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    let logstep = 6.4f64.ln() / 27.0;
    let min_log_mel = 1000.0 / F_SP;
    if mel < min_log_mel { mel * F_SP } else { 1000.0 * (logstep * (mel - min_log_mel)).exp() }
}

/// `librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)`: `N_MELS` rows of
/// `N_BINS` weights, computed in f64 and rounded to f32 as librosa does.
fn mel_filterbank() -> Vec<Vec<f32>> {
    let fmax = SAMPLE_RATE as f64 / 2.0;
    let (mel_min, mel_max) = (hz_to_mel(0.0), hz_to_mel(fmax));
    let edges: Vec<f64> =
        (0..N_MELS + 2).map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (N_MELS + 1) as f64)).collect();
    let bin_hz: Vec<f64> = (0..N_BINS).map(|k| fmax * k as f64 / (N_BINS - 1) as f64).collect();
    (0..N_MELS)
        .map(|m| {
            let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
            let area_norm = 2.0 / (hi - lo);
            bin_hz
                .iter()
                .map(|&f| {
                    let rising = (f - lo) / (mid - lo);
                    let falling = (hi - f) / (hi - mid);
                    (rising.min(falling).max(0.0) * area_norm) as f32
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_is_linear_below_1khz() {
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(200.0) - 3.0).abs() < 1e-12);
        for hz in [0.0, 123.0, 999.0, 1000.0, 4321.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }

    #[test]
    fn filterbank_matches_librosa_values() {
        let fb = mel_filterbank();
        assert_eq!((fb.len(), fb[0].len()), (N_MELS, N_BINS));
        // Reference values from librosa.filters.mel(sr=16000, n_fft=400, n_mels=40).
        let expected: [(usize, usize, f32); 4] =
            [(0, 1, 0.007_390_209_5), (10, 21, 0.007_915_241), (39, 191, 0.001_093_638_5), (39, 199, 0.000_121_515_4)];
        for (m, k, w) in expected {
            assert!((fb[m][k] - w).abs() < 1e-8, "fb[{m}][{k}] = {} not {w}", fb[m][k]);
        }
        // Slaney area normalisation: each triangle integrates to about 1
        // over Hz, so row sum × bin width (40 Hz) is close to 1.
        for row in &fb {
            let area: f32 = row.iter().sum::<f32>() * 40.0;
            assert!((area - 1.0).abs() < 0.05, "area {area}");
        }
    }

    #[test]
    fn pure_tone_lands_in_its_band() {
        let hz = 1000.0f32;
        let samples: Vec<f32> =
            (0..16_000).map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / SAMPLE_RATE as f32).sin()).collect();
        let mel = MelFrontend::new().power_mel(&samples);
        assert_eq!(mel.len(), MelFrontend::frame_count(16_000) * N_MELS);
        let frame = &mel[50 * N_MELS..51 * N_MELS];
        let peak = (0..N_MELS).max_by(|&a, &b| frame[a].total_cmp(&frame[b])).unwrap_or(0);
        let centre = |m: usize| {
            let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(8000.0));
            mel_to_hz(lo + (hi - lo) * (m + 1) as f64 / (N_MELS + 1) as f64)
        };
        assert!((centre(peak) - f64::from(hz)).abs() < 120.0, "peak band centre {}", centre(peak));
    }
}
