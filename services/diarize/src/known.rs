//! Known voices: which of a job's speakers is a voice its tenant enrolled
//! (`POST /v1/speakers`). Each speaker's voiceprint (from up to
//! [`MAX_PRINT_MS`] of its turns) is compared with every enrolled print by
//! cosine similarity; the most similar pairs at or above the threshold are
//! taken first, each voice and each speaker at most once.

use steno_runtime::voices::Voice;

use crate::engine::Turn;

/// Most speech of one speaker a voiceprint is made from.
pub const MAX_PRINT_MS: u64 = 60_000;

/// The samples of `speaker`'s turns, up to [`MAX_PRINT_MS`] of them.
pub fn speaker_samples(samples: &[f32], turns: &[Turn], speaker: usize) -> Vec<f32> {
    let at = |ms: u64| (ms as usize * 16).min(samples.len());
    let mut out = Vec::new();
    for turn in turns.iter().filter(|t| t.speaker == speaker) {
        if out.len() >= at(MAX_PRINT_MS) {
            break;
        }
        out.extend_from_slice(&samples[at(turn.start_ms)..at(turn.end_ms)]);
    }
    out.truncate(MAX_PRINT_MS as usize * 16);
    out
}

/// For each speaker's print (`None`: too little speech), the index of the
/// known voice it is, if any.
pub fn match_voices(prints: &[Option<Vec<f32>>], voices: &[Voice], threshold: f32) -> Vec<Option<usize>> {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (speaker, print) in prints.iter().enumerate() {
        let Some(print) = print else { continue };
        for (voice, known) in voices.iter().enumerate().filter(|(_, v)| v.print.len() == print.len()) {
            let similarity: f32 = print.iter().zip(&known.print).map(|(a, b)| a * b).sum();
            if similarity >= threshold {
                pairs.push((similarity, speaker, voice));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut matched = vec![None; prints.len()];
    let mut taken = vec![false; voices.len()];
    for (_, speaker, voice) in pairs {
        if matched[speaker].is_none() && !taken[voice] {
            matched[speaker] = Some(voice);
            taken[voice] = true;
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice(name: &str, print: Vec<f32>) -> Voice {
        Voice {
            id: name.into(),
            name: name.into(),
            job_id: String::new(),
            created_at: chrono::DateTime::UNIX_EPOCH,
            print,
            speech_ms: 10_000,
        }
    }

    #[test]
    fn the_closest_pairs_win_and_each_voice_names_one_speaker() {
        let voices = [voice("ann", vec![1.0, 0.0]), voice("bob", vec![0.0, 1.0]), voice("unenrolled", vec![])];
        let prints = [Some(vec![0.6, 0.8]), Some(vec![0.95, 0.312]), Some(vec![0.0, 1.0]), None];
        // Speaker 2 is bob exactly, so speaker 0 (also closer to bob) gets no one;
        // speaker 1 is ann at 0.95.
        assert_eq!(match_voices(&prints, &voices, 0.85), [None, Some(0), Some(1), None]);
        assert_eq!(match_voices(&prints, &voices, 0.99), [None, None, Some(1), None]);
        assert_eq!(match_voices(&prints, &[], 0.5), [None, None, None, None]);
    }

    #[test]
    fn a_speakers_samples_come_from_its_turns_only() {
        let samples: Vec<f32> = (0..16_000).map(|i| i as f32).collect();
        let turns = [
            Turn { start_ms: 0, end_ms: 100, speaker: 0 },
            Turn { start_ms: 100, end_ms: 300, speaker: 1 },
            Turn { start_ms: 300, end_ms: 400, speaker: 0 },
        ];
        let mine = speaker_samples(&samples, &turns, 0);
        assert_eq!(mine.len(), 3200);
        assert_eq!((mine[0], mine[1600]), (0.0, 4800.0));
    }
}
