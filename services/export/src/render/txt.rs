//! Plain-text (`.txt`) writer, and the paragraphs the PDF shares with it.

use steno_runtime::transcript::{Segment, Transcript};

use super::speaker_display_name;

/// A silence at least this long starts a new paragraph (without speakers).
pub const PARAGRAPH_PAUSE_MS: u64 = 2000;

/// One paragraph of text: a speaker turn, or (without speakers) the
/// segments between pauses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paragraph<'t> {
    /// Speaker id, when the segments name one.
    pub speaker: Option<&'t str>,
    /// Start of its first segment.
    pub start_ms: u64,
    /// Its segments' texts, whitespace collapsed, joined by spaces.
    pub text: String,
    /// End of its last segment.
    end_ms: u64,
}

/// Renders plain paragraphs separated by blank lines (see [`paragraphs`]),
/// each speaker turn as `Name: text`.
pub fn render_txt(t: &Transcript) -> String {
    let mut out = String::new();
    for (i, paragraph) in paragraphs(t).iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if let Some(id) = paragraph.speaker {
            out.push_str(&speaker_display_name(t, id));
            out.push_str(": ");
        }
        out.push_str(&paragraph.text);
        out.push('\n');
    }
    out
}

/// The transcript's paragraphs. When any segment has a speaker, each
/// speaker turn (consecutive segments of one speaker) is one paragraph;
/// otherwise a pause of at least [`PARAGRAPH_PAUSE_MS`] starts a new one.
/// Blank segments are left out.
pub fn paragraphs(t: &Transcript) -> Vec<Paragraph<'_>> {
    let by_speaker = t.segments.iter().any(|s| s.speaker.is_some());
    let mut paragraphs: Vec<Paragraph<'_>> = Vec::new();
    for segment in &t.segments {
        let text = segment_text(segment);
        if text.is_empty() {
            continue;
        }
        let speaker = segment.speaker.as_deref();
        match paragraphs.last_mut() {
            Some(last) if continues(last, segment, speaker, by_speaker) => {
                last.text.push(' ');
                last.text.push_str(&text);
                last.end_ms = last.end_ms.max(segment.end_ms);
            }
            _ => paragraphs.push(Paragraph { speaker, start_ms: segment.start_ms, text, end_ms: segment.end_ms }),
        }
    }
    paragraphs
}

/// Whether `segment` belongs to the paragraph `last`.
fn continues(last: &Paragraph<'_>, segment: &Segment, speaker: Option<&str>, by_speaker: bool) -> bool {
    if by_speaker { last.speaker == speaker } else { segment.start_ms.saturating_sub(last.end_ms) < PARAGRAPH_PAUSE_MS }
}

/// The segment's text with whitespace collapsed (its words when text is blank).
fn segment_text(segment: &Segment) -> String {
    let words: Vec<&str> = if segment.text.trim().is_empty() {
        segment.words.iter().flat_map(|w| w.text.split_whitespace()).collect()
    } else {
        segment.text.split_whitespace().collect()
    };
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use steno_runtime::transcript::{Speaker, Word};

    fn seg(start_ms: u64, end_ms: u64, text: &str, speaker: Option<&str>) -> Segment {
        Segment { start_ms, end_ms, text: text.into(), speaker: speaker.map(str::to_owned), ..Segment::default() }
    }

    #[test]
    fn paragraphs_break_on_pauses() {
        let t = Transcript {
            segments: vec![
                seg(0, 1000, "One.", None),
                seg(2900, 4000, " Two\n too. ", None),
                seg(6000, 7000, "Three.", None),
                seg(7000, 7500, "  ", None),
            ],
            ..Transcript::default()
        };
        assert_eq!(render_txt(&t), "One. Two too.\n\nThree.\n");
        let starts: Vec<u64> = paragraphs(&t).iter().map(|p| p.start_ms).collect();
        assert_eq!(starts, [0, 6000]);
    }

    #[test]
    fn one_paragraph_per_speaker_turn() {
        let mut blank = seg(3000, 4000, "", Some("S1"));
        blank.words = vec![Word { text: "Bye.".into(), ..Word::default() }];
        let t = Transcript {
            segments: vec![
                seg(0, 1000, "Hi.", Some("S0")),
                seg(9000, 9500, "How are you?", Some("S0")),
                seg(9600, 9900, "Fine.", Some("S1")),
                blank,
            ],
            speakers: vec![Speaker { id: "S0".into(), name: "Ann".into() }],
            ..Transcript::default()
        };
        assert_eq!(render_txt(&t), "Ann: Hi. How are you?\n\nS1: Fine. Bye.\n");
        assert_eq!(render_txt(&Transcript::default()), "");
    }
}
