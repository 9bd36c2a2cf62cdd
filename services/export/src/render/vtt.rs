//! WebVTT (`.vtt`) writer.

use super::{Cue, timestamp};

/// Renders cues as WebVTT: a `WEBVTT` header, `HH:MM:SS.mmm` timings, and
/// a `<v Name>` voice tag on the first line when the cue has a speaker.
/// `&`, `<` and `>` in the text and names are escaped.
pub fn render_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for cue in cues {
        out.push_str(&format!("\n{} --> {}\n", timestamp(cue.start_ms, '.'), timestamp(cue.end_ms, '.')));
        for (n, line) in cue.lines.iter().enumerate() {
            if let (0, Some(name)) = (n, &cue.speaker) {
                out.push_str(&format!("<v {}>", escape(name)));
            }
            out.push_str(&escape(line));
            out.push('\n');
        }
    }
    out
}

/// Escapes the characters WebVTT cue text reserves.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_output() {
        let cues = vec![
            Cue { start_ms: 0, end_ms: 1500, lines: vec!["a < b & c".into(), "-->".into()], speaker: None },
            Cue { start_ms: 2000, end_ms: 3000, lines: vec!["Hi!".into(), "Yes.".into()], speaker: Some("A&B".into()) },
        ];
        assert_eq!(
            render_vtt(&cues),
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\na &lt; b &amp; c\n--&gt;\n\n\
             00:00:02.000 --> 00:00:03.000\n<v A&amp;B>Hi!\nYes.\n"
        );
        assert_eq!(render_vtt(&[]), "WEBVTT\n");
    }
}
