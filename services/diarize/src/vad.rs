//! Energy voice-activity detection on the encoder's 10 ms frames.
//!
//! Frame `i`'s energy is the mean square of the 400 samples centred on
//! sample `160 i` (the mel frame's span, zeros outside the signal). The
//! threshold adapts to the recording: 30% of the way (in dB) from the noise
//! floor (5th percentile) to the speech level (95th percentile), but never
//! below 45 dB under the speech level nor below -60 dBFS. The floor is taken
//! as at least -90 dBFS, so digital silence does not push the threshold down
//! to the noise. Then gaps shorter than 300 ms between speech are filled and
//! speech runs shorter than 150 ms are dropped: the segments the encoder's
//! windows stay inside. Pauses under 500 ms are then bridged for the turns
//! (`bridge_pauses`), as a pause inside a turn is part of it.

use crate::frontend::{Framer, N_FFT};

const FLOOR_PERCENTILE: f64 = 0.05;
const LEVEL_PERCENTILE: f64 = 0.95;
const THRESHOLD_FRACTION: f64 = 0.3;
const MAX_BELOW_LEVEL_DB: f64 = 45.0;
const MIN_SPEECH_DBFS: f64 = -60.0;
const DIGITAL_SILENCE_DBFS: f64 = -90.0;
const MAX_GAP_FRAMES: usize = 30;
const TURN_GAP_FRAMES: usize = 50;
const MIN_SPEECH_FRAMES: usize = 15;

/// Mean square of a frame's 400 samples.
pub fn frame_energy(frame: &[f32]) -> f64 {
    frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / N_FFT as f64
}

/// [`frame_energy`] of each frame of audio in memory.
pub fn frame_energies(samples: &[f32]) -> Vec<f64> {
    let mut energies = Vec::new();
    let mut each = |_: usize, frame: &[f32]| energies.push(frame_energy(frame));
    let mut framer = Framer::default();
    framer.push(samples, &mut each);
    framer.finish(&mut each);
    energies
}

/// Which frames are speech, from `frame_energies`.
pub fn detect_speech(energies: &[f64]) -> Vec<bool> {
    let db: Vec<f64> = energies.iter().map(|&e| 10.0 * (e + 1e-12).log10()).collect();
    if db.is_empty() {
        return Vec::new();
    }
    let mut sorted = db.clone();
    sorted.sort_by(f64::total_cmp);
    let pick = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    let floor = pick(FLOOR_PERCENTILE).max(DIGITAL_SILENCE_DBFS);
    let level = pick(LEVEL_PERCENTILE);
    let threshold = (floor + THRESHOLD_FRACTION * (level - floor)).max(level - MAX_BELOW_LEVEL_DB).max(MIN_SPEECH_DBFS);
    let mut speech: Vec<bool> = db.iter().map(|&d| d > threshold).collect();
    fill_runs(&mut speech, false, MAX_GAP_FRAMES, true);
    fill_runs(&mut speech, true, MIN_SPEECH_FRAMES, false);
    speech
}

/// `speech` with pauses shorter than 500 ms between speech filled in.
pub fn bridge_pauses(speech: &[bool]) -> Vec<bool> {
    let mut bridged = speech.to_vec();
    fill_runs(&mut bridged, false, TURN_GAP_FRAMES, true);
    bridged
}

/// Sets runs of `value` shorter than `shorter_than` to `!value`; with
/// `inner_only`, only runs with the other value on both sides.
fn fill_runs(flags: &mut [bool], value: bool, shorter_than: usize, inner_only: bool) {
    let mut i = 0;
    while i < flags.len() {
        if flags[i] != value {
            i += 1;
            continue;
        }
        let start = i;
        while i < flags.len() && flags[i] == value {
            i += 1;
        }
        let inner = start > 0 && i < flags.len();
        if i - start < shorter_than && (inner || !inner_only) {
            flags[start..i].fill(!value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(seconds: f32, amplitude: f32) -> Vec<f32> {
        (0..(seconds * 16_000.0) as usize).map(|i| amplitude * (i as f32 * 0.07).sin()).collect()
    }

    fn runs(flags: &[bool]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < flags.len() {
            if flags[i] {
                let s = i;
                while i < flags.len() && flags[i] {
                    i += 1;
                }
                out.push((s, i));
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn finds_bursts_in_silence_and_bridges_short_gaps() {
        let mut samples = vec![0.0; 8_000];
        samples.extend(tone(1.0, 0.3));
        samples.extend(vec![0.0; 3_200]); // 200 ms: bridged
        samples.extend(tone(1.0, 0.05));
        samples.extend(vec![0.0; 16_000]); // 1 s: kept
        samples.extend(tone(0.5, 0.2));
        samples.extend(vec![0.0; 8_000]);
        samples.extend(tone(0.05, 0.3)); // 50 ms click: dropped
        samples.extend(vec![0.0; 8_000]);
        let speech = detect_speech(&frame_energies(&samples));
        let found = runs(&speech);
        assert_eq!(found.len(), 2, "{found:?}");
        // Edges within the 25 ms frame half-width (plus a frame).
        let near = |a: usize, b: usize| a.abs_diff(b) <= 3;
        assert!(near(found[0].0, 50) && near(found[0].1, 270), "{found:?}");
        assert!(near(found[1].0, 370) && near(found[1].1, 420), "{found:?}");
    }

    #[test]
    fn pauses_under_half_a_second_are_bridged_for_turns() {
        let mut speech = vec![false; 300];
        speech[10..100].fill(true);
        speech[140..200].fill(true); // 400 ms pause before: bridged
        speech[260..290].fill(true); // 600 ms pause before: kept
        assert_eq!(runs(&bridge_pauses(&speech)), vec![(10, 200), (260, 290)]);
    }

    #[test]
    fn noise_floor_adapts_and_silence_has_no_speech() {
        assert!(!detect_speech(&frame_energies(&vec![0.0; 32_000])).contains(&true));
        assert!(!detect_speech(&frame_energies(&tone(2.0, 0.0005))).contains(&true), "below -60 dBFS");
        // Speech-level bursts over a steady floor 20 dB down.
        let mut samples = tone(1.0, 0.02);
        samples.extend(tone(1.0, 0.2));
        samples.extend(tone(1.0, 0.02));
        let found = runs(&detect_speech(&frame_energies(&samples)));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].0.abs_diff(100) <= 3 && found[0].1.abs_diff(200) <= 3, "{found:?}");
    }
}
