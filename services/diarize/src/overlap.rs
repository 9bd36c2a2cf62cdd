//! Overlapped speech: where the segmentation model hears two voices at once
//! inside a turn, the second voice's own turn over it. The model's speakers
//! are local to its 10 s chunk; each is matched to the turn speaker it
//! talks alongside most where it talks alone, so a two-voice frame names
//! both. The turn's own speaker is one of them; the other gets the overlap
//! turn. Where the chunk does not tell who the other is (its local speaker
//! never talks alone there, as someone who only puts in a word over the
//! speaker), the nearest turn of another speaker does.

use crate::engine::Turn;
use crate::frontend::SAMPLE_RATE;
use crate::segmentation::{CLASSES, FRAME_SPAN, FRAME_STEP, overlap_probability};

/// A frame is overlapped speech above this probability.
const THRESHOLD: f32 = 0.5;
/// Overlaps shorter than this are dropped, and gaps shorter than this
/// between two of one speaker are closed.
const MIN_OVERLAP_MS: u64 = 100;
/// The model's local speakers, and the pair each two-voice class is.
const LOCAL_SPEAKERS: usize = 3;
const PAIRS: [(usize, usize); 3] = [(0, 1), (0, 2), (1, 2)];

/// The turn speaker at `ms`, if any (`turns` sorted and disjoint).
fn speaker_at(turns: &[Turn], ms: u64) -> Option<usize> {
    let i = turns.partition_point(|t| t.end_ms <= ms);
    turns.get(i).filter(|t| t.start_ms <= ms).map(|t| t.speaker)
}

/// The speaker of the turn nearest `ms` that is not `not`.
fn nearest_other(turns: &[Turn], ms: u64, not: usize) -> Option<usize> {
    let distance = |t: &Turn| if ms < t.start_ms { t.start_ms - ms } else { ms.saturating_sub(t.end_ms) };
    turns.iter().filter(|t| t.speaker != not).map(|t| (distance(t), t.speaker)).min().map(|(_, s)| s)
}

/// The overlap turns one chunk's class probabilities (`frames × CLASSES`,
/// the chunk starting at sample `start`) give against `turns`, appended to
/// `out` a frame each.
pub fn chunk_overlaps(probabilities: &[f32], start: usize, turns: &[Turn], out: &mut Vec<Turn>) {
    let centre_ms = |frame: usize| ((start + frame * FRAME_STEP + FRAME_SPAN / 2) * 1000 / SAMPLE_RATE) as u64;
    let frames = probabilities.chunks_exact(CLASSES);
    // Which turn speaker each local speaker talks alongside where alone.
    let speakers = turns.iter().map(|t| t.speaker + 1).max().unwrap_or(0);
    let mut votes = vec![vec![0u32; speakers]; LOCAL_SPEAKERS];
    for (f, p) in frames.clone().enumerate() {
        let best = argmax(p);
        if (1..=LOCAL_SPEAKERS).contains(&best)
            && let Some(g) = speaker_at(turns, centre_ms(f))
        {
            votes[best - 1][g] += 1;
        }
    }
    let global = |local: usize| {
        let (g, &n) = votes[local].iter().enumerate().max_by_key(|(_, n)| **n)?;
        (n > 0).then_some(g)
    };
    let half_step = (FRAME_STEP * 1000).div_ceil(2 * SAMPLE_RATE) as u64;
    for (f, p) in frames.enumerate() {
        if overlap_probability(p) <= THRESHOLD {
            continue;
        }
        let ms = centre_ms(f);
        let Some(main) = speaker_at(turns, ms) else { continue };
        let pair = PAIRS[argmax(&p[LOCAL_SPEAKERS + 1..])];
        let named = [global(pair.0), global(pair.1)];
        let other = named.into_iter().flatten().find(|&g| g != main).or_else(|| nearest_other(turns, ms, main));
        if let Some(speaker) = other {
            out.push(Turn { start_ms: ms.saturating_sub(half_step), end_ms: ms + half_step, speaker });
        }
    }
}

/// Frame-long overlap turns (in time order) merged into runs of one
/// speaker, gaps under [`MIN_OVERLAP_MS`] closed, runs under it dropped,
/// and each clipped to `[0, duration_ms)`.
pub fn merge(frames: Vec<Turn>, duration_ms: u64) -> Vec<Turn> {
    let mut runs: Vec<Turn> = Vec::new();
    for t in frames {
        match runs.last_mut() {
            Some(last) if last.speaker == t.speaker && t.start_ms <= last.end_ms + MIN_OVERLAP_MS => {
                last.end_ms = last.end_ms.max(t.end_ms);
            }
            _ => runs.push(t),
        }
    }
    runs.retain_mut(|t| {
        t.end_ms = t.end_ms.min(duration_ms);
        t.end_ms.saturating_sub(t.start_ms) >= MIN_OVERLAP_MS
    });
    runs
}

fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of one class each (probability 1).
    fn frames(classes: &[usize]) -> Vec<f32> {
        classes.iter().flat_map(|&c| (0..CLASSES).map(move |k| if k == c { 1.0 } else { 0.0 })).collect()
    }

    fn ms_of(frame: usize) -> u64 {
        ((frame * FRAME_STEP + FRAME_SPAN / 2) * 1000 / SAMPLE_RATE) as u64
    }

    #[test]
    fn the_second_voice_is_the_local_speaker_that_is_not_the_turns() {
        // Local speaker 1 talks alone for 40 frames, then with local 2 for
        // 20 frames, then local 2 alone: turns say speaker 0 then 1.
        let classes: Vec<usize> = [vec![1; 40], vec![4; 20], vec![2; 40]].concat();
        let change = ms_of(60);
        let turns =
            [Turn { start_ms: 0, end_ms: change, speaker: 0 }, Turn { start_ms: change, end_ms: 5_000, speaker: 1 }];
        let mut out = Vec::new();
        chunk_overlaps(&frames(&classes), 0, &turns, &mut out);
        let merged = merge(out, 5_000);
        assert_eq!(merged.len(), 1, "{merged:?}");
        assert_eq!(merged[0].speaker, 1, "turn 0 is speaker 0's: the other voice is 1");
        let (start, end) = (ms_of(40), ms_of(59));
        assert!(merged[0].start_ms.abs_diff(start) <= 10 && merged[0].end_ms.abs_diff(end) <= 10, "{merged:?}");
    }

    #[test]
    fn an_unnamed_second_voice_is_the_nearest_other_speaker() {
        // Local 1 alone, then 1+3 where local 3 never talks alone.
        let classes: Vec<usize> = [vec![1; 50], vec![5; 30], vec![1; 50]].concat();
        let turns =
            [Turn { start_ms: 0, end_ms: 3_000, speaker: 2 }, Turn { start_ms: 4_000, end_ms: 6_000, speaker: 0 }];
        let mut out = Vec::new();
        chunk_overlaps(&frames(&classes), 0, &turns, &mut out);
        let merged = merge(out, 6_000);
        assert_eq!(merged.iter().map(|t| t.speaker).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn short_overlaps_and_overlaps_outside_turns_are_dropped() {
        let classes: Vec<usize> = [vec![1; 30], vec![4; 4], vec![2; 30], vec![0; 20], vec![4; 20]].concat();
        let turns = [
            Turn { start_ms: 0, end_ms: ms_of(30), speaker: 0 },
            Turn { start_ms: ms_of(30), end_ms: ms_of(64), speaker: 1 },
        ];
        let mut out = Vec::new();
        chunk_overlaps(&frames(&classes), 0, &turns, &mut out);
        assert!(merge(out, 10_000).is_empty(), "4 frames (67 ms) are too short; the last run is in no turn");
    }
}
