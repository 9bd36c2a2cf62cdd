//! Splits a transcript into subtitle cues shared by the SRT and VTT writers,
//! following common broadcast rules (each a [`CueOptions`] setting):
//!
//! - a speaker change, or a pause of [`BREAK_PAUSE_MS`], always ends a cue;
//! - a cue holds at most `max_lines` lines of `max_line_chars` and lasts at
//!   most `max_cue_ms` (a single longer word gets its own line or cue);
//! - within those limits the cue boundaries are chosen together (dynamic
//!   programming over each run of words) so that cues end at sentence ends,
//!   then at commas, pauses and before conjunctions, rather than at an
//!   arbitrary word, and
//!   no cue holds one or two words when a neighbour could take them;
//! - a cue's lines are balanced (the longest line as short as it can be);
//! - a cue stays up at least `min_cue_ms`, and long enough to read at
//!   `max_chars_per_second`, where the next cue leaves time for it.

use steno_runtime::transcript::{Segment, Transcript};

use super::{CueOptions, speaker_display_name};

/// A pause this long always ends a cue: no text over silence.
pub const BREAK_PAUSE_MS: u64 = 1500;

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

impl Cue {
    /// Characters a viewer reads (lines joined by a space).
    pub fn chars(&self) -> usize {
        self.lines.iter().map(|l| l.chars().count()).sum::<usize>() + self.lines.len().saturating_sub(1)
    }
}

/// A timed word ready for layout.
#[derive(Clone, Debug)]
pub struct Token {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    /// Speaker id (word's own, else the segment's).
    pub speaker: Option<String>,
}

/// Builds the cues of `t` (see the module's rules). Times come from the
/// words (or from a proportional split of a segment's span when it has
/// none) and are made monotonic and non-overlapping.
pub fn build_cues(t: &Transcript, opts: &CueOptions) -> Vec<Cue> {
    let tokens = tokens(t);
    let mut cues = Vec::new();
    for run in runs(&tokens) {
        for (from, to) in best_split(run, opts) {
            let words = &run[from..to];
            cues.push(Cue {
                start_ms: words[0].start_ms,
                end_ms: words.iter().map(|w| w.end_ms).max().unwrap_or(words[0].end_ms),
                lines: balanced_lines(words, opts),
                speaker: words[0].speaker.as_deref().map(|id| speaker_display_name(t, id)),
            });
        }
    }
    fix_timing(&mut cues, opts);
    cues
}

/// Every word of the transcript in order, starts never going backwards.
pub fn tokens(t: &Transcript) -> Vec<Token> {
    let mut last_start = 0;
    let mut tokens = Vec::new();
    for segment in &t.segments {
        for mut token in segment_tokens(segment) {
            // Tolerate slightly unordered input: starts never go backwards.
            token.start_ms = token.start_ms.max(last_start);
            token.end_ms = token.end_ms.max(token.start_ms);
            last_start = token.start_ms;
            tokens.push(token);
        }
    }
    tokens
}

/// Maximal runs of words one speaker says without a [`BREAK_PAUSE_MS`] pause.
pub fn runs(tokens: &[Token]) -> Vec<&[Token]> {
    let mut runs = Vec::new();
    let mut from = 0;
    for i in 1..=tokens.len() {
        let ends = i == tokens.len()
            || tokens[i].speaker != tokens[i - 1].speaker
            || tokens[i].start_ms.saturating_sub(tokens[i - 1].end_ms) >= BREAK_PAUSE_MS;
        if ends {
            runs.push(&tokens[from..i]);
            from = i;
        }
    }
    runs
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

/// Whether `words` can be one cue: its lines fit and (for several words)
/// it lasts at most `max_cue_ms`.
pub fn fits(words: &[Token], opts: &CueOptions) -> bool {
    let lasts = words.last().map_or(0, |w| w.end_ms).saturating_sub(words.first().map_or(0, |w| w.start_ms));
    words.len() <= 1 || (lasts <= opts.max_cue_ms && wrap(words, opts.max_line_chars).len() <= opts.max_lines.max(1))
}

/// The cue boundaries of one run, as `(from, to)` word ranges: the split
/// of least cost among those whose cues all fit. Each cue costs 1, more
/// for one or two words, for ending at a word that is neither a sentence
/// end, a clause end nor followed by a pause, and for every sentence that
/// ends inside it. (Merging a cue of one or two words into a neighbour
/// always costs less, so such a cue is left only where none can take it.)
fn best_split(run: &[Token], opts: &CueOptions) -> Vec<(usize, usize)> {
    let n = run.len();
    let mut best = vec![f64::INFINITY; n + 1];
    let mut from = vec![0; n + 1];
    best[0] = 0.0;
    for to in 1..=n {
        for start in (0..to).rev() {
            if !fits(&run[start..to], opts) {
                break; // a longer cue fits no better
            }
            let short = match to - start {
                1 => 4.0,
                2 => 2.0,
                _ => 0.0,
            };
            let end = if to == n { 0.0 } else { split_cost(&run[to - 1], &run[to]) };
            let inner =
                run[start..to - 1].iter().filter(|w| ends_sentence(&w.text)).count() as f64 * INNER_SENTENCE_END;
            let cost = best[start] + 1.0 + short + end + inner;
            if cost < best[to] {
                best[to] = cost;
                from[to] = start;
            }
        }
    }
    let mut cues = Vec::new();
    let mut to = n;
    while to > 0 {
        cues.push((from[to], to));
        to = from[to];
    }
    cues.reverse();
    cues
}

/// What a sentence ending inside a cue costs (under the 3 a mid-clause
/// split costs, so two short sentences still share a cue).
const INNER_SENTENCE_END: f64 = 1.5;

fn ends_sentence(word: &str) -> bool {
    matches!(word.chars().last(), Some('.' | '?' | '!' | '…'))
}

/// English words a new clause often starts with: a cue may end before them
/// more cheaply than mid-clause.
const CLAUSE_STARTS: [&str; 11] = ["and", "but", "or", "so", "because", "which", "that", "when", "while", "if", "then"];

/// The cost of ending a cue after `last`: none at a sentence end, a little
/// at a clause end, more before a conjunction, most mid-clause; a pause
/// before `next` makes it cheaper.
fn split_cost(last: &Token, next: &Token) -> f64 {
    let punctuation = match last.text.chars().last() {
        _ if ends_sentence(&last.text) => 0.0,
        Some(',' | ';' | ':' | '—' | '–') => 1.0,
        _ if CLAUSE_STARTS.contains(&next.text.to_lowercase().as_str()) => 2.0,
        _ => 3.0,
    };
    let pause_secs = next.start_ms.saturating_sub(last.end_ms) as f64 / 1000.0;
    (punctuation - 4.0 * pause_secs).max(0.0)
}

/// Words wrapped greedily at `width` characters (a longer word alone).
fn wrap(words: &[Token], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut chars = 0;
    for word in words {
        let len = word.text.chars().count();
        match lines.last_mut() {
            Some(line) if chars + 1 + len <= width => {
                line.push(' ');
                line.push_str(&word.text);
                chars += 1 + len;
            }
            _ => {
                lines.push(word.text.clone());
                chars = len;
            }
        }
    }
    lines
}

/// The cue's lines, as few as fit, with the longest as short as it can be:
/// greedy wrapping at the narrowest width that needs no more lines.
fn balanced_lines(words: &[Token], opts: &CueOptions) -> Vec<String> {
    let widest = opts.max_line_chars.max(1);
    let lines = wrap(words, widest).len();
    if lines <= 1 {
        return wrap(words, widest);
    }
    let (mut low, mut high) = (1, widest);
    while low < high {
        let mid = (low + high) / 2;
        if wrap(words, mid).len() <= lines { high = mid } else { low = mid + 1 }
    }
    wrap(words, low)
}

/// Makes cues monotonic and non-overlapping; then keeps each up for at
/// least `min_cue_ms` and long enough to read at `max_chars_per_second`
/// (never past `max_cue_ms`), ending early at the next cue's start.
fn fix_timing(cues: &mut [Cue], opts: &CueOptions) {
    let mut prev_end = 0;
    let next_starts: Vec<Option<u64>> = cues.iter().skip(1).map(|c| Some(c.start_ms)).chain([None]).collect();
    let per_second = u64::from(opts.max_chars_per_second.max(1));
    for (cue, next_start) in cues.iter_mut().zip(next_starts) {
        cue.start_ms = cue.start_ms.max(prev_end);
        cue.end_ms = cue.end_ms.max(cue.start_ms);
        let reading = (cue.chars() as u64 * 1000).div_ceil(per_second);
        let wanted = opts.min_cue_ms.max(reading).min(opts.max_cue_ms).max(1);
        let target = cue.start_ms + wanted;
        if cue.end_ms < target {
            // Up to the next cue; one that starts at the same moment is pushed on.
            let limit = next_start.filter(|n| *n > cue.start_ms).unwrap_or(u64::MAX);
            cue.end_ms = target.min(limit).max(cue.end_ms);
        }
        if cue.end_ms == cue.start_ms {
            cue.end_ms = target;
        }
        prev_end = cue.end_ms;
    }
}
