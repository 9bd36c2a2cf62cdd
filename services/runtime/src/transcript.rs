//! The transcript document that transcribe writes and diarize and export read
//! (`<job_id>/transcript.json` in the artifact store).

use serde::{Deserialize, Serialize};

/// A whole transcript: segments in time order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// Language code the model transcribed in (for example `en`).
    pub language: String,
    /// Length of the normalised audio in milliseconds.
    pub duration_ms: u64,
    pub segments: Vec<Segment>,
    /// Speaker display names by speaker id, when the job was diarized.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speakers: Vec<Speaker>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Segment text, trimmed.
    pub text: String,
    /// Mean log-probability of the segment's text tokens.
    pub avg_logprob: f32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Word>,
    /// Speaker id (see `Transcript::speakers`), when diarized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub start_ms: u64,
    pub end_ms: u64,
    /// The word without surrounding whitespace (punctuation attached).
    pub text: String,
    /// Mean probability of the word's tokens, 0..1.
    pub probability: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Speaker {
    pub id: String,
    pub name: String,
}

impl Speaker {
    /// The `n`th speaker to appear (0-based) as diarize names it: `S1`,
    /// "Speaker 1".
    pub fn numbered(n: usize) -> Self {
        Self { id: format!("S{}", n + 1), name: format!("Speaker {}", n + 1) }
    }
}

impl Transcript {
    /// Whether subtitles and text should name speakers: when there are
    /// several, or the one there is was given a name. "Speaker 1:" before
    /// every line of a monologue says nothing.
    pub fn labels_speakers(&self) -> bool {
        match self.speakers.as_slice() {
            [] => false,
            [only] => only.name != Speaker::numbered(0).name,
            _ => true,
        }
    }
}
