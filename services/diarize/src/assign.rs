//! Puts speaker turns onto a transcript: every word gets the speaker who
//! talks most during it, a segment is split where its words change speaker,
//! and speakers are named `S1`, `S2`, … in order of first appearance in the
//! transcript (the turns' own numbering does not matter).

use steno_runtime::transcript::{Overlap, Segment, Speaker, Transcript, Word};

use crate::engine::Turn;

/// Speaker id of the `n`th speaker (0-based) to appear.
pub fn speaker_id(n: usize) -> String {
    Speaker::numbered(n).id
}

/// Labels `transcript` with `turns` (sorted, non-overlapping). Returns the
/// turn speakers in id order (`S1` is the first), then any who said no word.
pub fn label(transcript: &mut Transcript, turns: &[Turn]) -> Vec<usize> {
    let segments = std::mem::take(&mut transcript.segments);
    let mut order: Vec<usize> = Vec::new();
    let mut id_of = |turn_speaker: usize| {
        let n = order.iter().position(|&s| s == turn_speaker).unwrap_or_else(|| {
            order.push(turn_speaker);
            order.len() - 1
        });
        speaker_id(n)
    };
    for mut segment in segments {
        let Some(first) = speaker_at(turns, segment.start_ms, segment.end_ms) else {
            transcript.segments.push(segment);
            continue;
        };
        if segment.words.is_empty() {
            segment.speaker = Some(id_of(first));
            transcript.segments.push(segment);
            continue;
        }
        let mut words = std::mem::take(&mut segment.words);
        for word in &mut words {
            let speaker = speaker_at(turns, word.start_ms, word.end_ms).unwrap_or(first);
            word.speaker = Some(id_of(speaker));
        }
        transcript.segments.extend(split_by_speaker(segment, words));
    }
    transcript.speakers = (0..order.len()).map(Speaker::numbered).collect();
    for turn in turns {
        if !order.contains(&turn.speaker) {
            order.push(turn.speaker);
        }
    }
    order
}

/// The turn speaker overlapping `[start, end)` the longest; for a span no
/// turn overlaps (a pause, or a zero-length word), the nearest turn's.
fn speaker_at(turns: &[Turn], start_ms: u64, end_ms: u64) -> Option<usize> {
    let mut overlap: Vec<(usize, u64)> = Vec::new();
    for turn in turns {
        let shared = end_ms.min(turn.end_ms).saturating_sub(start_ms.max(turn.start_ms));
        if shared == 0 {
            continue;
        }
        match overlap.iter_mut().find(|(s, _)| *s == turn.speaker) {
            Some((_, total)) => *total += shared,
            None => overlap.push((turn.speaker, shared)),
        }
    }
    if let Some((speaker, _)) = overlap.iter().max_by_key(|(_, total)| *total) {
        return Some(*speaker);
    }
    let middle = (start_ms + end_ms) / 2;
    let distance = |t: &Turn| {
        if middle < t.start_ms { t.start_ms - middle } else { middle.saturating_sub(t.end_ms) }
    };
    turns.iter().min_by_key(|t| distance(t)).map(|t| t.speaker)
}

/// The overlap turns (`overlaps`, the second voice's) as the transcript's
/// overlaps: each stretch of one beside a turn of another speaker, naming
/// the turn's speaker first; speakers by their place in `order` (as
/// [`label`] returns it).
pub fn overlaps(turns: &[Turn], overlaps: &[Turn], order: &[usize]) -> Vec<Overlap> {
    let id = |speaker: usize| speaker_id(order.iter().position(|&s| s == speaker).unwrap_or(speaker));
    let mut out = Vec::new();
    for second in overlaps {
        for turn in turns.iter().filter(|t| t.speaker != second.speaker) {
            let (start_ms, end_ms) = (turn.start_ms.max(second.start_ms), turn.end_ms.min(second.end_ms));
            if start_ms < end_ms {
                out.push(Overlap { start_ms, end_ms, speakers: vec![id(turn.speaker), id(second.speaker)] });
            }
        }
    }
    out.sort_by_key(|o| o.start_ms);
    out
}

/// `segment` as one segment per run of words by the same speaker. The first
/// piece keeps the segment's start and the last its end; a segment that is
/// not split keeps its own text.
fn split_by_speaker(segment: Segment, words: Vec<Word>) -> Vec<Segment> {
    let mut runs: Vec<Vec<Word>> = Vec::new();
    for word in words {
        match runs.last_mut() {
            Some(run) if run[0].speaker == word.speaker => run.push(word),
            _ => runs.push(vec![word]),
        }
    }
    if runs.len() == 1 {
        let speaker = runs[0][0].speaker.clone();
        return vec![Segment { words: runs.remove(0), speaker, ..segment }];
    }
    let last = runs.len() - 1;
    runs.into_iter()
        .enumerate()
        .map(|(i, words)| Segment {
            start_ms: if i == 0 { segment.start_ms } else { words[0].start_ms },
            end_ms: if i == last { segment.end_ms } else { words[words.len() - 1].end_ms },
            text: words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
            speaker: words[0].speaker.clone(),
            words,
            // The tokens cannot be shared out by speaker; the scores stay.
            tokens: Vec::new(),
            ..segment.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(start_ms: u64, end_ms: u64, text: &str) -> Word {
        Word { start_ms, end_ms, text: text.into(), probability: 0.9, speaker: None }
    }

    fn turn(start_ms: u64, end_ms: u64, speaker: usize) -> Turn {
        Turn { start_ms, end_ms, speaker }
    }

    #[test]
    fn splits_a_segment_where_the_speaker_changes() {
        let words = vec![word(0, 400, "Hello"), word(400, 900, "there."), word(1100, 1500, "Hi!")];
        let mut t = Transcript {
            segments: vec![Segment {
                start_ms: 0,
                end_ms: 1600,
                text: "Hello there. Hi!".into(),
                words,
                ..Default::default()
            }],
            ..Default::default()
        };
        // Turn speakers are numbered 7 and 3: ids follow first appearance.
        assert_eq!(label(&mut t, &[turn(0, 1000, 7), turn(1050, 1600, 3), turn(1700, 1800, 5)]), [7, 3, 5]);
        let spans: Vec<_> =
            t.segments.iter().map(|s| (s.start_ms, s.end_ms, s.text.as_str(), s.speaker.as_deref())).collect();
        assert_eq!(spans, [(0, 900, "Hello there.", Some("S1")), (1100, 1600, "Hi!", Some("S2"))]);
        assert!(t.segments[1].words.iter().all(|w| w.speaker.as_deref() == Some("S2")));
        assert_eq!(
            t.speakers,
            [
                Speaker { id: "S1".into(), name: "Speaker 1".into() },
                Speaker { id: "S2".into(), name: "Speaker 2".into() }
            ]
        );
    }

    #[test]
    fn a_word_takes_the_speaker_it_overlaps_most_or_the_nearest() {
        let turns = [turn(0, 1000, 0), turn(1000, 3000, 1)];
        assert_eq!(speaker_at(&turns, 900, 1500), Some(1));
        assert_eq!(speaker_at(&turns, 3500, 3600), Some(1));
        assert_eq!(speaker_at(&[], 0, 10), None);
    }

    #[test]
    fn an_unsplit_segment_keeps_its_text() {
        let words = vec![word(0, 400, "One"), word(400, 900, "voice.")];
        let mut t = Transcript {
            segments: vec![Segment {
                start_ms: 0,
                end_ms: 950,
                text: "One  voice.".into(),
                words,
                ..Default::default()
            }],
            ..Default::default()
        };
        label(&mut t, &[turn(0, 950, 0)]);
        assert_eq!(t.segments.len(), 1);
        assert_eq!(t.segments[0].text, "One  voice.");
        assert_eq!(t.segments[0].speaker.as_deref(), Some("S1"));
    }

    #[test]
    fn an_overlap_names_the_turns_speaker_then_the_second_voice() {
        let turns = [turn(0, 1000, 7), turn(1000, 3000, 3)];
        // Speaker 3 talks over 7 from 800; then 7 over 3 until 1200.
        let second = [turn(800, 1000, 3), turn(1000, 1200, 7)];
        let found = overlaps(&turns, &second, &[7, 3]);
        let spans: Vec<_> = found.iter().map(|o| (o.start_ms, o.end_ms, o.speakers.join("+"))).collect();
        assert_eq!(spans, [(800, 1000, "S1+S2".to_owned()), (1000, 1200, "S2+S1".to_owned())]);
    }
}
