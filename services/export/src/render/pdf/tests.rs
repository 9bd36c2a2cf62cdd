//! The PDF read back the way a user's tools read it: `pdftotext` (poppler)
//! must find the words, speakers, timestamps, heading and page numbers.

use std::process::Command;

use steno_runtime::transcript::{Segment, Speaker, Transcript};

use super::render_pdf;
use crate::render::{CueOptions, Document, ExportFormat, render};

const PDFTOTEXT: &str = "/usr/bin/pdftotext";

fn segment(start_ms: u64, end_ms: u64, text: &str, speaker: &str) -> Segment {
    Segment { start_ms, end_ms, text: text.into(), speaker: Some(speaker.into()), ..Segment::default() }
}

fn two_speakers() -> Transcript {
    Transcript {
        language: "ru".into(),
        duration_ms: 312_400,
        segments: vec![
            segment(0, 4_000, "Buenos días, señoras y señores.", "S1"),
            segment(4_000, 9_500, "Hoy hablamos de la mañana.", "S1"),
            segment(83_200, 90_000, "Пётр пришёл домой.", "S2"),
            segment(91_000, 95_000, "Γνῶθι σεαυτόν, είπε ο δάσκαλος.", "S2"),
            segment(3_725_000, 3_730_000, "Gracias.", "S1"),
        ],
        speakers: vec![
            Speaker { id: "S1".into(), name: "José Núñez".into() },
            Speaker { id: "S2".into(), name: "Σωκράτης".into() },
        ],
        overlaps: Vec::new(),
    }
}

fn document() -> Document {
    // 2026-03-04T10:00:00Z
    Document::new("https://media.example.org/podcasts/entrevista%20final.mp3", 1_772_618_400_000)
}

/// The PDF's text as `pdftotext -layout` extracts it (poppler-utils, which
/// `scripts/setup.sh --dev` installs).
fn extract_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("transcript.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let output = Command::new(PDFTOTEXT).arg("-layout").arg(&path).arg("-").output().expect("run pdftotext");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.trim().is_empty(), "pdftotext: {stderr}");
    String::from_utf8(output.stdout).expect("pdftotext writes UTF-8")
}

/// Collapses runs of spaces, as `-layout` pads columns.
fn squeeze(text: &str) -> String {
    text.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n")
}

#[test]
fn text_speakers_timestamps_and_heading_extract_as_written() {
    let pdf = render_pdf(&two_speakers(), &document()).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let text = extract_text(&pdf);
    let text = squeeze(&text);
    for expected in [
        "Transcript: entrevista final.mp3",
        "Source https://media.example.org/podcasts/entrevista%20final.mp3",
        "Date 2026-03-04",
        "Duration 0:05:12",
        "Language ru",
        "Speakers José Núñez, Σωκράτης",
        "[00:00:00] José Núñez",
        "Buenos días, señoras y señores. Hoy hablamos de la mañana.",
        "[00:01:23] Σωκράτης",
        "Пётр пришёл домой. Γνῶθι σεαυτόν, είπε ο δάσκαλος.",
        "[01:02:05] José Núñez",
        "Gracias.",
        "Page 1 of 1",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
}

#[test]
fn a_long_transcript_flows_onto_numbered_pages_and_keeps_every_word() {
    let sentence = "Пётр пришёл домой, and José Núñez talked with Σωκράτης about the weather for a while.";
    let segments = (0..240u64)
        .map(|i| {
            segment(i * 5_000, i * 5_000 + 4_500, &format!("{i:03} {sentence}"), ["S1", "S2"][(i / 3 % 2) as usize])
        })
        .collect();
    let t = Transcript { segments, duration_ms: 1_200_000, ..two_speakers() };
    let pdf = render_pdf(&t, &document()).expect("pdf");
    let text = extract_text(&pdf);
    let pages: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    assert!(pages.len() >= 4, "{} pages", pages.len());
    for (i, page) in pages.iter().enumerate() {
        let footer = format!("Page {} of {}", i + 1, pages.len());
        assert!(page.contains(&footer), "page {} lacks {footer:?}:\n{page}", i + 1);
    }
    let words = squeeze(&text);
    for i in 0..240 {
        assert!(words.contains(&format!("{i:03} Пётр пришёл")), "segment {i} missing");
    }
    assert!(words.contains("[00:19:45] Σωκράτης"), "last heading missing");
    // Subset fonts: the file holds the glyphs it uses, not both whole faces.
    assert!(pdf.len() < 150_000, "{} bytes", pdf.len());
}

#[test]
fn an_empty_transcript_is_still_a_valid_one_page_document() {
    let pdf = render_pdf(&Transcript::default(), &Document::default()).expect("pdf");
    let text = extract_text(&pdf);
    let text = squeeze(&text);
    assert!(text.contains("Transcript"), "{text}");
    assert!(text.contains("No speech was transcribed."), "{text}");
    assert!(text.contains("Page 1 of 1"), "{text}");
}

#[test]
fn unlabelled_speakers_characters_without_glyphs_and_long_words_still_render() {
    let mut t = two_speakers();
    t.speakers = vec![Speaker::numbered(0)];
    t.segments = vec![Segment {
        end_ms: 2_000,
        text: format!("日本 tab\there {} end", "ü".repeat(400)),
        speaker: Some("S1".into()),
        ..Segment::default()
    }];
    let pdf = render(&t, ExportFormat::Pdf, &CueOptions::default(), &Document::new("talk.wav", 0)).expect("pdf");
    let text = extract_text(&pdf);
    let text = squeeze(&text);
    assert!(!text.contains("Speaker 1"), "a lone unnamed speaker is not labelled:\n{text}");
    assert!(!text.contains("Speakers"), "{text}");
    assert!(text.contains("[00:00:00]\n"), "{text}");
    assert!(text.contains("\u{FFFD}\u{FFFD} tab here\nüüü"), "{text}");
    assert_eq!(text.matches('ü').count(), 400, "{text}");
    assert!(text.contains("Transcript: talk.wav"), "{text}");
}
