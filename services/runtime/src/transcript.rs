//! The transcript document that transcribe writes and diarize and export read
//! (`<job_id>/transcript.json` in the artifact store).

use serde::{Deserialize, Serialize};

/// The language codes whisper has a token for (whisper.cpp's `g_lang`, in
/// its order).
pub const WHISPER_LANGUAGES: [&str; 100] = [
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id", "hi", "fi",
    "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml",
    "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs",
    "kk", "sq", "sw", "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am",
    "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln",
    "ha", "ba", "jw", "su", "yue",
];

/// Whether whisper can transcribe in `code` (an unknown code would be
/// decoded with a wrong prompt rather than refused).
pub fn is_whisper_language(code: &str) -> bool {
    WHISPER_LANGUAGES.contains(&code)
}

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
