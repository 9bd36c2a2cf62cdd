//! Splits a transcript into subtitle cues shared by the SRT and VTT writers.

use steno_runtime::transcript::{Segment, Transcript};

use super::{CueOptions, speaker_display_name};

/// Shortest duration given to a cue whose words have no duration
/// (capped by `max_cue_ms` and by the start of the next cue when possible).
pub const MIN_CUE_MS: u64 = 500;

/// One subtitle cue: up to `max_lines` lines shown from `start_ms` to `end_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Text lines without any speaker label.
    pub lines: Vec<String>,
    /// Speaker display name, when the words are attributed to a speaker.
    pub speaker: Option<String>,
}

/// A timed word ready for layout.
struct Token {
    start_ms: u64,
    end_ms: u64,
    text: String,
    /// Speaker id (word's own, else the segment's).
    speaker: Option<String>,
}

/// Builds cues: words of one segment and speaker are packed greedily into
/// lines and cues within the limits of `opts`; a new segment or a speaker
/// change always starts a new cue. Times come from the words (or from a
/// proportional split of the segment's span when it has no words) and are
/// made monotonic and non-overlapping.
pub fn build_cues(t: &Transcript, opts: &CueOptions) -> Vec<Cue> {
    let mut layout = Layout::new(opts);
    let mut last_start = 0;
    for segment in &t.segments {
        layout.flush();
        for mut token in segment_tokens(segment) {
            // Tolerate slightly unordered input: starts never go backwards.
            token.start_ms = token.start_ms.max(last_start);
            token.end_ms = token.end_ms.max(token.start_ms);
            last_start = token.start_ms;
            layout.push(token);
        }
    }
    layout.flush();
    let mut cues: Vec<Cue> = layout
        .cues
        .into_iter()
        .map(|(cue, id)| Cue { speaker: id.map(|id| speaker_display_name(t, &id)), ..cue })
        .collect();
    fix_timing(&mut cues, MIN_CUE_MS.min(opts.max_cue_ms));
    cues
}

/// The segment's timed words; words containing whitespace are split further.
fn segment_tokens(segment: &Segment) -> Vec<Token> {
    if segment.words.is_empty() {
        return split_proportionally(
            &segment.text,
            segment.start_ms,
            segment.end_ms.max(segment.start_ms),
            &segment.speaker,
        );
    }
    segment
        .words
        .iter()
        .flat_map(|w| {
            let speaker = w.speaker.as_ref().or(segment.speaker.as_ref()).cloned();
            split_proportionally(&w.text, w.start_ms, w.end_ms.max(w.start_ms), &speaker)
        })
        .collect()
}

/// Splits `text` at whitespace and spreads `start..end` over the pieces in
/// proportion to their character counts.
fn split_proportionally(text: &str, start: u64, end: u64, speaker: &Option<String>) -> Vec<Token> {
    let pieces: Vec<&str> = text.split_whitespace().collect();
    let total: u64 = pieces.iter().map(|p| p.chars().count() as u64).sum();
    let span = u128::from(end - start);
    let at = |chars: u64| -> u64 {
        let offset = span * u128::from(chars) / u128::from(total.max(1));
        start + u64::try_from(offset).unwrap_or(0)
    };
    let mut done = 0;
    pieces
        .into_iter()
        .map(|piece| {
            let from = at(done);
            done += piece.chars().count() as u64;
            Token { start_ms: from, end_ms: at(done), text: piece.to_owned(), speaker: speaker.clone() }
        })
        .collect()
}

/// Greedy packer of tokens into lines and cues.
struct Layout {
    max_line_chars: usize,
    max_lines: usize,
    max_cue_ms: u64,
    /// Cue in progress, with the speaker id it belongs to.
    current: Option<(Cue, Option<String>)>,
    /// Length in chars of the current cue's last line.
    last_line_chars: usize,
    cues: Vec<(Cue, Option<String>)>,
}

impl Layout {
    fn new(opts: &CueOptions) -> Self {
        Self {
            max_line_chars: opts.max_line_chars.max(1),
            max_lines: opts.max_lines.max(1),
            max_cue_ms: opts.max_cue_ms.max(1),
            current: None,
            last_line_chars: 0,
            cues: Vec::new(),
        }
    }

    /// Ends the cue in progress, if any.
    fn flush(&mut self) {
        if let Some(done) = self.current.take() {
            self.cues.push(done);
        }
    }

    /// Adds one token, starting a new line or cue when a limit would be exceeded.
    fn push(&mut self, token: Token) {
        let chars = token.text.chars().count();
        let Some((cue, speaker)) = self.current.as_mut() else {
            return self.start_cue(token, chars);
        };
        let too_long = token.end_ms.max(cue.end_ms) - cue.start_ms > self.max_cue_ms;
        if *speaker != token.speaker || too_long {
            self.flush();
            return self.start_cue(token, chars);
        }
        let fits_line = self.last_line_chars + 1 + chars <= self.max_line_chars;
        let room_for_line = cue.lines.len() < self.max_lines;
        match cue.lines.last_mut() {
            Some(line) if fits_line => {
                cue.end_ms = cue.end_ms.max(token.end_ms);
                line.push(' ');
                line.push_str(&token.text);
                self.last_line_chars += 1 + chars;
            }
            _ if room_for_line => {
                cue.end_ms = cue.end_ms.max(token.end_ms);
                cue.lines.push(token.text);
                self.last_line_chars = chars;
            }
            _ => {
                self.flush();
                self.start_cue(token, chars);
            }
        }
    }

    fn start_cue(&mut self, token: Token, chars: usize) {
        let cue = Cue { start_ms: token.start_ms, end_ms: token.end_ms, lines: vec![token.text], speaker: None };
        self.current = Some((cue, token.speaker));
        self.last_line_chars = chars;
    }
}

/// Makes cues monotonic and non-overlapping, and gives zero-length cues
/// `min_ms` (ending early at the next cue's start when that leaves room).
fn fix_timing(cues: &mut [Cue], min_ms: u64) {
    let mut prev_end = 0;
    let next_starts: Vec<Option<u64>> = cues.iter().skip(1).map(|c| Some(c.start_ms)).chain([None]).collect();
    for (cue, next_start) in cues.iter_mut().zip(next_starts) {
        cue.start_ms = cue.start_ms.max(prev_end);
        cue.end_ms = cue.end_ms.max(cue.start_ms);
        if cue.end_ms == cue.start_ms {
            let wanted = cue.start_ms.saturating_add(min_ms);
            cue.end_ms = match next_start {
                Some(next) if next > cue.start_ms => wanted.min(next),
                _ => wanted,
            };
        }
        prev_end = cue.end_ms;
    }
}
