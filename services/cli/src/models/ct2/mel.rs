//! Whisper's mel filterbank (librosa.filters.mel, Slaney scale and
//! normalisation), as stored in the ggml header.

const SAMPLE_RATE: f64 = 16_000.0;
const N_FFT: usize = 400;

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ { MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step() } else { hz / F_SP }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL { MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp() } else { F_SP * mel }
}

/// `librosa.filters.mel(sr=16000, n_fft=400, n_mels)` (fmin 0, fmax sr/2,
/// htk=False, norm="slaney"), row-major `[n_mels][201]`. This is what
/// whisper's `mel_filters.npz` holds.
pub(super) fn mel_filters(n_mels: usize) -> Vec<f32> {
    let n_bins = N_FFT / 2 + 1;
    let fft_freqs: Vec<f64> = (0..n_bins).map(|i| i as f64 * SAMPLE_RATE / N_FFT as f64).collect();
    let (mel_min, mel_max) = (hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0));
    let mel_f: Vec<f64> =
        (0..n_mels + 2).map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (n_mels + 1) as f64)).collect();
    let mut w = vec![0f32; n_mels * n_bins];
    for m in 0..n_mels {
        let (lo, mid, hi) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - lo) / (mid - lo);
            let upper = (hi - f) / (hi - mid);
            // librosa stores the triangle as f32, then scales it in f64.
            let tri = lower.min(upper).max(0.0) as f32;
            w[m * n_bins + k] = (f64::from(tri) * enorm) as f32;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_filterbank_shape_and_values() {
        let f = mel_filters(80);
        assert_eq!(f.len(), 80 * 201);
        assert!(f.iter().all(|&x| x >= 0.0 && x.is_finite()));
        for row in f.chunks(201) {
            assert!(row.iter().any(|&x| x > 0.0), "empty filter");
        }
        // Reference values from whisper's assets/mel_filters.npz (mel_80).
        assert!((f[1] - 0.024_862_595).abs() < 1e-6);
        let row10_max = f[10 * 201..11 * 201].iter().cloned().fold(0f32, f32::max);
        assert!((row10_max - 0.019_908_218).abs() < 1e-6);
        // Slaney normalisation: each triangle has unit area in Hz (bins are
        // 40 Hz apart, so the sampled area is only close to 1).
        for row in f.chunks(201) {
            let area: f32 = row.iter().sum::<f32>() * 40.0;
            assert!((area - 1.0).abs() < 0.1, "area {area}");
        }
        let f128 = mel_filters(128);
        assert_eq!(f128.len(), 128 * 201);
        assert!((f128[1] - 0.012_373_987).abs() < 1e-6);
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 100.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }
}
