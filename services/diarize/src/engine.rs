//! The diarization pipeline: energy VAD → speech segments → windows inside
//! segments (1.6 s every 0.75 s; one shorter window for a 0.5–1.6 s
//! segment), each levelled to -30 dBFS → GE2E embeddings → clustering of
//! the full windows (spectral; agglomerative under about 40 s of speech),
//! shorter windows joining the nearest cluster → per-frame labels from the
//! nearest window → pauses under 0.5 s bridged → smoothed turns, clipped
//! to the audio's length.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

use crate::checkpoint::read_model_state;
use crate::cluster::{cluster, nearest_centroid};
use crate::encoder::{EMBEDDING, Encoder};
use crate::frontend::{MelFrontend, N_MELS, SAMPLE_RATE};
use crate::turns::{fill_pauses, frames_to_turns};
use crate::vad::{bridge_pauses, detect_speech, frame_energies};
use crate::windows::{Window, label_frames, place_windows, segments};

/// Mean square of a -30 dBFS signal (Resemblyzer's `audio_norm_target_dBFS`).
const TARGET_POWER: f64 = 1e-3;
/// Windows whose mel frames are gathered at once (about 26 kB each), so
/// memory stays flat however long the audio.
const WINDOWS_PER_CALL: usize = 256;
/// The largest count searched when the job gives no maximum.
const DEFAULT_MAX_SPEAKERS: usize = 8;

/// A speaker turn: [start_ms, end_ms) of speech by one speaker. Turns are sorted, do not overlap;
/// speakers are numbered 0.. in order of first appearance.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: usize,
}

/// Job's speaker-count constraints (all optional). exact wins over min/max.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpeakerCount {
    pub exact: Option<usize>,
    pub min: Option<usize>,
    pub max: Option<usize>,
}

impl SpeakerCount {
    /// The inclusive range of counts to search.
    fn range(self) -> anyhow::Result<(usize, usize)> {
        let (min, max) = match self.exact {
            Some(k) => (k, k),
            None => (self.min.unwrap_or(1), self.max.unwrap_or(DEFAULT_MAX_SPEAKERS.max(self.min.unwrap_or(1)))),
        };
        if min == 0 || min > max {
            bail!("invalid speaker count: need 1 ≤ min ≤ max, got min {min}, max {max}");
        }
        Ok((min, max))
    }
}

/// A loaded speaker encoder and the pipeline around it.
pub struct Diarizer {
    encoder: Encoder,
    frontend: MelFrontend,
    threads: usize,
}

impl Diarizer {
    /// Loads the GE2E weights from the file scripts/fetch-speaker-model.sh writes (models/resemblyzer-ge2e.pt).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("read speaker model {}", path.display()))?;
        let state = read_model_state(&bytes).with_context(|| format!("parse speaker model {}", path.display()))?;
        let encoder = Encoder::from_state(&state).with_context(|| format!("speaker model {}", path.display()))?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Diarizer { encoder, frontend: MelFrontend::new(), threads })
    }

    /// samples: 16 kHz mono f32 in [-1, 1]. Returns the speaker turns. Empty vec if no speech.
    /// Must be callable from several threads (&self).
    pub fn diarize(&self, samples: &[f32], count: SpeakerCount) -> anyhow::Result<Vec<Turn>> {
        self.diarize_until(samples, count, &|| false)
    }

    /// As [`Diarizer::diarize`], giving up (with an error) as soon as
    /// `stop` says so; it is asked between batches of windows.
    pub fn diarize_until(
        &self,
        samples: &[f32],
        count: SpeakerCount,
        stop: &dyn Fn() -> bool,
    ) -> anyhow::Result<Vec<Turn>> {
        let (min_k, max_k) = count.range()?;
        let energies = frame_energies(samples);
        let speech = detect_speech(&energies);
        let (stream, segments) = segments(&speech);
        if stream.is_empty() {
            return Ok(Vec::new());
        }
        let windows = place_windows(&segments);
        let mut frame_labels = match windows.len() {
            // Only snippets under 0.5 s: too little to tell voices apart.
            0 => speech.iter().map(|&s| s.then_some(0)).collect(),
            1 => label_frames(&stream, &segments, &windows, &[0], speech.len()),
            _ => {
                let embeddings = self.embed_windows(samples, &energies, &stream, &windows, stop);
                anyhow::ensure!(!stop(), "diarization stopped: the job was cancelled");
                let labels = cluster_windows(&embeddings, &windows, min_k, max_k);
                label_frames(&stream, &segments, &windows, &labels, speech.len())
            }
        };
        fill_pauses(&mut frame_labels, &bridge_pauses(&speech));
        let mut turns = frames_to_turns(&frame_labels);
        // The last 10 ms frame can reach past the final sample.
        let duration_ms = (samples.len() as u64 * 1000).div_ceil(SAMPLE_RATE as u64);
        turns.retain_mut(|t| {
            t.end_ms = t.end_ms.min(duration_ms);
            t.start_ms < t.end_ms
        });
        Ok(turns)
    }

    /// One voice's print: the mean of the unit embeddings of every window
    /// of speech in `samples` (16 kHz), made unit length, and how much
    /// speech it came from in milliseconds. `None` without a window of speech.
    pub fn voiceprint(&self, samples: &[f32]) -> Option<(Vec<f32>, u64)> {
        let energies = frame_energies(samples);
        let speech = detect_speech(&energies);
        let (stream, segments) = segments(&speech);
        let windows = place_windows(&segments);
        if windows.is_empty() {
            return None;
        }
        let embeddings = self.embed_windows(samples, &energies, &stream, &windows, &|| false);
        let mut mean = vec![0.0f32; EMBEDDING];
        for embedding in embeddings.chunks_exact(EMBEDDING) {
            let norm = embedding.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
            mean.iter_mut().zip(embedding).for_each(|(m, x)| *m += x / norm);
        }
        let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
        mean.iter_mut().for_each(|m| *m /= norm);
        Some((mean, stream.len() as u64 * crate::turns::FRAME_MS))
    }

    /// Embeds each window, levelled to -30 dBFS by scaling its power mel
    /// frames by the inverse of its mean frame energy. Windows of one length
    /// are encoded as one batch. Returns `windows × EMBEDDING`.
    /// Stops early (the rest left zero) once `stop` says so.
    fn embed_windows(
        &self,
        samples: &[f32],
        energies: &[f64],
        stream: &[usize],
        windows: &[Window],
        stop: &dyn Fn() -> bool,
    ) -> Vec<f32> {
        let mel = self.frontend.power_mel(samples);
        let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, w) in windows.iter().enumerate() {
            by_len.entry(w.len).or_default().push(i);
        }
        let mut out = vec![0.0f32; windows.len() * EMBEDDING];
        for (len, members) in by_len {
            for chunk in members.chunks(WINDOWS_PER_CALL) {
                if stop() {
                    return out;
                }
                let mut batch = Vec::with_capacity(chunk.len() * len * N_MELS);
                for &i in chunk {
                    let span = &stream[windows[i].start..][..len];
                    let power = span.iter().map(|&f| energies[f]).sum::<f64>() / len as f64;
                    let gain = if power > 0.0 { (TARGET_POWER / power) as f32 } else { 1.0 };
                    for &f in span {
                        batch.extend(mel[f * N_MELS..][..N_MELS].iter().map(|m| m * gain));
                    }
                }
                let embedded = self.encoder.embed(&batch, chunk.len(), len, self.threads);
                for (&i, e) in chunk.iter().zip(embedded.chunks_exact(EMBEDDING)) {
                    out[i * EMBEDDING..][..EMBEDDING].copy_from_slice(e);
                }
            }
        }
        out
    }
}

/// Clusters the full-length windows, then gives each shorter window the
/// nearest cluster (their embeddings are noisier, so they do not shape the
/// clusters). With fewer than two full windows, all windows are clustered.
fn cluster_windows(embeddings: &[f32], windows: &[Window], min_k: usize, max_k: usize) -> Vec<usize> {
    let full: Vec<usize> = (0..windows.len()).filter(|&i| windows[i].is_full()).collect();
    if full.len() < 2 || full.len() == windows.len() {
        return cluster(embeddings, EMBEDDING, min_k, max_k);
    }
    let rows: Vec<f32> = full.iter().flat_map(|&i| embeddings[i * EMBEDDING..][..EMBEDDING].iter().copied()).collect();
    let labels = cluster(&rows, EMBEDDING, min_k, max_k);
    let k = labels.iter().max().map_or(1, |m| m + 1);
    nearest_centroid(embeddings, EMBEDDING, &rows, &labels, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy_diarizer() -> Diarizer {
        let encoder = Encoder::from_state(&crate::encoder::random_state(3)).expect("shapes");
        Diarizer { encoder, frontend: MelFrontend::new(), threads: 2 }
    }

    fn tone(seconds: f32) -> Vec<f32> {
        (0..(seconds * 16_000.0) as usize).map(|i| 0.3 * (i as f32 * 0.11).sin() * (i as f32 * 0.0007).sin()).collect()
    }

    #[test]
    fn silence_has_no_turns_and_one_voice_one_turn() {
        let diarizer = toy_diarizer();
        assert!(diarizer.diarize(&[], SpeakerCount::default()).expect("empty").is_empty());
        assert!(diarizer.diarize(&vec![0.0; 48_000], SpeakerCount::default()).expect("silence").is_empty());
        let mut samples = vec![0.0; 8_000];
        samples.extend(tone(3.0));
        samples.extend(vec![0.0; 8_000]);
        let turns = diarizer.diarize(&samples, SpeakerCount { exact: Some(1), ..Default::default() }).expect("tone");
        assert_eq!(turns.len(), 1, "{turns:?}");
        assert!(turns[0].start_ms.abs_diff(500) <= 30 && turns[0].end_ms.abs_diff(3500) <= 30, "{turns:?}");
        assert_eq!(turns[0].speaker, 0);
        // A 0.3 s snippet that runs to the end: one turn, within the audio.
        let mut samples = vec![0.0; 16_000];
        samples.extend(tone(0.3));
        let turns = diarizer.diarize(&samples, SpeakerCount::default()).expect("snippet");
        assert_eq!(turns.len(), 1, "{turns:?}");
        assert!(turns[0].start_ms.abs_diff(1000) <= 30 && turns[0].end_ms == 1300, "{turns:?}");
    }

    #[test]
    fn turns_are_sorted_disjoint_and_numbered_by_appearance() {
        let diarizer = toy_diarizer();
        let mut samples = Vec::new();
        for seconds in [2.5, 0.3, 1.0, 4.0, 0.7] {
            samples.extend(tone(seconds));
            samples.extend(vec![0.0; 8_000]);
        }
        let turns = diarizer.diarize(&samples, SpeakerCount { min: Some(2), max: Some(3), ..Default::default() });
        let turns = turns.expect("diarize");
        assert!(!turns.is_empty());
        assert!(turns.windows(2).all(|w| w[0].end_ms <= w[1].start_ms));
        assert!(turns.iter().all(|t| t.start_ms < t.end_ms));
        let mut seen = 0;
        for t in &turns {
            assert!(t.speaker <= seen, "speaker {} before {seen}", t.speaker);
            seen = seen.max(t.speaker + 1);
        }
        let bad = SpeakerCount { min: Some(3), max: Some(2), ..Default::default() };
        assert!(diarizer.diarize(&samples, bad).is_err());
    }

    #[test]
    fn load_names_the_file_it_cannot_use() {
        let dir = std::env::temp_dir().join(format!("steno-diarize-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let missing = dir.join("missing.pt");
        let err = Diarizer::load(&missing).err().expect("missing file");
        assert!(format!("{err:#}").contains("missing.pt"), "{err:#}");
        let junk = dir.join("junk.pt");
        std::fs::write(&junk, b"not a checkpoint").expect("write");
        let err = Diarizer::load(&junk).err().expect("junk file");
        assert!(format!("{err:#}").contains("junk.pt"), "{err:#}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn diarizer_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Diarizer>();
    }

    #[test]
    fn speaker_count_ranges() {
        let range = |exact, min, max| SpeakerCount { exact, min, max }.range().ok();
        assert_eq!(range(None, None, None), Some((1, DEFAULT_MAX_SPEAKERS)));
        assert_eq!(range(Some(3), Some(5), Some(1)), Some((3, 3)));
        assert_eq!(range(None, Some(2), None), Some((2, 8)));
        assert_eq!(range(None, Some(10), None), Some((10, 10)));
        assert_eq!(range(None, None, Some(2)), Some((1, 2)));
        assert_eq!(range(None, Some(3), Some(2)), None);
        assert_eq!(range(Some(0), None, None), None);
    }
}
