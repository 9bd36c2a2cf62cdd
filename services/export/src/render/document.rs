//! What a rendered file says about its job beyond the transcript: the PDF's
//! title, source and date.

use chrono::{DateTime, Utc};
use url::Url;

/// The job a transcript belongs to, as the PDF's heading shows it (the other
/// formats ignore it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// Heading and PDF metadata title: `Transcript: <file name>`.
    pub title: String,
    /// What was transcribed: a URL (without user-info or query) or an
    /// uploaded file's name; empty when unknown.
    pub source: String,
    /// When the job was submitted.
    pub submitted_at: Option<DateTime<Utc>>,
}

/// A document that knows nothing of its job: titled just "Transcript".
impl Default for Document {
    fn default() -> Self {
        Self::new("", 0)
    }
}

impl Document {
    /// The document of a job that transcribed `source`, submitted at
    /// `submitted_at_ms` (unix milliseconds; 0 when unknown).
    pub fn new(source: &str, submitted_at_ms: i64) -> Self {
        let source = source.trim();
        let title = file_name(source).map_or_else(|| "Transcript".to_owned(), |name| format!("Transcript: {name}"));
        let submitted_at = Some(submitted_at_ms).filter(|&ms| ms > 0).and_then(DateTime::from_timestamp_millis);
        Self { title, source: source.to_owned(), submitted_at }
    }

    /// The submission date as `YYYY-MM-DD` (UTC).
    pub fn date(&self) -> Option<String> {
        self.submitted_at.map(|at| at.format("%Y-%m-%d").to_string())
    }
}

/// The file name in `source`: an http(s) URL's last path segment
/// (percent-decoded; the host when the path is empty), else the last
/// component of a file name that may carry a path.
fn file_name(source: &str) -> Option<String> {
    if let Ok(url) = Url::parse(source)
        && matches!(url.scheme(), "http" | "https")
    {
        let segment = url.path_segments().and_then(|mut segments| segments.rfind(|s| !s.is_empty()));
        return segment
            .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
            .or_else(|| url.host_str().map(str::to_owned));
    }
    source.rsplit(['/', '\\']).find(|s| !s.trim().is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_names_the_file_of_a_url_or_an_upload() {
        let url = Document::new("https://media.example.org/talks/Jos%C3%A9%20N%C3%BA%C3%B1ez.mp3", 0);
        assert_eq!(url.title, "Transcript: José Núñez.mp3");
        assert_eq!(Document::new("https://example.org/", 0).title, "Transcript: example.org");
        assert_eq!(Document::new("C:\\Users\\ann\\meeting.wav", 0).title, "Transcript: meeting.wav");
        assert_eq!(Document::new("interview 100%.m4a", 0).title, "Transcript: interview 100%.m4a");
        assert_eq!(Document::new("", 0).title, "Transcript");
    }

    #[test]
    fn the_date_is_the_utc_day_of_submission() {
        assert_eq!(Document::new("a.wav", 1_767_225_599_000).date().as_deref(), Some("2025-12-31"));
        assert_eq!(Document::new("a.wav", 1_767_225_600_000).date().as_deref(), Some("2026-01-01"));
        assert_eq!(Document::new("a.wav", 0).date(), None);
    }
}
