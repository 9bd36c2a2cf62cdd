//! Long media in bounded memory. The stage reads the audio a window at a
//! time; [`Piecer`] drops silence (an energy detector, and Silero VAD where
//! its model is installed: [`crate::vad`]) and cuts what is left
//! into pieces of at most [`PIECE_SECONDS`] of speech, each with a
//! [`TimeMap`] back to the original audio. whisper.cpp then sees one piece
//! at a time, so memory does not grow with the length of the file, and
//! silence (where whisper tends to invent text) is never decoded. A piece is
//! one whisper window, cut at a pause: whisper never starts a window in the
//! middle of a sentence, nor feeds one window's text into the next, which
//! is where its repetition loops come from.

use std::sync::Arc;

use steno_runtime::transcript::Transcript;

use crate::vad::{self, Vad};

/// 16 kHz.
pub const SAMPLE_RATE: usize = 16_000;
/// Most audio in one piece: whisper's window.
pub const PIECE_SECONDS: usize = 30;
/// Energy frames of 20 ms.
const FRAME: usize = SAMPLE_RATE / 50;
/// Frames quieter than this (RMS, dBFS) are silence. Low on purpose: it
/// drops digital silence and room tone, never quiet speech.
const SILENCE_DBFS: f32 = -50.0;
/// Silences shorter than this are kept (pauses belong to speech).
const MIN_GAP_FRAMES: usize = 50; // 1 s
/// Audio kept on either side of speech.
const PAD_FRAMES: usize = 10; // 0.2 s
/// A full window is cut in the last long silence of its last this-many
/// frames …
const SILENCE_SEARCH_FRAMES: usize = 750; // 15 s
/// … else at the quietest frame of its last this-many frames.
const CUT_SEARCH_FRAMES: usize = 500; // 10 s

/// A run of kept samples: `len` samples at `piece` in the piece came from
/// `source` in the original audio (sample offsets).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    piece: usize,
    source: usize,
    len: usize,
}

/// Piece time → original time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeMap(Vec<Span>);

impl TimeMap {
    /// Moves every time in `transcript` (from this piece) to the original
    /// timeline.
    pub fn apply(&self, transcript: &mut Transcript) {
        for segment in &mut transcript.segments {
            segment.start_ms = self.to_source_ms(segment.start_ms);
            segment.end_ms = self.to_source_ms(segment.end_ms).max(segment.start_ms);
            for word in &mut segment.words {
                word.start_ms = self.to_source_ms(word.start_ms);
                word.end_ms = self.to_source_ms(word.end_ms).max(word.start_ms);
            }
        }
    }

    /// The original time of `ms` into the piece. A time in a dropped
    /// silence's place belongs to the span before it.
    pub fn to_source_ms(&self, ms: u64) -> u64 {
        let sample = ms as usize * SAMPLE_RATE / 1000;
        let span = self.0.iter().rev().find(|s| s.piece <= sample).or(self.0.first());
        span.map_or(ms, |s| ((s.source + (sample - s.piece.min(sample)).min(s.len)) * 1000 / SAMPLE_RATE) as u64)
    }
}

/// Speech to transcribe, with its way back to the original timeline.
pub struct Piece {
    pub samples: Vec<f32>,
    pub map: TimeMap,
}

/// Turns a stream of samples into pieces of speech.
#[derive(Default)]
pub struct Piecer {
    /// Samples read but not yet in a piece, starting at `offset`.
    pending: Vec<f32>,
    offset: usize,
    vad: Option<Arc<Vad>>,
}

impl Piecer {
    /// Silence found by loudness, and by `vad` when given.
    pub fn new(vad: Option<Arc<Vad>>) -> Self {
        Self { vad, ..Self::default() }
    }

    /// Samples to read before the next [`Piecer::next_piece`] can fill a
    /// piece.
    pub fn wanted(&self) -> usize {
        (PIECE_SECONDS * SAMPLE_RATE).saturating_sub(self.pending.len())
    }

    /// Samples of the original audio already cut into pieces.
    pub fn consumed(&self) -> usize {
        self.offset
    }

    pub fn push(&mut self, samples: &[f32]) {
        self.pending.extend_from_slice(samples);
    }

    /// The next piece once a window's worth is pending, or, at the end of
    /// the audio (`end`), whatever remains. `None` when nothing is ready.
    /// A piece may be empty of samples when the window was all silence.
    pub fn next_piece(&mut self, end: bool) -> Option<Piece> {
        let window = PIECE_SECONDS * SAMPLE_RATE;
        if self.pending.is_empty() || (!end && self.pending.len() < window) {
            return None;
        }
        let span = if end { self.pending.len() } else { window };
        let speech = self.speech_frames(&self.pending[..span]);
        let cut = if end { span } else { cut_point(&self.pending[..span], &speech) };
        let mut piece = Piece { samples: Vec::new(), map: TimeMap::default() };
        for (start, stop) in kept_ranges(&speech, cut) {
            let span = Span { piece: piece.samples.len(), source: self.offset + start, len: stop - start };
            piece.samples.extend_from_slice(&self.pending[start..stop]);
            piece.map.0.push(span);
        }
        self.pending.drain(..cut);
        self.offset += cut;
        Some(piece)
    }

    /// Whether each 20 ms frame is louder than silence and, with a VAD,
    /// speech to it. Should the VAD fail, loudness alone decides.
    fn speech_frames(&self, samples: &[f32]) -> Vec<bool> {
        let mut frames = loud_frames(samples);
        let Some(vad) = &self.vad else { return frames };
        match vad.speech(samples) {
            Ok(voiced) => {
                for (i, frame) in frames.iter_mut().enumerate() {
                    *frame &= voiced.get((i * FRAME + FRAME / 2) / vad::FRAME).copied().unwrap_or(true);
                }
            }
            Err(e) => tracing::warn!(error = %e, "silence found by loudness alone in this window"),
        }
        frames
    }
}

/// Whether each 20 ms frame (the last may be short) is louder than silence.
fn loud_frames(samples: &[f32]) -> Vec<bool> {
    samples
        .chunks(FRAME)
        .map(|frame| {
            let power = frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32;
            10.0 * power.max(1e-12).log10() > SILENCE_DBFS
        })
        .collect()
}

/// Where to end a full window of audio (the split of a long file into
/// parts cuts the same way as pieces).
pub fn cut_point_of(samples: &[f32]) -> usize {
    cut_point(samples, &loud_frames(samples))
}

/// Where the end of `len` samples that [`cut_point_of`] searches begins
/// (on its frame grid), so a long stretch need not be decoded whole.
pub fn cut_search_start(len: usize) -> usize {
    len.saturating_sub(SILENCE_SEARCH_FRAMES.max(CUT_SEARCH_FRAMES) * FRAME) / FRAME * FRAME
}

/// Where to end this window's piece: in the middle of its last long
/// silence near the end, else at its quietest frame near the end.
fn cut_point(samples: &[f32], speech: &[bool]) -> usize {
    let n = speech.len();
    let first = n.saturating_sub(SILENCE_SEARCH_FRAMES);
    let mut run_end = n;
    for i in (first..n).rev() {
        if speech[i] {
            run_end = i;
            continue;
        }
        let start_of_run = i == first || speech[i - 1];
        if start_of_run && run_end - i >= MIN_GAP_FRAMES {
            return ((i + run_end) / 2 * FRAME).min(samples.len());
        }
    }
    let search = n.saturating_sub(CUT_SEARCH_FRAMES)..n;
    let energy = |f: usize| samples[f * FRAME..((f + 1) * FRAME).min(samples.len())].iter().map(|s| s * s).sum::<f32>();
    let quietest = search.min_by(|&a, &b| energy(a).total_cmp(&energy(b))).unwrap_or(n);
    (quietest * FRAME).min(samples.len())
}

/// Sample ranges before `cut` to keep: speech with its padding, and the
/// short pauses between.
fn kept_ranges(speech: &[bool], cut: usize) -> Vec<(usize, usize)> {
    let frames = cut.div_ceil(FRAME).min(speech.len());
    let mut keep = vec![false; frames];
    for (i, _) in speech[..frames].iter().enumerate().filter(|(_, s)| **s) {
        keep[i.saturating_sub(PAD_FRAMES)..(i + PAD_FRAMES + 1).min(frames)].fill(true);
    }
    // Fill short gaps between kept frames.
    let mut last_kept: Option<usize> = None;
    for i in 0..frames {
        if !keep[i] {
            continue;
        }
        if let Some(last) = last_kept
            && i - last - 1 < MIN_GAP_FRAMES
        {
            keep[last..i].fill(true);
        }
        last_kept = Some(i);
    }
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < frames {
        if !keep[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < frames && keep[i] {
            i += 1;
        }
        ranges.push((start * FRAME, (i * FRAME).min(cut)));
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(seconds: f32) -> Vec<f32> {
        (0..(seconds * SAMPLE_RATE as f32) as usize).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect()
    }

    fn silence(seconds: f32) -> Vec<f32> {
        vec![0.0; (seconds * SAMPLE_RATE as f32) as usize]
    }

    #[test]
    fn long_silence_is_dropped_and_times_map_back() {
        let audio = [tone(2.0), silence(10.0), tone(3.0), silence(0.5), tone(1.0)].concat();
        let mut piecer = Piecer::default();
        piecer.push(&audio);
        let piece = piecer.next_piece(true).expect("a piece");
        // 2 s + 0.2 pad, then 0.2 pad + 3 s + 0.5 pause + 1 s (+ what is left).
        let seconds = piece.samples.len() as f32 / SAMPLE_RATE as f32;
        assert!((6.8..=7.0).contains(&seconds), "{seconds} s kept");
        assert_eq!(piece.map.to_source_ms(1000), 1000);
        // 2.5 s into the piece is 0.3 s into the second span, which starts
        // 0.2 s before the tone at 12 s.
        assert_eq!(piece.map.to_source_ms(2500), 12_100);
        assert!(piecer.next_piece(true).is_none());
    }

    #[test]
    fn all_silence_gives_an_empty_piece() {
        let mut piecer = Piecer::default();
        piecer.push(&silence(5.0));
        let piece = piecer.next_piece(true).expect("a piece");
        assert!(piece.samples.is_empty());
    }

    #[test]
    fn a_full_window_is_cut_in_a_silence_and_the_rest_carries_over() {
        let window = PIECE_SECONDS as f32;
        let audio = [tone(window - 8.0), silence(4.0), tone(10.0)].concat();
        let mut piecer = Piecer::default();
        assert_eq!(piecer.wanted(), PIECE_SECONDS * SAMPLE_RATE);
        piecer.push(&audio);
        let first = piecer.next_piece(false).expect("first piece");
        let kept = first.samples.len() as f32 / SAMPLE_RATE as f32;
        assert!((window - 8.0..window - 7.0).contains(&kept), "{kept}");
        assert!(piecer.next_piece(false).is_none(), "less than a window is left");
        let second = piecer.next_piece(true).expect("the rest");
        assert_eq!(second.map.to_source_ms(0), ((window - 8.0 + 4.0 - 0.2) * 1000.0) as u64);
    }

    #[test]
    fn continuous_speech_is_cut_at_its_quietest_moment() {
        let mut audio = tone(PIECE_SECONDS as f32 + 5.0);
        let quiet = (PIECE_SECONDS - 3) * SAMPLE_RATE;
        audio[quiet..quiet + FRAME].iter_mut().for_each(|s| *s *= 0.01);
        let mut piecer = Piecer::default();
        piecer.push(&audio);
        let first = piecer.next_piece(false).expect("piece");
        assert_eq!(first.samples.len(), quiet);
    }

    #[test]
    fn a_long_stretch_cuts_where_its_searched_end_does() {
        let (seconds, quiet) = (121.37, 110 * SAMPLE_RATE + 123);
        let mut audio = tone(seconds);
        audio[quiet..quiet + 2 * FRAME].iter_mut().for_each(|s| *s *= 0.01);
        let from = cut_search_start(audio.len());
        assert_eq!(from % FRAME, 0);
        assert_eq!(from + cut_point_of(&audio[from..]), cut_point_of(&audio));
        let paused = [tone(100.0), silence(2.0), tone(12.5)].concat();
        let from = cut_search_start(paused.len());
        assert_eq!(from + cut_point_of(&paused[from..]), cut_point_of(&paused));
    }
}
