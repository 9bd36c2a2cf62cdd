//! Renderers that turn a [`Transcript`] into downloadable files:
//! SRT and WebVTT subtitles, pretty JSON, plain text, and a PDF document.
//!
//! Subtitle formats share one cue layout ([`build_cues`]) so SRT and VTT
//! always split text and time the same way; text and PDF share one
//! paragraph layout. The PDF's heading comes from a [`Document`].

pub mod cues;
mod document;
mod json;
mod pdf;
mod srt;
mod txt;
mod vtt;

#[cfg(test)]
mod cues_tests;
#[cfg(test)]
mod proptests;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use steno_runtime::transcript::Transcript;

pub use cues::{BREAK_PAUSE_MS, Cue, build_cues};
pub use document::Document;
pub use pdf::PdfError;

/// The file formats the export service can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Srt,
    Vtt,
    Json,
    Txt,
    Pdf,
}

impl ExportFormat {
    /// Every format, in a stable order.
    pub const ALL: [ExportFormat; 5] = [Self::Srt, Self::Vtt, Self::Json, Self::Txt, Self::Pdf];

    /// File extension without the dot (also the name `FromStr` accepts).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Srt => "srt",
            Self::Vtt => "vtt",
            Self::Json => "json",
            Self::Txt => "txt",
            Self::Pdf => "pdf",
        }
    }

    /// MIME type to serve the rendered file with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Srt => "application/x-subrip; charset=utf-8",
            Self::Vtt => "text/vtt; charset=utf-8",
            Self::Json => "application/json",
            Self::Txt => "text/plain; charset=utf-8",
            Self::Pdf => "application/pdf",
        }
    }

    /// Whether the rendered file is UTF-8 text (every format but PDF).
    pub fn is_text(self) -> bool {
        self != Self::Pdf
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// Error from parsing an unknown format name; holds the rejected value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFormatError(pub String);

impl fmt::Display for ParseFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown export format `{}` (expected one of: srt, vtt, json, txt, pdf)", self.0)
    }
}

impl std::error::Error for ParseFormatError {}

impl FromStr for ExportFormat {
    type Err = ParseFormatError;

    /// Accepts `srt`, `vtt`, `json`, `txt`, `pdf` (ASCII case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseFormatError(s.to_owned()))
    }
}

/// Layout limits for subtitle cues. Missing fields deserialize to defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct CueOptions {
    /// Most characters on one line (a longer single word gets its own line).
    pub max_line_chars: usize,
    /// Most lines in one cue.
    pub max_lines: usize,
    /// Longest cue in milliseconds (a longer single word gets its own cue).
    pub max_cue_ms: u64,
    /// Shortest time a cue stays up, where the next cue leaves room.
    pub min_cue_ms: u64,
    /// Fastest reading speed a cue asks for, where the next cue leaves room.
    pub max_chars_per_second: u32,
}

impl From<&steno_runtime::config::ExportConfig> for CueOptions {
    fn from(config: &steno_runtime::config::ExportConfig) -> Self {
        Self {
            max_line_chars: config.max_line_chars,
            max_lines: config.max_lines,
            max_cue_ms: config.max_cue_ms,
            min_cue_ms: config.min_cue_ms,
            max_chars_per_second: config.max_chars_per_second,
        }
    }
}

impl Default for CueOptions {
    fn default() -> Self {
        Self { max_line_chars: 42, max_lines: 2, max_cue_ms: 7000, min_cue_ms: 833, max_chars_per_second: 17 }
    }
}

/// Why a transcript could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("JSON serialization failed: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// Renders `t` in `format` as the file's bytes. `opts` only affects SRT and
/// VTT, `doc` only the PDF's heading. Subtitles, text and PDF name speakers
/// only when [`Transcript::labels_speakers`]; JSON always carries them.
pub fn render(t: &Transcript, format: ExportFormat, opts: &CueOptions, doc: &Document) -> Result<Vec<u8>, RenderError> {
    let unlabelled;
    let t = if format != ExportFormat::Json && !t.labels_speakers() && !t.speakers.is_empty() {
        unlabelled = without_speakers(t);
        &unlabelled
    } else {
        t
    };
    Ok(match format {
        ExportFormat::Srt => srt::render_srt(&build_cues(t, opts)).into_bytes(),
        ExportFormat::Vtt => vtt::render_vtt(&build_cues(t, opts)).into_bytes(),
        ExportFormat::Json => json::render_json(t)?.into_bytes(),
        ExportFormat::Txt => txt::render_txt(t).into_bytes(),
        ExportFormat::Pdf => pdf::render_pdf(t, doc)?,
    })
}

/// [`render`] for a text format, as a string, with no [`Document`].
#[cfg(test)]
pub(crate) fn render_text(t: &Transcript, format: ExportFormat, opts: &CueOptions) -> String {
    let bytes = render(t, format, opts, &Document::default()).expect("render");
    String::from_utf8(bytes).expect("text formats are UTF-8")
}

fn without_speakers(t: &Transcript) -> Transcript {
    let mut t = t.clone();
    t.speakers.clear();
    for segment in &mut t.segments {
        segment.speaker = None;
        segment.words.iter_mut().for_each(|w| w.speaker = None);
    }
    t
}

/// Display name for a speaker id: `speakers[id].name` if set, else the id.
pub fn speaker_display_name(t: &Transcript, id: &str) -> String {
    t.speakers
        .iter()
        .find(|s| s.id == id && !s.name.trim().is_empty())
        .map_or_else(|| id.to_owned(), |s| s.name.clone())
}

/// Formats milliseconds as `HH:MM:SS<sep>mmm` (hours grow past two digits).
fn timestamp(ms: u64, millis_sep: char) -> String {
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    format!("{h:02}:{m:02}:{s:02}{millis_sep}{milli:03}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use steno_runtime::transcript::Speaker;

    #[test]
    fn format_names_round_trip() {
        for f in ExportFormat::ALL {
            assert_eq!(f.to_string().parse::<ExportFormat>(), Ok(f));
            assert_eq!(f.extension(), f.to_string());
        }
        assert_eq!("SRT".parse::<ExportFormat>(), Ok(ExportFormat::Srt));
        let err = "docx".parse::<ExportFormat>().expect_err("unknown format");
        assert!(err.to_string().contains("`docx`"), "{err}");
        assert_eq!(ExportFormat::Vtt.content_type(), "text/vtt; charset=utf-8");
        assert_eq!(ExportFormat::Pdf.content_type(), "application/pdf");
        assert_eq!(ExportFormat::ALL.map(ExportFormat::is_text), [true, true, true, true, false]);
    }

    #[test]
    fn cue_options_default_and_partial_deserialize() {
        let o: CueOptions = serde_json::from_str(r#"{"max_lines": 1}"#).expect("options");
        assert_eq!((o.max_line_chars, o.max_lines, o.max_cue_ms), (42, 1, 7000));
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0, ','), "00:00:00,000");
        assert_eq!(timestamp(3_723_004, '.'), "01:02:03.004");
        assert_eq!(timestamp(360_000_000, ','), "100:00:00,000");
    }

    #[test]
    fn display_name_falls_back_to_id() {
        let t = Transcript {
            speakers: vec![
                Speaker { id: "S0".into(), name: "Alice".into() },
                Speaker { id: "S1".into(), name: " ".into() },
            ],
            ..Transcript::default()
        };
        assert_eq!(speaker_display_name(&t, "S0"), "Alice");
        assert_eq!(speaker_display_name(&t, "S1"), "S1");
        assert_eq!(speaker_display_name(&t, "S9"), "S9");
    }

    #[test]
    fn a_lone_unnamed_speaker_is_not_labelled_but_a_named_one_is() {
        use steno_runtime::transcript::Segment;
        let segment = Segment { end_ms: 1000, text: "Hello.".into(), speaker: Some("S1".into()), ..Segment::default() };
        let mut t =
            Transcript { segments: vec![segment], speakers: vec![Speaker::numbered(0)], ..Transcript::default() };
        let opts = CueOptions::default();
        assert_eq!(render_text(&t, ExportFormat::Txt, &opts).trim(), "Hello.");
        assert!(render_text(&t, ExportFormat::Json, &opts).contains("\"speaker\": \"S1\""));
        t.speakers[0].name = "Ann".into();
        assert_eq!(render_text(&t, ExportFormat::Txt, &opts).trim(), "Ann: Hello.");
        assert!(render_text(&t, ExportFormat::Srt, &opts).contains("Ann: Hello."));
    }
}
