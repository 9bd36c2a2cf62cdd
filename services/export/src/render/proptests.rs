//! Property tests over arbitrary transcripts with monotonic times.

use proptest::prelude::*;
use steno_runtime::transcript::{Segment, Speaker, Transcript, Word};

use super::{Cue, CueOptions, Document, ExportFormat, build_cues, render, render_text, speaker_display_name};

const SPEAKER_IDS: [&str; 3] = ["S0", "S1", "S2"];

fn word_text() -> impl Strategy<Value = String> {
    prop_oneof![9 => "[a-zA-Z0-9&<>',.!?-]{1,12}", 1 => "[a-z]{13,70}"]
}

fn speaker_id() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.5, prop::sample::select(&SPEAKER_IDS[..]).prop_map(str::to_owned))
}

/// A segment with times relative to its start: (gap before, duration, text) per word.
type RawSegment = (u64, Vec<(u64, u64, String, Option<String>)>, bool, Option<String>, f32);

fn raw_segment() -> impl Strategy<Value = RawSegment> {
    let word = (
        0u64..1500,
        prop_oneof![1 => Just(0u64), 4 => 0u64..3000],
        word_text(),
        prop::option::weighted(0.1, speaker_id().prop_filter_map("some", |s| s)),
    );
    (0u64..5000, prop::collection::vec(word, 0..10), any::<bool>(), speaker_id(), -5.0f32..0.0)
}

fn transcript() -> impl Strategy<Value = Transcript> {
    let names = prop::collection::vec(prop::option::of("[A-Z][a-z]{0,6}( [A-Z][a-z]{0,6})?"), 3);
    (prop::collection::vec(raw_segment(), 0..8), names, "[a-z]{2}").prop_map(|(raw, names, language)| {
        let mut now = 0;
        let mut segments = Vec::new();
        for (gap, raw_words, keep_words, speaker, avg_logprob) in raw {
            now += gap;
            let start_ms = now;
            let words: Vec<Word> = raw_words
                .into_iter()
                .map(|(gap, dur, text, speaker)| {
                    now += gap;
                    let w = Word { start_ms: now, end_ms: now + dur, text, probability: 0.5, speaker };
                    now += dur;
                    w
                })
                .collect();
            let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
            let words = if keep_words { words } else { Vec::new() };
            segments.push(Segment { start_ms, end_ms: now, text, avg_logprob, words, speaker, ..Segment::default() });
        }
        let speakers = SPEAKER_IDS
            .iter()
            .zip(names)
            .filter_map(|(id, name)| Some(Speaker { id: (*id).to_owned(), name: name? }))
            .collect();
        Transcript { language, duration_ms: now, segments, speakers, overlaps: Vec::new() }
    })
}

fn options() -> impl Strategy<Value = CueOptions> {
    (1usize..60, 1usize..4, prop_oneof![1 => 1u64..1000, 4 => 1000u64..10_000], 0u64..2000, 1u32..30).prop_map(
        |(max_line_chars, max_lines, max_cue_ms, min_cue_ms, max_chars_per_second)| CueOptions {
            max_line_chars,
            max_lines,
            max_cue_ms,
            min_cue_ms: min_cue_ms.min(max_cue_ms),
            max_chars_per_second,
        },
    )
}

/// Parses `HH:MM:SS<sep>mmm` without regexes.
fn parse_timestamp(s: &str, sep: char) -> Option<u64> {
    let (hms, millis) = s.split_once(sep)?;
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok().filter(|_| p.len() >= 2));
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() || millis.len() != 3 || m >= 60 || sec >= 60 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000 + millis.parse::<u64>().ok()?)
}

/// Parses one cue block's timing line `A --> B`.
fn parse_timing(line: &str, sep: char) -> (u64, u64) {
    let (a, b) = line.split_once(" --> ").expect("timing line");
    (parse_timestamp(a, sep).expect("start"), parse_timestamp(b, sep).expect("end"))
}

/// Every input word with the display name of its speaker, in order.
fn expected_words(t: &Transcript) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for s in &t.segments {
        let name = |id: Option<&String>| id.map(|id| speaker_display_name(t, id));
        if s.words.is_empty() {
            out.extend(s.text.split_whitespace().map(|w| (w.to_owned(), name(s.speaker.as_ref()))));
        } else {
            for w in &s.words {
                out.push((w.text.clone(), name(w.speaker.as_ref().or(s.speaker.as_ref()))));
            }
        }
    }
    out
}

fn check_cues(t: &Transcript, opts: &CueOptions, cues: &[Cue]) -> Result<(), TestCaseError> {
    let mut prev_end = 0;
    let mut seen = Vec::new();
    for cue in cues {
        prop_assert!(cue.start_ms >= prev_end && cue.end_ms > cue.start_ms, "{cue:?} after {prev_end}");
        prev_end = cue.end_ms;
        prop_assert!(!cue.lines.is_empty() && cue.lines.len() <= opts.max_lines, "{cue:?}");
        for line in &cue.lines {
            let chars = line.chars().count();
            prop_assert!(chars <= opts.max_line_chars || !line.contains(' '), "line {line:?}");
        }
        let single_word = cue.lines.len() == 1 && !cue.lines[0].contains(' ');
        prop_assert!(cue.end_ms - cue.start_ms <= opts.max_cue_ms || single_word, "{cue:?}");
        for line in &cue.lines {
            seen.extend(line.split(' ').map(|w| (w.to_owned(), cue.speaker.clone())));
        }
    }
    prop_assert_eq!(seen, expected_words(t));
    check_broadcast_rules(t, opts, cues)
}

/// The rules people expect of shipped subtitles (see `cues.rs`).
fn check_broadcast_rules(t: &Transcript, opts: &CueOptions, cues: &[Cue]) -> Result<(), TestCaseError> {
    for (i, cue) in cues.iter().enumerate() {
        let lasts = cue.end_ms - cue.start_ms;
        // Timing allows more only up to the next cue's start.
        let crowded = cues.get(i + 1).is_some_and(|next| next.start_ms == cue.end_ms);
        prop_assert!(lasts >= opts.min_cue_ms || crowded, "shorter than min_cue_ms: {cue:?}");
        let readable = cue.chars() as u64 * 1000 <= u64::from(opts.max_chars_per_second) * lasts;
        prop_assert!(readable || crowded || lasts >= opts.max_cue_ms, "too fast to read: {cue:?}");
        // Lines: as few as fit, and balanced (no other break has a shorter longest line).
        let words: Vec<&str> = cue.lines.iter().flat_map(|l| l.split(' ')).collect();
        if cue.lines.len() == 2 {
            let longest = |lines: &[String]| lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
            let best =
                (1..words.len()).map(|k| longest(&[words[..k].join(" "), words[k..].join(" ")])).min().unwrap_or(0);
            prop_assert_eq!(longest(&cue.lines), best, "unbalanced lines {:?}", cue.lines);
        }
    }
    // No cue of one or two words that a neighbour in the same run could take.
    let tokens = super::cues::tokens(t);
    let mut at = 0;
    let mut ranges = Vec::new();
    for cue in cues {
        let n = cue.lines.iter().map(|l| l.split(' ').count()).sum::<usize>();
        ranges.push(at..at + n);
        at += n;
    }
    let mut run_of = vec![0; tokens.len()];
    let mut start = 0;
    for (r, run) in super::cues::runs(&tokens).iter().enumerate() {
        run_of[start..start + run.len()].fill(r);
        start += run.len();
    }
    for pair in ranges.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let same_run = run_of[a.start] == run_of[b.start];
        if same_run && (a.len() <= 2 || b.len() <= 2) {
            let merged = &tokens[a.start..b.end];
            prop_assert!(!super::cues::fits(merged, opts), "cues {a:?} and {b:?} could be one");
        }
    }
    Ok(())
}

proptest! {
    // No regression files: failures print their minimal input instead.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn cues_respect_limits_and_keep_every_word(t in transcript(), opts in options()) {
        check_cues(&t, &opts, &build_cues(&t, &opts))?;
    }

    #[test]
    fn srt_parses_back_to_the_cues(t in transcript(), opts in options()) {
        let cues = build_cues(&t, &opts);
        let srt = render_text(&t, ExportFormat::Srt, &opts);
        let blocks: Vec<&str> = if srt.is_empty() { Vec::new() } else { srt.split("\n\n").collect() };
        prop_assert_eq!(blocks.len(), cues.len());
        for (i, (block, cue)) in blocks.iter().zip(&cues).enumerate() {
            let mut lines = block.trim_end_matches('\n').split('\n');
            let index = (i + 1).to_string();
            prop_assert_eq!(lines.next(), Some(index.as_str()));
            let timing = parse_timing(lines.next().unwrap_or_default(), ',');
            prop_assert_eq!(timing, (cue.start_ms, cue.end_ms));
            let mut expected = cue.lines.clone();
            if let Some(name) = &cue.speaker {
                expected[0] = format!("{name}: {}", expected[0]);
            }
            prop_assert_eq!(lines.collect::<Vec<_>>(), expected);
        }
    }

    #[test]
    fn vtt_parses_back_to_the_cues(t in transcript(), opts in options()) {
        let cues = build_cues(&t, &opts);
        let vtt = render_text(&t, ExportFormat::Vtt, &opts);
        let body = vtt.strip_prefix("WEBVTT\n").expect("header");
        let blocks: Vec<&str> = match body.strip_prefix('\n') {
            Some(cues_text) => cues_text.split("\n\n").collect(),
            None => Vec::new(),
        };
        prop_assert!(!body.is_empty() || cues.is_empty());
        prop_assert_eq!(blocks.len(), cues.len());
        for (block, cue) in blocks.iter().zip(&cues) {
            let mut lines = block.trim_end_matches('\n').split('\n');
            let timing = parse_timing(lines.next().unwrap_or_default(), '.');
            prop_assert_eq!(timing, (cue.start_ms, cue.end_ms));
            let text: Vec<String> = lines.map(|l| l.to_owned()).collect();
            prop_assert!(text.iter().all(|l| !l.contains('&') || l.contains("&amp;") || l.contains("&lt;") || l.contains("&gt;")));
            let mut expected: Vec<String> = cue.lines.iter().map(|l| super::vtt::escape(l)).collect();
            if let Some(name) = &cue.speaker {
                expected[0] = format!("<v {}>{}", super::vtt::escape(name), expected[0]);
            }
            prop_assert_eq!(text, expected);
        }
    }

    #[test]
    fn json_round_trips(t in transcript()) {
        let json = render_text(&t, ExportFormat::Json, &CueOptions::default());
        let back: Transcript = serde_json::from_str(&json).expect("valid transcript JSON");
        prop_assert_eq!(back, t);
    }

    #[test]
    fn txt_keeps_every_word_in_order(t in transcript()) {
        let txt = render_text(&t, ExportFormat::Txt, &CueOptions::default());
        let mut tokens = txt.split_whitespace();
        for (word, _) in expected_words(&t) {
            prop_assert!(tokens.any(|tok| tok == word), "missing {word:?} in {txt:?}");
        }
    }
}

proptest! {
    // Each case runs pdftotext, so fewer of them.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn pdf_keeps_every_word_in_order(t in transcript()) {
        let pdf = render(&t, ExportFormat::Pdf, &CueOptions::default(), &Document::new("a.wav", 1)).expect("render");
        prop_assert!(pdf.starts_with(b"%PDF-") && pdf.trim_ascii_end().ends_with(b"%%EOF"));
        // pdftotext decides where spaces go from glyph gaps ("a ," comes
        // back "a,"), so the words are sought in order in the text without them.
        let text: String = pdf_text(&pdf).split_whitespace().collect();
        let mut rest = text.as_str();
        for (word, _) in expected_words(&t) {
            let at = rest.find(word.as_str());
            prop_assert!(at.is_some(), "missing {word:?} in order in {text:?}");
            rest = &rest[at.unwrap_or(0) + word.len()..];
        }
    }
}

/// The PDF's text as `pdftotext -layout` reads it (without `-layout` it
/// joins a line ending in `-` to the next); poppler-utils must be installed.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("t.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let output = std::process::Command::new("/usr/bin/pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .expect("run pdftotext (poppler-utils)");
    assert!(output.status.success(), "pdftotext: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}
