//! Pretty JSON (`.json`) writer.
//!
//! The output is the transcript document itself plus a `speaker_name` next
//! to every `speaker` id, so it still deserializes as a `Transcript`.

use serde::Serialize;
use steno_runtime::transcript::{Overlap, Segment, Speaker, Transcript, Word};

use super::speaker_display_name;

#[derive(Serialize)]
struct JsonTranscript<'a> {
    language: &'a str,
    duration_ms: u64,
    segments: Vec<JsonSegment<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    speakers: &'a [Speaker],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    overlaps: &'a [Overlap],
}

#[derive(Serialize)]
struct JsonSegment<'a> {
    start_ms: u64,
    end_ms: u64,
    text: &'a str,
    avg_logprob: f32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    words: Vec<JsonWord<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    speaker: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    speaker_name: Option<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tokens: &'a [i32],
    temperature: f32,
    no_speech_prob: f32,
    compression_ratio: f32,
}

#[derive(Serialize)]
struct JsonWord<'a> {
    start_ms: u64,
    end_ms: u64,
    text: &'a str,
    probability: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    speaker: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    speaker_name: Option<String>,
}

/// Renders the transcript as pretty JSON with speaker display names resolved.
/// Non-finite scores (which JSON cannot hold) are written as finite values.
pub fn render_json(t: &Transcript) -> Result<String, serde_json::Error> {
    let doc = JsonTranscript {
        language: &t.language,
        duration_ms: t.duration_ms,
        segments: t.segments.iter().map(|s| json_segment(t, s)).collect(),
        speakers: &t.speakers,
        overlaps: &t.overlaps,
    };
    let mut out = serde_json::to_string_pretty(&doc)?;
    out.push('\n');
    Ok(out)
}

fn json_segment<'a>(t: &Transcript, s: &'a Segment) -> JsonSegment<'a> {
    JsonSegment {
        start_ms: s.start_ms,
        end_ms: s.end_ms,
        text: &s.text,
        avg_logprob: finite(s.avg_logprob),
        words: s.words.iter().map(|w| json_word(t, w)).collect(),
        speaker: s.speaker.as_deref(),
        speaker_name: s.speaker.as_deref().map(|id| speaker_display_name(t, id)),
        tokens: &s.tokens,
        temperature: finite(s.temperature),
        no_speech_prob: finite(s.no_speech_prob),
        compression_ratio: finite(s.compression_ratio),
    }
}

fn json_word<'a>(t: &Transcript, w: &'a Word) -> JsonWord<'a> {
    JsonWord {
        start_ms: w.start_ms,
        end_ms: w.end_ms,
        text: &w.text,
        probability: finite(w.probability),
        speaker: w.speaker.as_deref(),
        speaker_name: w.speaker.as_deref().map(|id| speaker_display_name(t, id)),
    }
}

/// NaN becomes 0, infinities the largest finite value of their sign.
fn finite(x: f32) -> f32 {
    if x.is_nan() { 0.0 } else { x.clamp(f32::MIN, f32::MAX) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_output_and_round_trip() {
        let t = Transcript {
            language: "en".into(),
            duration_ms: 2000,
            segments: vec![Segment {
                start_ms: 0,
                end_ms: 1000,
                text: "Hi".into(),
                avg_logprob: -0.5,
                words: vec![Word { start_ms: 0, end_ms: 900, text: "Hi".into(), probability: 0.75, speaker: None }],
                speaker: Some("S0".into()),
                tokens: vec![17250],
                temperature: 0.0,
                no_speech_prob: 0.25,
                compression_ratio: 0.5,
            }],
            speakers: vec![Speaker { id: "S0".into(), name: "Ann".into() }],
            overlaps: vec![Overlap { start_ms: 400, end_ms: 700, speakers: vec!["S0".into(), "S1".into()] }],
        };
        let out = render_json(&t).expect("render");
        let expected = r#"{
  "language": "en",
  "duration_ms": 2000,
  "segments": [
    {
      "start_ms": 0,
      "end_ms": 1000,
      "text": "Hi",
      "avg_logprob": -0.5,
      "words": [
        {
          "start_ms": 0,
          "end_ms": 900,
          "text": "Hi",
          "probability": 0.75
        }
      ],
      "speaker": "S0",
      "speaker_name": "Ann",
      "tokens": [
        17250
      ],
      "temperature": 0.0,
      "no_speech_prob": 0.25,
      "compression_ratio": 0.5
    }
  ],
  "speakers": [
    {
      "id": "S0",
      "name": "Ann"
    }
  ],
  "overlaps": [
    {
      "start_ms": 400,
      "end_ms": 700,
      "speakers": [
        "S0",
        "S1"
      ]
    }
  ]
}
"#;
        assert_eq!(out, expected);
        assert_eq!(serde_json::from_str::<Transcript>(&out).expect("round trip"), t);
    }

    #[test]
    fn non_finite_scores_stay_valid_json() {
        let t = Transcript {
            segments: vec![Segment { avg_logprob: f32::NEG_INFINITY, ..Segment::default() }],
            ..Transcript::default()
        };
        let back: Transcript = serde_json::from_str(&render_json(&t).expect("render")).expect("valid JSON");
        assert_eq!(back.segments[0].avg_logprob, f32::MIN);
    }
}
