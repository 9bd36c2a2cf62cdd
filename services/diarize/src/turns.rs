//! From per-frame speaker labels to speaker turns.

use crate::engine::Turn;

/// Frame length in milliseconds (the encoder's hop).
pub const FRAME_MS: u64 = 10;
/// Label runs shorter than this (50 frames = 0.5 s) that touch other
/// speakers' speech on both sides take the label of the longer neighbour:
/// they are flips of the window labelling, not turns.
const MIN_FLIP_FRAMES: usize = 50;

/// A run of consecutive speech frames with one label: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Piece {
    start: usize,
    end: usize,
    label: usize,
}

/// `labels[i]` is the speaker of frame `i`, `None` outside speech. Returns
/// turns after smoothing short flips and merging touching pieces of one
/// speaker, with speakers renumbered by first appearance, and the label
/// each turn speaker had.
pub fn frames_to_turns(labels: &[Option<usize>]) -> (Vec<Turn>, Vec<usize>) {
    let mut pieces = pieces(labels);
    smooth_flips(&mut pieces);
    let mut order: Vec<usize> = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for p in pieces {
        let speaker = order.iter().position(|&l| l == p.label).unwrap_or_else(|| {
            order.push(p.label);
            order.len() - 1
        });
        let (start_ms, end_ms) = (p.start as u64 * FRAME_MS, p.end as u64 * FRAME_MS);
        match turns.last_mut() {
            Some(last) if last.end_ms == start_ms && last.speaker == speaker => last.end_ms = end_ms,
            _ => turns.push(Turn { start_ms, end_ms, speaker }),
        }
    }
    (turns, order)
}

/// Labels the unlabelled frames that `speech` marks (pauses bridged after
/// labelling): each such run takes the label before it for its first half
/// and the label after it for the rest.
pub fn fill_pauses(labels: &mut [Option<usize>], speech: &[bool]) {
    let mut i = 0;
    while i < labels.len() {
        if labels[i].is_some() || !speech[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < labels.len() && labels[i].is_none() && speech[i] {
            i += 1;
        }
        let before = start.checked_sub(1).and_then(|j| labels[j]);
        let after = labels.get(i).copied().flatten();
        let middle = start + (i - start) / 2;
        for (j, label) in labels[start..i].iter_mut().enumerate() {
            *label = if start + j < middle { before.or(after) } else { after.or(before) };
        }
    }
}

fn pieces(labels: &[Option<usize>]) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let Some(label) = *label else { continue };
        match out.last_mut() {
            Some(p) if p.end == i && p.label == label => p.end = i + 1,
            _ => out.push(Piece { start: i, end: i + 1, label }),
        }
    }
    out
}

/// Relabels short pieces wedged between touching pieces of other labels,
/// shortest first, then merges what became one speaker's run.
fn smooth_flips(pieces: &mut Vec<Piece>) {
    loop {
        let wedged = |i: usize| {
            let p = pieces[i];
            let before = i.checked_sub(1).map(|j| pieces[j]).filter(|q| q.end == p.start);
            let after = pieces.get(i + 1).copied().filter(|q| q.start == p.end);
            match (before, after) {
                (Some(b), Some(a)) => Some(if b.end - b.start >= a.end - a.start { b.label } else { a.label }),
                (Some(b), None) => Some(b.label),
                (None, Some(a)) => Some(a.label),
                (None, None) => None,
            }
        };
        let shortest = (0..pieces.len())
            .filter(|&i| pieces[i].end - pieces[i].start < MIN_FLIP_FRAMES)
            .filter_map(|i| wedged(i).map(|label| (i, label)))
            .min_by_key(|&(i, _)| pieces[i].end - pieces[i].start);
        let Some((i, label)) = shortest else { break };
        pieces[i].label = label;
        // Merge touching pieces that now share a label.
        let mut merged: Vec<Piece> = Vec::with_capacity(pieces.len());
        for p in pieces.drain(..) {
            match merged.last_mut() {
                Some(m) if m.end == p.start && m.label == p.label => m.end = p.end,
                _ => merged.push(p),
            }
        }
        *pieces = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(spec: &[(usize, Option<usize>)]) -> Vec<Option<usize>> {
        spec.iter().flat_map(|&(n, l)| std::iter::repeat_n(l, n)).collect()
    }

    fn turn(start_ms: u64, end_ms: u64, speaker: usize) -> Turn {
        Turn { start_ms, end_ms, speaker }
    }

    #[test]
    fn renumbers_by_first_appearance_and_keeps_gaps() {
        let labels = frames(&[(10, None), (100, Some(3)), (40, None), (80, Some(1)), (60, Some(3))]);
        let (turns, order) = frames_to_turns(&labels);
        assert_eq!(turns, vec![turn(100, 1100, 0), turn(1500, 2300, 1), turn(2300, 2900, 0)]);
        assert_eq!(order, vec![3, 1]);
    }

    #[test]
    fn short_flips_inside_speech_are_absorbed_but_isolated_short_turns_stay() {
        let labels = frames(&[
            (120, Some(0)),
            (20, Some(1)), // flip between two pieces of speaker 0
            (90, Some(0)),
            (30, None),
            (30, Some(1)), // a short answer on its own: a real turn
            (30, None),
            (200, Some(0)),
            (10, Some(2)), // flip at the end of a run, touching one side
        ]);
        assert_eq!(frames_to_turns(&labels).0, vec![turn(0, 2300, 0), turn(2600, 2900, 1), turn(3200, 5300, 0)]);
    }

    #[test]
    fn bridged_pauses_are_split_between_their_neighbours() {
        let mut labels = frames(&[(3, Some(0)), (4, None), (2, Some(1)), (2, None), (3, Some(1))]);
        let speech = [vec![true; 9], vec![false; 2], vec![true; 3]].concat();
        fill_pauses(&mut labels, &speech);
        let expected = frames(&[(5, Some(0)), (4, Some(1)), (2, None), (3, Some(1))]);
        assert_eq!(labels, expected);
    }

    #[test]
    fn no_speech_no_turns() {
        assert!(frames_to_turns(&[None; 50]).0.is_empty());
        assert!(frames_to_turns(&[]).0.is_empty());
    }
}
