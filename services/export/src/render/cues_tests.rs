//! Exact-output tests for the cue layout.

use steno_runtime::transcript::{Segment, Speaker, Transcript, Word};

use super::{Cue, CueOptions, build_cues};

fn word(start_ms: u64, end_ms: u64, text: &str) -> Word {
    Word { start_ms, end_ms, text: text.into(), probability: 0.9, speaker: None }
}

fn seg(words: Vec<Word>, speaker: Option<&str>) -> Segment {
    let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
    Segment {
        start_ms: words.first().map_or(0, |w| w.start_ms),
        end_ms: words.last().map_or(0, |w| w.end_ms),
        text,
        avg_logprob: -0.2,
        words,
        speaker: speaker.map(str::to_owned),
        ..Segment::default()
    }
}

fn opts(max_line_chars: usize, max_lines: usize, max_cue_ms: u64) -> CueOptions {
    CueOptions { max_line_chars, max_lines, max_cue_ms }
}

fn cue(start_ms: u64, end_ms: u64, lines: &[&str], speaker: Option<&str>) -> Cue {
    Cue { start_ms, end_ms, lines: lines.iter().map(|l| l.to_string()).collect(), speaker: speaker.map(str::to_owned) }
}

#[test]
fn wraps_lines_and_cues_at_word_boundaries() {
    let words = ["aa", "bbb", "cc", "dddd", "e"]
        .iter()
        .enumerate()
        .map(|(i, w)| word(i as u64 * 100, i as u64 * 100 + 90, w))
        .collect();
    let t = Transcript { segments: vec![seg(words, None)], ..Transcript::default() };
    assert_eq!(
        build_cues(&t, &opts(6, 2, 10_000)),
        vec![cue(0, 290, &["aa bbb", "cc"], None), cue(300, 490, &["dddd e"], None)]
    );
}

#[test]
fn long_word_gets_own_line_and_duration_limit_splits() {
    let words = vec![word(0, 100, "a"), word(100, 200, "abcdefghij"), word(200, 300, "b"), word(300, 1500, "c")];
    let t = Transcript { segments: vec![seg(words, None)], ..Transcript::default() };
    assert_eq!(
        build_cues(&t, &opts(4, 3, 1000)),
        vec![cue(0, 300, &["a", "abcdefghij", "b"], None), cue(300, 1500, &["c"], None)]
    );
}

#[test]
fn speakers_and_segments_never_share_a_cue() {
    let mut w = word(200, 300, "yo");
    w.speaker = Some("S1".into());
    let t = Transcript {
        segments: vec![seg(vec![word(0, 100, "hi"), w], Some("S0")), seg(vec![word(400, 500, "ok")], Some("S0"))],
        speakers: vec![Speaker { id: "S0".into(), name: "Ann".into() }],
        ..Transcript::default()
    };
    assert_eq!(
        build_cues(&t, &CueOptions::default()),
        vec![
            cue(0, 100, &["hi"], Some("Ann")),
            cue(200, 300, &["yo"], Some("S1")),
            cue(400, 500, &["ok"], Some("Ann")),
        ]
    );
}

#[test]
fn segment_without_words_is_split_by_characters() {
    let t = Transcript {
        segments: vec![Segment { start_ms: 1000, end_ms: 2000, text: " abc  de\nfghij ".into(), ..Segment::default() }],
        ..Transcript::default()
    };
    assert_eq!(
        build_cues(&t, &opts(6, 1, 10_000)),
        vec![cue(1000, 1500, &["abc de"], None), cue(1500, 2000, &["fghij"], None)]
    );
}

#[test]
fn timing_is_fixed_up() {
    let words = vec![word(500, 500, "zero"), word(400, 450, "back"), word(2000, 1000, "inv")];
    let t = Transcript { segments: vec![seg(words, None)], ..Transcript::default() };
    // One word per cue; "back" starts before "zero" and is pushed after it.
    let cues = build_cues(&t, &opts(1, 1, 10_000));
    assert_eq!(
        cues,
        vec![cue(500, 1000, &["zero"], None), cue(1000, 1500, &["back"], None), cue(2000, 2500, &["inv"], None)]
    );
}

#[test]
fn zero_length_cue_stops_at_next_cue() {
    let t = Transcript {
        segments: vec![seg(vec![word(100, 100, "a")], None), seg(vec![word(300, 400, "b")], None)],
        ..Transcript::default()
    };
    let cues = build_cues(&t, &CueOptions::default());
    assert_eq!(cues, vec![cue(100, 300, &["a"], None), cue(300, 400, &["b"], None)]);
}
