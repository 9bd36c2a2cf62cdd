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

    /// Buffers for [`MelFrontend::frame_mel`], one set per thread.
    pub fn scratch(&self) -> MelScratch {
        MelScratch {
            input: self.fft.make_input_vec(),
            spectrum: self.fft.make_output_vec(),
            fft: self.fft.make_scratch_vec(),
            power: vec![0.0; N_BINS],
        }
    }

    /// One frame's `N_MELS` power mel values into `out`, from its `N_FFT`
    /// samples (a [`Framer`] frame).
    pub fn frame_mel(&self, frame: &[f32], scratch: &mut MelScratch, out: &mut [f32]) {
        for ((x, s), w) in scratch.input.iter_mut().zip(frame).zip(&self.window) {
            *x = s * w;
        }
        if self.fft.process_with_scratch(&mut scratch.input, &mut scratch.spectrum, &mut scratch.fft).is_err() {
            return; // only fails on wrong buffer lengths, which make_*_vec rules out
        }
        for (p, c) in scratch.power.iter_mut().zip(&scratch.spectrum) {
            *p = Complex::norm_sqr(c);
        }
        for (m, filter) in out.iter_mut().zip(&self.filters) {
            let bins = &scratch.power[filter.start..filter.start + filter.weights.len()];
            *m = bins.iter().zip(&filter.weights).map(|(p, w)| p * w).sum();
        }
    }

    /// The power mel spectrogram of audio in memory, `frame_count(samples.len())`
    /// rows of `N_MELS`, flattened row-major.
    pub fn power_mel(&self, samples: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(Self::frame_count(samples.len()) * N_MELS);
        let mut scratch = self.scratch();
        let mut each = |_: usize, frame: &[f32]| {
            let at = out.len();
            out.resize(at + N_MELS, 0.0);
            self.frame_mel(frame, &mut scratch, &mut out[at..]);
        };
        let mut framer = Framer::default();
        framer.push(samples, &mut each);
        framer.finish(&mut each);
        out
    }
}

/// FFT buffers for [`MelFrontend::frame_mel`].
pub struct MelScratch {
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    fft: Vec<Complex<f32>>,
    power: Vec<f32>,
}

/// Cuts audio that arrives a block at a time into the front end's frames:
/// frame `i` is the `N_FFT` samples centred on sample `i × HOP`, zeros
/// outside the audio (librosa's centred framing, padding included). Between
/// blocks it holds under one frame of samples.
#[derive(Default)]
pub struct Framer {
    /// Samples from audio index `offset` on.
    held: Vec<f32>,
    offset: usize,
    /// Samples pushed so far.
    total: usize,
    /// The next frame to hand out.
    next: usize,
    frame: Vec<f32>,
}

impl Framer {
    /// Takes the next block, handing `each` every frame it completes (index, samples).
    pub fn push(&mut self, block: &[f32], each: &mut impl FnMut(usize, &[f32])) {
        self.held.extend_from_slice(block);
        self.total += block.len();
        while self.next * HOP + N_FFT / 2 <= self.total {
            self.emit(each);
        }
        let keep_from = (self.next * HOP).saturating_sub(N_FFT / 2).max(self.offset);
        self.held.drain(..keep_from - self.offset);
        self.offset = keep_from;
    }

    /// Hands out the last frames (padded with zeros); returns the number of
    /// samples the audio had.
    pub fn finish(mut self, each: &mut impl FnMut(usize, &[f32])) -> usize {
        while self.next < MelFrontend::frame_count(self.total) {
            self.emit(each);
        }
        self.total
    }

    fn emit(&mut self, each: &mut impl FnMut(usize, &[f32])) {
        self.frame.resize(N_FFT, 0.0);
        let first = (self.next * HOP) as isize - (N_FFT / 2) as isize;
        for (i, x) in self.frame.iter_mut().enumerate() {
            let at = first + i as isize;
            *x = usize::try_from(at)
                .ok()
                .filter(|&a| a < self.total)
                .and_then(|a| self.held.get(a.checked_sub(self.offset)?))
                .copied()
                .unwrap_or(0.0);
        }
        each(self.next, &self.frame);
        self.next += 1;
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
    fn frames_are_centred_padded_and_independent_of_the_blocks() {
        let samples: Vec<f32> = (0..1_000).map(|i| i as f32).collect();
        let mut whole = Vec::new();
        let mut framer = Framer::default();
        framer.push(&samples, &mut |i, f: &[f32]| whole.push((i, f.to_vec())));
        assert_eq!(framer.finish(&mut |i, f: &[f32]| whole.push((i, f.to_vec()))), 1_000);
        assert_eq!(whole.len(), MelFrontend::frame_count(1_000));
        // Frame 0: 200 zeros, then samples 0..200; frame 6: samples 760..1000, then zeros.
        assert_eq!((whole[0].1[199], whole[0].1[200], whole[0].1[399]), (0.0, 0.0, 199.0));
        assert_eq!((whole[6].1[0], whole[6].1[239], whole[6].1[240]), (760.0, 999.0, 0.0));
        let mut pieces = Vec::new();
        let mut framer = Framer::default();
        for block in samples.chunks(37) {
            framer.push(block, &mut |i, f: &[f32]| pieces.push((i, f.to_vec())));
            assert!(framer.held.len() <= N_FFT + 37, "holds {} samples", framer.held.len());
        }
        framer.finish(&mut |i, f: &[f32]| pieces.push((i, f.to_vec())));
        assert_eq!(whole, pieces);
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
