//! The diarization pipeline: energy VAD → speech segments → windows inside
//! segments (1.6 s every 0.75 s; one shorter window for a 0.5–1.6 s
//! segment), each levelled to -30 dBFS → GE2E embeddings → clustering of
//! the full windows (spectral; agglomerative under about 40 s of speech),
//! shorter windows joining the nearest cluster → per-frame labels from the
//! nearest window → pauses under 0.5 s bridged → smoothed turns, clipped
//! to the audio's length, and each speaker's voiceprint.
//!
//! The audio is read twice from an [`AudioSource`], a block at a time, and
//! never held: the first pass keeps a frame energy per 10 ms, the second
//! only the mel frames the next windows need.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

use crate::checkpoint::read_model_state;
use crate::cluster::{cluster, nearest_centroid};
use crate::encoder::{EMBEDDING, Encoder};
use crate::frontend::{Framer, MelFrontend, MelScratch, N_MELS, SAMPLE_RATE};
use crate::overlap;
use crate::segmentation::{CHUNK_SAMPLES, CLASSES, Segmenter, frames_of};
use crate::turns::{FRAME_MS, fill_pauses, frames_to_turns};
use crate::vad::{bridge_pauses, detect_speech, frame_energy};
use crate::windows::{Window, label_frames, place_windows, segments};

/// Mean square of a -30 dBFS signal (Resemblyzer's `audio_norm_target_dBFS`).
const TARGET_POWER: f64 = 1e-3;
/// Windows whose mel frames are gathered at once (about 26 kB each), so
/// memory stays flat however long the audio.
const WINDOWS_PER_CALL: usize = 256;
/// The largest count searched when the job gives no maximum.
const DEFAULT_MAX_SPEAKERS: usize = 8;
/// 10 s chunks the segmentation model is given at once (10 MB).
const CHUNKS_PER_CALL: usize = 16;

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

/// Audio the diarizer reads from the start, a block at a time, twice: once
/// for speech detection and once for the windows' mel frames. Only what
/// the current frames need is held, so memory does not grow with the audio.
pub trait AudioSource {
    /// Hands `each` the audio's 16 kHz samples in order, a block at a time,
    /// and stops at the first error either returns.
    fn read(&self, each: &mut dyn FnMut(&[f32]) -> anyhow::Result<()>) -> anyhow::Result<()>;
}

/// Audio in memory, handed out in blocks as a stream would be.
impl AudioSource for &[f32] {
    fn read(&self, each: &mut dyn FnMut(&[f32]) -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.chunks(SAMPLE_RATE).try_for_each(each)
    }
}

/// Who spoke when, and what each speaker sounds like.
#[derive(Debug, Clone, Default)]
pub struct Diarization {
    pub turns: Vec<Turn>,
    /// Overlapped speech: where a second voice talks during a turn, that
    /// voice's turn (sorted; empty without the segmentation model).
    pub overlaps: Vec<Turn>,
    /// For each turn speaker (`Turn::speaker`), its voiceprint.
    pub prints: Vec<Voiceprint>,
    /// The audio's length.
    pub duration_ms: u64,
}

/// A voice: the mean of the unit embeddings of its windows, made unit
/// length (empty without a window), and how much speech it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Voiceprint {
    pub print: Vec<f32>,
    pub speech_ms: u64,
}

/// A loaded speaker encoder and the pipeline around it.
pub struct Diarizer {
    encoder: Encoder,
    frontend: MelFrontend,
    /// Marks overlapped speech when loaded.
    segmenter: Option<Segmenter>,
    threads: usize,
}

impl Diarizer {
    /// Loads the GE2E weights from the file scripts/fetch-speaker-model.sh writes (models/resemblyzer-ge2e.pt).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("read speaker model {}", path.display()))?;
        let state = read_model_state(&bytes).with_context(|| format!("parse speaker model {}", path.display()))?;
        let encoder = Encoder::from_state(&state).with_context(|| format!("speaker model {}", path.display()))?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Diarizer { encoder, frontend: MelFrontend::new(), segmenter: None, threads })
    }

    /// Marks overlapped speech with `segmenter` from now on.
    pub fn with_segmenter(mut self, segmenter: Segmenter) -> Self {
        self.segmenter = Some(segmenter);
        self
    }

    /// samples: 16 kHz mono f32 in [-1, 1]. Returns the speaker turns. Empty vec if no speech.
    /// Must be callable from several threads (&self).
    pub fn diarize(&self, samples: &[f32], count: SpeakerCount) -> anyhow::Result<Vec<Turn>> {
        Ok(self.run(&samples, count, &|| false)?.turns)
    }

    /// Diarizes `audio`, giving up (with an error) as soon as `stop` says
    /// so; it is asked after every block of audio, in both passes.
    pub fn run(
        &self,
        audio: &dyn AudioSource,
        count: SpeakerCount,
        stop: &dyn Fn() -> bool,
    ) -> anyhow::Result<Diarization> {
        let (min_k, max_k) = count.range()?;
        let mut energies = Vec::new();
        let mut framer = Framer::default();
        let mut each = |_: usize, frame: &[f32]| energies.push(frame_energy(frame));
        audio.read(&mut |block| {
            framer.push(block, &mut each);
            go_on(stop)
        })?;
        let samples = framer.finish(&mut each);
        let duration_ms = (samples as u64 * 1000).div_ceil(SAMPLE_RATE as u64);
        let speech = detect_speech(&energies);
        let (stream, segments) = segments(&speech);
        if stream.is_empty() {
            return Ok(Diarization { duration_ms, ..Diarization::default() });
        }
        let windows = place_windows(&segments);
        let embeddings = self.embed_windows(audio, &energies, &stream, &windows, stop)?;
        let window_labels = match windows.len() {
            0 | 1 => vec![0; windows.len()],
            _ => cluster_windows(&embeddings, &windows, min_k, max_k),
        };
        let mut frame_labels = match windows.len() {
            // Only snippets under 0.5 s: too little to tell voices apart.
            0 => speech.iter().map(|&s| s.then_some(0)).collect(),
            _ => label_frames(&stream, &segments, &windows, &window_labels, speech.len()),
        };
        let mut speech_frames: BTreeMap<usize, u64> = BTreeMap::new();
        for &label in frame_labels.iter().flatten() {
            *speech_frames.entry(label).or_default() += 1;
        }
        fill_pauses(&mut frame_labels, &bridge_pauses(&speech));
        let (mut turns, order) = frames_to_turns(&frame_labels);
        let windows_of = |label: usize| {
            embeddings.chunks_exact(EMBEDDING).zip(&window_labels).filter(move |&(_, &l)| l == label).map(|(e, _)| e)
        };
        let prints = order
            .iter()
            .map(|&label| Voiceprint {
                print: mean_direction(windows_of(label)),
                speech_ms: speech_frames.get(&label).copied().unwrap_or(0) * FRAME_MS,
            })
            .collect();
        // The last 10 ms frame can reach past the final sample.
        turns.retain_mut(|t| {
            t.end_ms = t.end_ms.min(duration_ms);
            t.start_ms < t.end_ms
        });
        let overlaps = match &self.segmenter {
            Some(model) if order.len() > 1 => self.find_overlaps(model, audio, &speech, &turns, duration_ms, stop)?,
            _ => Vec::new(),
        };
        Ok(Diarization { turns, overlaps, prints, duration_ms })
    }

    /// Reads `audio` a third time and runs the segmentation model on each
    /// 10 s chunk that holds speech; the overlap turns it finds.
    fn find_overlaps(
        &self,
        model: &Segmenter,
        audio: &dyn AudioSource,
        speech: &[bool],
        turns: &[Turn],
        duration_ms: u64,
        stop: &dyn Fn() -> bool,
    ) -> anyhow::Result<Vec<Turn>> {
        let mut pass = OverlapPass::new(model, self.threads, speech, turns);
        let mut pending = Vec::new();
        audio.read(&mut |block| {
            pending.extend_from_slice(block);
            while pending.len() >= CHUNK_SAMPLES {
                pass.chunk(&pending[..CHUNK_SAMPLES]);
                pending.drain(..CHUNK_SAMPLES);
            }
            go_on(stop)
        })?;
        pass.chunk(&pending);
        pass.run();
        Ok(overlap::merge(pass.found, duration_ms))
    }

    /// One voice's print from all the speech in `audio` (an enrolment
    /// clip); `None` without a window of speech.
    pub fn voiceprint(&self, audio: &dyn AudioSource) -> anyhow::Result<Option<Voiceprint>> {
        let one = SpeakerCount { exact: Some(1), ..SpeakerCount::default() };
        let print = self.run(audio, one, &|| false)?.prints.into_iter().next();
        Ok(print.filter(|p| !p.print.is_empty()))
    }

    /// Embeds each window, levelled to -30 dBFS by scaling its power mel
    /// frames by the inverse of its mean frame energy, reading `audio`
    /// again and keeping only the mel frames from the first window not yet
    /// gathered. Windows of one length are encoded as batches of up to
    /// `WINDOWS_PER_CALL`. Returns `windows × EMBEDDING`.
    fn embed_windows(
        &self,
        audio: &dyn AudioSource,
        energies: &[f64],
        stream: &[usize],
        windows: &[Window],
        stop: &dyn Fn() -> bool,
    ) -> anyhow::Result<Vec<f32>> {
        let mut gather = Gatherer {
            diarizer: self,
            energies,
            stream,
            windows,
            scratch: self.frontend.scratch(),
            mel: Vec::new(),
            base: 0,
            ready: 0,
            batches: BTreeMap::new(),
            out: vec![0.0f32; windows.len() * EMBEDDING],
        };
        let mut framer = Framer::default();
        let mut each = |f: usize, frame: &[f32]| gather.frame(f, frame);
        audio.read(&mut |block| {
            framer.push(block, &mut each);
            go_on(stop)
        })?;
        framer.finish(&mut each);
        anyhow::ensure!(
            gather.ready == windows.len(),
            "the audio ended before its last window; it changed while being read"
        );
        let lengths: Vec<usize> = gather.batches.keys().copied().collect();
        for len in lengths {
            gather.embed(len);
        }
        Ok(gather.out)
    }
}

/// An error once `stop` says the work is no longer wanted.
fn go_on(stop: &dyn Fn() -> bool) -> anyhow::Result<()> {
    anyhow::ensure!(!stop(), "diarization stopped: the job was cancelled");
    Ok(())
}

/// The second pass's state: mel frames from audio frame `base` on, and
/// the gathered windows waiting to be encoded.
struct Gatherer<'a> {
    diarizer: &'a Diarizer,
    energies: &'a [f64],
    stream: &'a [usize],
    windows: &'a [Window],
    scratch: MelScratch,
    mel: Vec<f32>,
    base: usize,
    /// The first window not yet gathered.
    ready: usize,
    /// By window length: the windows gathered and their levelled mel frames.
    batches: BTreeMap<usize, (Vec<usize>, Vec<f32>)>,
    out: Vec<f32>,
}

impl Gatherer<'_> {
    fn frame(&mut self, f: usize, samples: &[f32]) {
        let Some(next) = self.windows.get(self.ready) else { return };
        if f < self.stream[next.start] {
            return;
        }
        if self.mel.is_empty() {
            self.base = f;
        }
        let at = self.mel.len();
        self.mel.resize(at + N_MELS, 0.0);
        self.diarizer.frontend.frame_mel(samples, &mut self.scratch, &mut self.mel[at..]);
        // A window's frames are consecutive in the audio (it lies in one segment).
        while let Some(w) = self.windows.get(self.ready).filter(|w| self.stream[w.start] + w.len <= f + 1) {
            let span = &self.energies[self.stream[w.start]..][..w.len];
            let power = span.iter().sum::<f64>() / w.len as f64;
            let gain = if power > 0.0 { (TARGET_POWER / power) as f32 } else { 1.0 };
            let (members, batch) = self.batches.entry(w.len).or_default();
            members.push(self.ready);
            let from = (self.stream[w.start] - self.base) * N_MELS;
            batch.extend(self.mel[from..][..w.len * N_MELS].iter().map(|m| m * gain));
            if members.len() == WINDOWS_PER_CALL {
                self.embed(w.len);
            }
            self.ready += 1;
        }
        let keep_from = self.windows.get(self.ready).map_or(usize::MAX, |w| self.stream[w.start]);
        let drop = keep_from.saturating_sub(self.base).min(self.mel.len() / N_MELS);
        self.mel.drain(..drop * N_MELS);
        self.base += drop;
    }

    /// Encodes the windows of length `len` gathered so far.
    fn embed(&mut self, len: usize) {
        let Some((members, batch)) = self.batches.remove(&len) else { return };
        let embedded = self.diarizer.encoder.embed(&batch, members.len(), len, self.diarizer.threads);
        for (&i, e) in members.iter().zip(embedded.chunks_exact(EMBEDDING)) {
            self.out[i * EMBEDDING..][..EMBEDDING].copy_from_slice(e);
        }
    }
}

/// The third pass's state: the chunks with speech gathered for the
/// segmentation model ([`CHUNKS_PER_CALL`] at most) and what it found.
struct OverlapPass<'a> {
    model: &'a Segmenter,
    threads: usize,
    /// Speech per 10 ms frame, and the turns.
    speech: &'a [bool],
    turns: &'a [Turn],
    /// The next chunk's first sample.
    next: usize,
    batch: Vec<f32>,
    starts: Vec<usize>,
    found: Vec<Turn>,
}

impl<'a> OverlapPass<'a> {
    fn new(model: &'a Segmenter, threads: usize, speech: &'a [bool], turns: &'a [Turn]) -> Self {
        let (batch, starts, found) = (Vec::new(), Vec::new(), Vec::new());
        OverlapPass { model, threads, speech, turns, next: 0, batch, starts, found }
    }

    /// Takes the next chunk (the last may be short, even empty) if it holds
    /// speech, running the model once enough are gathered.
    fn chunk(&mut self, samples: &[f32]) {
        let frames = CHUNK_SAMPLES * 1000 / SAMPLE_RATE / FRAME_MS as usize;
        let from = (self.next / CHUNK_SAMPLES * frames).min(self.speech.len());
        if !samples.is_empty() && self.speech[from..(from + frames).min(self.speech.len())].contains(&true) {
            self.starts.push(self.next);
            self.batch.extend_from_slice(samples);
            self.batch.resize(self.starts.len() * CHUNK_SAMPLES, 0.0);
            if self.starts.len() == CHUNKS_PER_CALL {
                self.run();
            }
        }
        self.next += CHUNK_SAMPLES;
    }

    fn run(&mut self) {
        if self.starts.is_empty() {
            return;
        }
        let probabilities = self.model.run(&self.batch, self.threads);
        for (chunk, &start) in probabilities.chunks_exact(frames_of(CHUNK_SAMPLES) * CLASSES).zip(&self.starts) {
            overlap::chunk_overlaps(chunk, start, self.turns, &mut self.found);
        }
        self.batch.clear();
        self.starts.clear();
    }
}

/// The mean of unit vectors `rows`, made unit length; empty for no rows.
fn mean_direction<'a>(rows: impl Iterator<Item = &'a [f32]>) -> Vec<f32> {
    let mut mean = Vec::new();
    for row in rows {
        mean.resize(row.len(), 0.0);
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
        mean.iter_mut().zip(row).for_each(|(m, x): (&mut f32, &f32)| *m += x / norm);
    }
    let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
    mean.iter_mut().for_each(|m| *m /= norm);
    mean
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
        Diarizer { encoder, frontend: MelFrontend::new(), segmenter: None, threads: 2 }
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

    /// Audio handed out in blocks of uneven, small sizes.
    struct Ragged<'a>(&'a [f32]);

    impl AudioSource for Ragged<'_> {
        fn read(&self, each: &mut dyn FnMut(&[f32]) -> anyhow::Result<()>) -> anyhow::Result<()> {
            let mut rest = self.0;
            for size in [1, 399, 7, 1600, 160, 12_345].into_iter().cycle() {
                if rest.is_empty() {
                    return Ok(());
                }
                let (block, after) = rest.split_at(size.min(rest.len()));
                each(block)?;
                rest = after;
            }
            Ok(())
        }
    }

    #[test]
    fn blocks_of_any_size_give_the_same_diarization_and_prints() {
        let diarizer = toy_diarizer();
        let mut samples = Vec::new();
        for seconds in [2.5, 0.3, 1.0, 4.0, 0.7] {
            samples.extend(tone(seconds));
            samples.extend(vec![0.0; 8_000]);
        }
        let count = SpeakerCount { min: Some(2), max: Some(3), ..Default::default() };
        let whole = diarizer.run(&samples.as_slice(), count, &|| false).expect("in one go");
        let ragged = diarizer.run(&Ragged(&samples), count, &|| false).expect("in ragged blocks");
        assert_eq!(whole.turns, ragged.turns);
        assert_eq!(whole.duration_ms, 11_000);
        assert_eq!(whole.prints.len(), whole.turns.iter().map(|t| t.speaker + 1).max().unwrap_or(0));
        for (a, b) in whole.prints.iter().zip(&ragged.prints) {
            assert_eq!(a.speech_ms, b.speech_ms);
            assert!(a.print.iter().zip(&b.print).all(|(x, y)| (x - y).abs() < 1e-5));
            let norm = a.print.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "print norm {norm}");
        }
        // Every speech frame is some speaker's.
        let speech: u64 = whole.prints.iter().map(|p| p.speech_ms).sum();
        assert!((7_000..=9_000).contains(&speech), "{speech} ms of speech");
    }

    #[test]
    fn a_voiceprint_needs_a_window_of_speech_and_a_stop_stops() {
        let diarizer = toy_diarizer();
        let print = diarizer.voiceprint(&tone(3.0).as_slice()).expect("print").expect("speech");
        assert!(print.print.len() == EMBEDDING && (2_900..=3_000).contains(&print.speech_ms), "{print:?}");
        assert_eq!(diarizer.voiceprint(&vec![0.0; 48_000].as_slice()).expect("silence"), None);
        let err = diarizer.run(&tone(3.0).as_slice(), SpeakerCount::default(), &|| true).expect_err("stopped");
        assert!(err.to_string().contains("cancelled"), "{err}");
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
