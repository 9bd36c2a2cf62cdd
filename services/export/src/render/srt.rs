//! SubRip (`.srt`) writer.

use super::{Cue, timestamp};

/// Renders cues as SRT: numbered from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`,
/// the text lines (the first prefixed `Name: ` when the cue has a speaker),
/// and a blank line between cues.
pub fn render_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, cue) in cues.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}\n{} --> {}\n", i + 1, timestamp(cue.start_ms, ','), timestamp(cue.end_ms, ',')));
        for (n, line) in cue.lines.iter().enumerate() {
            if let (0, Some(name)) = (n, &cue.speaker) {
                out.push_str(name);
                out.push_str(": ");
            }
            out.push_str(line);
            out.push('\n');
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
            Cue { start_ms: 0, end_ms: 1500, lines: vec!["Hello there,".into(), "friend.".into()], speaker: None },
            Cue {
                start_ms: 3_661_001,
                end_ms: 3_662_000,
                lines: vec!["Hi!".into(), "Yes.".into()],
                speaker: Some("Ann".into()),
            },
        ];
        assert_eq!(
            render_srt(&cues),
            "1\n00:00:00,000 --> 00:00:01,500\nHello there,\nfriend.\n\n\
             2\n01:01:01,001 --> 01:01:02,000\nAnn: Hi!\nYes.\n"
        );
        assert_eq!(render_srt(&[]), "");
    }
}
