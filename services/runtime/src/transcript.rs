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
