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

/// Their English names, in the same order (whisper.cpp's full names, as
/// OpenAI's API reports a language).
pub const WHISPER_LANGUAGE_NAMES: [&str; 100] = [
    "english",
    "chinese",
    "german",
    "spanish",
    "russian",
    "korean",
    "french",
    "japanese",
    "portuguese",
    "turkish",
    "polish",
    "catalan",
    "dutch",
    "arabic",
    "swedish",
    "italian",
    "indonesian",
    "hindi",
    "finnish",
    "vietnamese",
    "hebrew",
    "ukrainian",
    "greek",
    "malay",
    "czech",
    "romanian",
    "danish",
    "hungarian",
    "tamil",
    "norwegian",
    "thai",
    "urdu",
    "croatian",
    "bulgarian",
    "lithuanian",
    "latin",
    "maori",
    "malayalam",
    "welsh",
    "slovak",
    "telugu",
    "persian",
    "latvian",
    "bengali",
    "serbian",
    "azerbaijani",
    "slovenian",
    "kannada",
    "estonian",
    "macedonian",
    "breton",
    "basque",
    "icelandic",
    "armenian",
    "nepali",
    "mongolian",
    "bosnian",
    "kazakh",
    "albanian",
    "swahili",
    "galician",
    "marathi",
    "punjabi",
    "sinhala",
    "khmer",
    "shona",
    "yoruba",
    "somali",
    "afrikaans",
    "occitan",
    "georgian",
    "belarusian",
    "tajik",
    "sindhi",
    "gujarati",
    "amharic",
    "yiddish",
    "lao",
    "uzbek",
    "faroese",
    "haitian creole",
    "pashto",
    "turkmen",
    "nynorsk",
    "maltese",
    "sanskrit",
    "luxembourgish",
    "myanmar",
    "tibetan",
    "tagalog",
    "malagasy",
    "assamese",
    "tatar",
    "hawaiian",
    "lingala",
    "hausa",
    "bashkir",
    "javanese",
    "sundanese",
    "cantonese",
];

/// Whether whisper can transcribe in `code` (an unknown code would be
/// decoded with a wrong prompt rather than refused).
pub fn is_whisper_language(code: &str) -> bool {
    WHISPER_LANGUAGES.contains(&code)
}

/// The English name of a language code (`en` → `english`).
pub fn language_name(code: &str) -> Option<&'static str> {
    WHISPER_LANGUAGES.iter().position(|c| *c == code).map(|i| WHISPER_LANGUAGE_NAMES[i])
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
    /// Where two speakers talk at once, when the job was diarized with
    /// the segmentation model; segments and words name the turn's speaker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlaps: Vec<Overlap>,
}

/// Overlapped speech: `[start_ms, end_ms)` in which `speakers` (ids, the
/// turn's own speaker first) talk at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overlap {
    pub start_ms: u64,
    pub end_ms: u64,
    pub speakers: Vec<String>,
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
    /// Whisper's token ids for the segment's text (no special tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<i32>,
    /// The sampling temperature the job decoded at (whisper.cpp does not
    /// report a fallback's).
    #[serde(default)]
    pub temperature: f32,
    /// Whisper's probability that the window held no speech.
    #[serde(default)]
    pub no_speech_prob: f32,
    /// The text's length over its zlib-compressed length, as openai-whisper
    /// computes it (high means repetitive).
    #[serde(default)]
    pub compression_ratio: f32,
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
