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
    CueOptions { max_line_chars, max_lines, max_cue_ms, min_cue_ms: 0, max_chars_per_second: 1000 }
}

fn cue(start_ms: u64, end_ms: u64, lines: &[&str], speaker: Option<&str>) -> Cue {
    Cue { start_ms, end_ms, lines: lines.iter().map(|l| l.to_string()).collect(), speaker: speaker.map(str::to_owned) }
}

/// Words said one after another, `ms` each, from 0.
fn said(text: &str, ms: u64) -> Vec<Word> {
    text.split(' ').enumerate().map(|(i, w)| word(i as u64 * ms, (i as u64 + 1) * ms, w)).collect()
}

fn texts(cues: &[Cue]) -> Vec<String> {
    cues.iter().map(|c| c.lines.join(" / ")).collect()
}

#[test]
fn cues_end_at_sentence_ends_rather_than_arbitrary_words() {
    let t = Transcript {
        segments: vec![seg(said("We met at noon. Then we walked along the river to the old mill", 300), None)],
        ..Transcript::default()
    };
    let cues = build_cues(&t, &opts(40, 1, 10_000));
    assert_eq!(texts(&cues), ["We met at noon.", "Then we walked along the river to", "the old mill"]);
    // With room for two lines the sentence end still ends a cue.
    let cues = build_cues(&t, &opts(30, 2, 10_000));
    assert_eq!(texts(&cues), ["We met at noon.", "Then we walked along the / river to the old mill"]);
}

#[test]
fn a_clause_end_or_a_pause_is_preferred_to_a_mid_clause_split() {
    let mut words = said("first part of it, second part here and more words after", 250);
    let t = Transcript { segments: vec![seg(words.clone(), None)], ..Transcript::default() };
    assert_eq!(texts(&build_cues(&t, &opts(40, 1, 10_000)))[0], "first part of it,");
    // A 0.8 s pause after "here" wins over the comma.
    for w in &mut words[7..] {
        w.start_ms += 800;
        w.end_ms += 800;
    }
    let t = Transcript { segments: vec![seg(words, None)], ..Transcript::default() };
    assert_eq!(texts(&build_cues(&t, &opts(40, 1, 10_000)))[0], "first part of it, second part here");
}

#[test]
fn no_cue_of_one_or_two_words_when_a_neighbour_can_take_them() {
    // 12 words over 7.2 s with a 7 s limit: greedy packing left "twelve"
    // alone for 0.6 s; the split is moved so both cues hold several words.
    let t = Transcript {
        segments: vec![seg(said("one two three four five six seven eight nine ten eleven twelve", 600), None)],
        ..Transcript::default()
    };
    let cues = build_cues(&t, &opts(42, 2, 7000));
    assert_eq!(cues.len(), 2);
    assert!(cues.iter().all(|c| c.lines.join(" ").split(' ').count() >= 3), "{cues:?}");
    // A short segment joins its neighbour when they fit together.
    let t = Transcript {
        segments: vec![
            seg(said("Yes.", 300), None),
            seg(vec![word(400, 700, "Right"), word(700, 1000, "away.")], None),
        ],
        ..Transcript::default()
    };
    assert_eq!(texts(&build_cues(&t, &CueOptions::default())), ["Yes. Right away."]);
}

#[test]
fn lines_are_balanced() {
    let t = Transcript { segments: vec![seg(said("a bb ccc dddd eeeee", 100), None)], ..Transcript::default() };
    assert_eq!(build_cues(&t, &opts(15, 2, 10_000))[0].lines, ["a bb ccc", "dddd eeeee"]);
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
fn speakers_and_pauses_end_cues() {
    let mut w = word(200, 300, "yo");
    w.speaker = Some("S1".into());
    let t = Transcript {
        segments: vec![
            seg(vec![word(0, 100, "hi"), w], Some("S0")),
            seg(vec![word(400, 500, "ok")], Some("S0")),
            seg(vec![word(500, 600, "then")], Some("S0")),
            seg(vec![word(2100, 2200, "later")], Some("S0")),
        ],
        speakers: vec![Speaker { id: "S0".into(), name: "Ann".into() }],
        ..Transcript::default()
    };
    assert_eq!(
        build_cues(&t, &opts(42, 2, 7000)),
        vec![
            cue(0, 100, &["hi"], Some("Ann")),
            cue(200, 300, &["yo"], Some("S1")),
            cue(400, 600, &["ok then"], Some("Ann")),
            cue(2100, 2200, &["later"], Some("Ann")),
        ]
    );
}

#[test]
fn cues_stay_up_long_enough_to_read_where_the_next_allows() {
    let t = Transcript {
        segments: vec![
            seg(vec![word(0, 100, "Hello.")], None),
            seg(
                said("This line has thirty-four letters.", 250)
                    .into_iter()
                    .map(|mut w| {
                        w.start_ms += 5000;
                        w.end_ms += 5000;
                        w
                    })
                    .collect(),
                None,
            ),
            seg(vec![word(8000, 8100, "Next.")], None),
        ],
        ..Transcript::default()
    };
    let cues = build_cues(&t, &CueOptions::default());
    // At least 0.833 s; 34 characters at 17 a second is 2 s, cut at the next cue.
    assert_eq!((cues[0].start_ms, cues[0].end_ms), (0, 833));
    assert_eq!((cues[1].start_ms, cues[1].end_ms), (5000, 7000));
    assert_eq!((cues[2].start_ms, cues[2].end_ms), (8000, 8833));
    let crowded = Transcript {
        segments: vec![seg(vec![word(0, 100, "Hi.")], Some("S0")), seg(vec![word(400, 500, "Yo.")], Some("S1"))],
        ..Transcript::default()
    };
    assert_eq!(build_cues(&crowded, &CueOptions::default())[0].end_ms, 400, "ends where the next begins");
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
    // One word per cue; "back" starts before "zero" and is pushed after it;
    // a zero-length cue is given the shortest time.
    let cues = build_cues(&t, &CueOptions { min_cue_ms: 500, ..opts(1, 1, 10_000) });
    assert_eq!(
        cues,
        vec![cue(500, 1000, &["zero"], None), cue(1000, 1500, &["back"], None), cue(2000, 2500, &["inv"], None)]
    );
}
