//! Known voices: which of a job's speakers is a voice its tenant enrolled
//! (`POST /v1/speakers`). Each speaker's voiceprint (the mean direction
//! of its windows' embeddings, [`crate::Voiceprint`]) is compared with every
//! enrolled print by cosine similarity; the most similar pairs at or above the threshold are
//! taken first, each voice and each speaker at most once.

use steno_runtime::voices::Voice;

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
}
