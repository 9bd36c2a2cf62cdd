//! Plain-text (`.txt`) writer.

use steno_runtime::transcript::{Segment, Transcript};

use super::speaker_display_name;

/// A silence at least this long starts a new paragraph (without speakers).
pub const PARAGRAPH_PAUSE_MS: u64 = 2000;

/// Renders plain paragraphs separated by blank lines. When any segment has
/// a speaker, each speaker turn (consecutive segments of one speaker) is one
/// paragraph `Name: text`; otherwise segment texts are joined and a pause of
/// at least [`PARAGRAPH_PAUSE_MS`] starts a new paragraph.
pub fn render_txt(t: &Transcript) -> String {
    let by_speaker = t.segments.iter().any(|s| s.speaker.is_some());
    // (speaker id, text, last end) of each paragraph.
    let mut paragraphs: Vec<(Option<&str>, String, u64)> = Vec::new();
    for segment in &t.segments {
        let text = segment_text(segment);
        if text.is_empty() {
            continue;
        }
        let speaker = segment.speaker.as_deref();
        let continues = match paragraphs.last() {
            Some((prev, _, _)) if by_speaker => *prev == speaker,
            Some((_, _, prev_end)) => segment.start_ms.saturating_sub(*prev_end) < PARAGRAPH_PAUSE_MS,
            None => false,
        };
        match paragraphs.last_mut() {
            Some((_, para, end)) if continues => {
                para.push(' ');
                para.push_str(&text);
                *end = (*end).max(segment.end_ms);
            }
            _ => paragraphs.push((speaker, text, segment.end_ms)),
        }
    }
    let mut out = String::new();
    for (i, (speaker, text, _)) in paragraphs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if let Some(id) = speaker {
            out.push_str(&speaker_display_name(t, id));
            out.push_str(": ");
        }
        out.push_str(text);
        out.push('\n');
    }
    out
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
