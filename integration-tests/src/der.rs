//! Diarization error rate on a 10 ms grid: (missed speech + false alarm +
//! speaker confusion) / reference speech. A collar around every reference
//! turn boundary is left unscored, and hypothesis speakers are mapped one to
//! one onto reference speakers so that their scored overlap is largest.

use crate::conversations::RefTurn;

pub const FRAME_MS: u64 = 10;
/// The usual collar: 0.25 s either side of each reference boundary.
pub const COLLAR_MS: u64 = 250;

/// Diarization error rate and its parts, as fractions of the scored
/// reference speech.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Der {
    pub der: f64,
    pub missed: f64,
    pub false_alarm: f64,
    pub confusion: f64,
}

/// Scored reference speech and the three kinds of error, in milliseconds.
/// Adding two gives the time-weighted total of both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorTimes {
    pub speech_ms: u64,
    pub missed_ms: u64,
    pub false_alarm_ms: u64,
    pub confusion_ms: u64,
}

impl ErrorTimes {
    pub fn der(&self) -> Der {
        let fraction = |ms: u64| ms as f64 / self.speech_ms.max(1) as f64;
        Der {
            der: fraction(self.missed_ms + self.false_alarm_ms + self.confusion_ms),
            missed: fraction(self.missed_ms),
            false_alarm: fraction(self.false_alarm_ms),
            confusion: fraction(self.confusion_ms),
        }
    }
}

impl std::ops::AddAssign for ErrorTimes {
    fn add_assign(&mut self, other: ErrorTimes) {
        self.speech_ms += other.speech_ms;
        self.missed_ms += other.missed_ms;
        self.false_alarm_ms += other.false_alarm_ms;
        self.confusion_ms += other.confusion_ms;
    }
}

/// The diarization error rate of `hypothesis` with the usual 0.25 s collar.
pub fn diarization_error_rate(reference: &[RefTurn], hypothesis: &[RefTurn]) -> Der {
    error_times(reference, hypothesis, COLLAR_MS).der()
}

/// Scores `hypothesis` against `reference`; speaker labels of either may be
/// any numbers. Turns of one side may overlap each other.
pub fn error_times(reference: &[RefTurn], hypothesis: &[RefTurn], collar_ms: u64) -> ErrorTimes {
    let frames = reference.iter().chain(hypothesis).map(|t| t.end_ms.div_ceil(FRAME_MS)).max().unwrap_or(0) as usize;
    let (reference, hypothesis) = (speaker_masks(reference, frames), speaker_masks(hypothesis, frames));
    let scored = scored_frames(&reference.turns, collar_ms, frames);

    let mut overlap = vec![vec![0u64; reference.speakers]; hypothesis.speakers];
    for frame in (0..frames).filter(|&f| scored[f]) {
        for h in speakers_in(hypothesis.masks[frame]) {
            for r in speakers_in(reference.masks[frame]) {
                overlap[h][r] += 1;
            }
        }
    }
    let mapping = best_mapping(&overlap);

    let mut der = ErrorTimes::default();
    for frame in (0..frames).filter(|&f| scored[f]) {
        let (r, h) = (reference.masks[frame], hypothesis.masks[frame]);
        let (n_ref, n_hyp) = (u64::from(r.count_ones()), u64::from(h.count_ones()));
        let correct = speakers_in(h).filter(|&s| mapping[s].is_some_and(|m| r & (1 << m) != 0)).count() as u64;
        der.speech_ms += n_ref * FRAME_MS;
        der.missed_ms += n_ref.saturating_sub(n_hyp) * FRAME_MS;
        der.false_alarm_ms += n_hyp.saturating_sub(n_ref) * FRAME_MS;
        der.confusion_ms += (n_ref.min(n_hyp) - correct) * FRAME_MS;
    }
    der
}

/// Word-level speaker error: of the words whose reference speaker is
/// `reference[i]`, those not given that speaker once the hypothesis speakers
/// (`hypothesis[i]`, any numbers; `None` for a word given nobody) are mapped
/// one to one onto reference speakers so that the most words are right.
/// Returns the wrong words and all words.
pub fn word_errors(reference: &[usize], hypothesis: &[Option<usize>]) -> (usize, usize) {
    assert_eq!(reference.len(), hypothesis.len(), "one hypothesis speaker a word");
    let dense = |labels: &mut Vec<usize>| {
        labels.sort_unstable();
        labels.dedup();
    };
    let (mut refs, mut hyps): (Vec<usize>, Vec<usize>) =
        (reference.to_vec(), hypothesis.iter().flatten().copied().collect());
    dense(&mut refs);
    dense(&mut hyps);
    let index = |labels: &[usize], l: usize| labels.binary_search(&l).expect("label listed");
    let mut overlap = vec![vec![0u64; refs.len()]; hyps.len()];
    for (&r, h) in reference.iter().zip(hypothesis) {
        if let Some(h) = *h {
            overlap[index(&hyps, h)][index(&refs, r)] += 1;
        }
    }
    let mapping = best_mapping(&overlap);
    let right = reference
        .iter()
        .zip(hypothesis)
        .filter(|(r, h)| h.is_some_and(|h| mapping[index(&hyps, h)] == Some(index(&refs, **r))))
        .count();
    (reference.len() - right, reference.len())
}

/// Who speaks in each frame (a bit per dense speaker index), judged at the
/// frame's midpoint.
struct Masks {
    masks: Vec<u64>,
    speakers: usize,
    turns: Vec<RefTurn>,
}

fn speaker_masks(turns: &[RefTurn], frames: usize) -> Masks {
    let mut labels: Vec<usize> = turns.iter().map(|t| t.speaker).collect();
    labels.sort_unstable();
    labels.dedup();
    assert!(labels.len() <= 64, "DER handles at most 64 speakers a side, got {}", labels.len());
    let mut masks = vec![0u64; frames];
    for turn in turns {
        let bit = 1 << labels.binary_search(&turn.speaker).expect("label listed");
        for frame in frames_between(turn.start_ms, turn.end_ms, frames) {
            masks[frame] |= bit;
        }
    }
    Masks { masks, speakers: labels.len(), turns: turns.to_vec() }
}

/// Frames whose midpoint lies in `start_ms..end_ms`.
fn frames_between(start_ms: u64, end_ms: u64, frames: usize) -> std::ops::Range<usize> {
    let first = start_ms.saturating_sub(FRAME_MS / 2).div_ceil(FRAME_MS) as usize;
    let last = end_ms.saturating_sub(FRAME_MS / 2).div_ceil(FRAME_MS) as usize;
    first.min(frames)..last.min(frames)
}

fn scored_frames(reference: &[RefTurn], collar_ms: u64, frames: usize) -> Vec<bool> {
    let mut scored = vec![true; frames];
    for boundary in reference.iter().flat_map(|t| [t.start_ms, t.end_ms]) {
        for frame in frames_between(boundary.saturating_sub(collar_ms), boundary + collar_ms, frames) {
            scored[frame] = false;
        }
    }
    scored
}

fn speakers_in(mask: u64) -> impl Iterator<Item = usize> {
    (0..64).filter(move |s| mask & (1 << s) != 0)
}

/// For each hypothesis speaker, the reference speaker it stands for: the
/// one-to-one mapping with the largest total overlap. Exact, by dynamic
/// programming over subsets of the smaller side.
fn best_mapping(overlap: &[Vec<u64>]) -> Vec<Option<usize>> {
    let (rows, cols) = (overlap.len(), overlap.first().map_or(0, Vec::len));
    if cols <= rows {
        return assign(overlap);
    }
    let transposed: Vec<Vec<u64>> = (0..cols).map(|c| (0..rows).map(|r| overlap[r][c]).collect()).collect();
    let mut mapping = vec![None; rows];
    for (col, row) in assign(&transposed).into_iter().enumerate() {
        if let Some(row) = row {
            mapping[row] = Some(col);
        }
    }
    mapping
}

/// Rows to distinct columns, maximising the summed weight; at most 16 columns.
fn assign(weights: &[Vec<u64>]) -> Vec<Option<usize>> {
    let cols = weights.first().map_or(0, Vec::len);
    assert!(cols <= 16, "too many speakers to map exactly: {cols}");
    let subsets = 1usize << cols;
    // best[i][mask]: the largest weight of the first i rows using exactly the columns in mask.
    let mut best = vec![vec![None; subsets]; weights.len() + 1];
    best[0][0] = Some(0u64);
    for (i, row) in weights.iter().enumerate() {
        for mask in 0..subsets {
            let skip = best[i][mask];
            let take = (0..cols)
                .filter(|c| mask & (1 << c) != 0)
                .filter_map(|c| best[i][mask ^ (1 << c)].map(|w| w + row[c]))
                .max();
            best[i + 1][mask] = skip.max(take);
        }
    }
    let mut mask = (0..subsets).max_by_key(|&m| best[weights.len()][m]).unwrap_or(0);
    let mut mapping = vec![None; weights.len()];
    for i in (0..weights.len()).rev() {
        if best[i][mask] == best[i + 1][mask] {
            continue;
        }
        let col = (0..cols)
            .find(|&c| mask & (1 << c) != 0 && best[i][mask ^ (1 << c)].map(|w| w + weights[i][c]) == best[i + 1][mask])
            .expect("a column explains the step");
        mapping[i] = Some(col);
        mask ^= 1 << col;
    }
    mapping
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns(spec: &[(u64, u64, usize)]) -> Vec<RefTurn> {
        spec.iter().map(|&(start_ms, end_ms, speaker)| RefTurn { start_ms, end_ms, speaker }).collect()
    }

    const REFERENCE: &[(u64, u64, usize)] = &[(0, 10_000, 0), (10_000, 20_000, 1), (20_000, 30_000, 0)];

    #[test]
    fn identical_turns_score_zero() {
        let reference = turns(REFERENCE);
        let errors = error_times(&reference, &reference, COLLAR_MS);
        assert_eq!(errors.der().der, 0.0);
        // Four boundaries' collars (two at the ends, half inside) are unscored.
        assert_eq!(errors.speech_ms, 30_000 - 250 - 500 - 500 - 250);
    }

    #[test]
    fn swapped_labels_score_zero() {
        let hypothesis = turns(&[(0, 10_000, 7), (10_000, 20_000, 3), (20_000, 30_000, 7)]);
        assert_eq!(diarization_error_rate(&turns(REFERENCE), &hypothesis), Der::default());
    }

    #[test]
    fn one_mislabelled_turn_is_confusion() {
        let hypothesis = turns(&[(0, 10_000, 0), (10_000, 20_000, 1), (20_000, 30_000, 1)]);
        let errors = error_times(&turns(REFERENCE), &hypothesis, COLLAR_MS);
        assert_eq!(errors, ErrorTimes { speech_ms: 28_500, missed_ms: 0, false_alarm_ms: 0, confusion_ms: 9_500 });
        assert!((errors.der().der - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn collar_excludes_boundary_errors() {
        // Starts 200 ms late, hands over 200 ms late and stops 200 ms early.
        let hypothesis = turns(&[(200, 10_200, 0), (10_200, 20_000, 1), (20_000, 29_800, 0)]);
        assert_eq!(error_times(&turns(REFERENCE), &hypothesis, COLLAR_MS).der().der, 0.0);
        let uncollared = error_times(&turns(REFERENCE), &hypothesis, 0);
        assert_eq!(
            uncollared,
            ErrorTimes { speech_ms: 30_000, missed_ms: 400, false_alarm_ms: 0, confusion_ms: 200 },
            "without a collar"
        );
    }

    #[test]
    fn silence_and_extra_speech_are_missed_and_false_alarm() {
        let reference = turns(&[(0, 10_000, 0), (12_000, 20_000, 1)]);
        let nothing = error_times(&reference, &[], COLLAR_MS);
        assert_eq!((nothing.missed_ms, nothing.der().der), (nothing.speech_ms, 1.0));
        let speech_in_the_gap = turns(&[(0, 10_000, 0), (10_500, 11_500, 2), (12_000, 20_000, 1)]);
        let errors = error_times(&reference, &speech_in_the_gap, COLLAR_MS);
        assert_eq!((errors.false_alarm_ms, errors.missed_ms, errors.confusion_ms), (1_000, 0, 0));
    }

    #[test]
    fn word_errors_map_labels_and_count_wrong_words() {
        // Hypothesis labels 7 and 3 stand for reference 0 and 1; one word of
        // speaker 1 went to 7, one to nobody.
        let reference = [0, 0, 0, 1, 1, 1, 1];
        let hypothesis = [Some(7), Some(7), Some(7), Some(3), Some(7), Some(3), None];
        assert_eq!(word_errors(&reference, &hypothesis), (2, 7));
        assert_eq!(word_errors(&reference, &reference.map(Some)), (0, 7));
        // One hypothesis speaker for two reference speakers: the smaller is all wrong.
        assert_eq!(word_errors(&[0, 0, 0, 1], &[Some(5); 4]), (1, 4));
    }

    #[test]
    fn mapping_is_one_to_one_and_optimal() {
        // Hypothesis 5 overlaps both reference speakers most; only one may take it.
        let reference = turns(&[(0, 4_000, 0), (5_000, 9_000, 1)]);
        let hypothesis = turns(&[(0, 4_000, 5), (5_000, 9_000, 5), (9_000, 9_000, 6)]);
        let errors = error_times(&reference, &hypothesis, 0);
        assert_eq!((errors.confusion_ms, errors.missed_ms, errors.false_alarm_ms), (4_000, 0, 0));
        assert_eq!(best_mapping(&[vec![5, 4], vec![4, 0]]), [Some(1), Some(0)]);
        assert_eq!(best_mapping(&[vec![3, 9, 1]]), [Some(1)]);
    }
}
