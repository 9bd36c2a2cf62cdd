//! Who spoke when, through the whole system: a three-speaker flite
//! conversation is diarized by default, the SRT's speaker labels match the
//! known turns, a job's speaker count is honoured, naming the speakers
//! (REST and gRPC) changes every export, and where two people talk at once
//! the RTTM and the JSON say so.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    conversations::{self, RefTurn},
    harness::System,
};

const JOB_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread")]
async fn speakers_are_labelled_by_default_and_can_be_named() {
    let meeting = conversations::three_speaker_meeting();
    let system = System::start().await;
    let api = system.api();

    let (status, job) = api.upload(&meeting.wav, &[]).await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    assert_eq!(job["options"]["diarize"], true, "diarization is on by default: {job}");
    let (status, two) = api.upload(&meeting.wav, &[("num_speakers", "2"), ("formats", "json")]).await;
    assert_eq!(status, 201, "{two}");
    let two = two["id"].as_str().expect("id").to_owned();
    let talking_over = conversations::overlapping_conversation();
    let (status, over) = api.upload(&talking_over.wav, &[("formats", "json")]).await;
    assert_eq!(status, 201, "{over}");
    let over = over["id"].as_str().expect("id").to_owned();

    for job in [&id, &two, &over] {
        let finished = api.finished(job, JOB_TIMEOUT).await;
        assert_eq!(finished["status"], "completed", "{finished}\n{}", system.logs());
    }

    // The SRT's labels against the known turns.
    let srt = api.transcript(&id, "srt").await;
    let (hypothesis, names) = srt_speaker_turns(&srt);
    assert_eq!(names.len(), 3, "three speakers expected, found {names:?}:\n{srt}");
    let der = conversations::diarization_error_rate(&meeting.turns, &hypothesis);
    assert!(der.der <= 0.15, "DER {der:?} above 15%:\n{srt}");

    let (status, rttm) = api.get(&format!("/v1/jobs/{id}/speakers.rttm")).await;
    assert_eq!(status, 200, "{rttm}");
    assert!(rttm.lines().count() >= 3 && rttm.lines().all(|l| l.starts_with(&format!("SPEAKER {id} 1 "))), "{rttm}");

    // Every word carries a speaker in JSON; the job asking for two got two.
    let json: Value = serde_json::from_str(&api.transcript(&id, "json").await).expect("json");
    let words = json["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .flat_map(|s| s["words"].as_array().cloned().unwrap_or_default());
    assert!(words.into_iter().all(|w| w["speaker"].is_string()), "{json}");
    let json: Value = serde_json::from_str(&api.transcript(&two, "json").await).expect("json");
    assert_eq!(json["speakers"].as_array().map(Vec::len), Some(2), "num_speakers 2: {}", json["speakers"]);
    assert!(json.get("overlaps").is_none(), "the meeting's voices never overlap: {}", json["overlaps"]);
    overlaps_are_marked(&api, &over, talking_over).await;

    // Naming speakers re-renders every export.
    let patch = |body: Value| {
        let request = api.http.patch(format!("{}/v1/jobs/{id}/speakers", api.base)).json(&body);
        async move {
            let response = request.send().await.expect("patch");
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = patch(json!({ "S1": "Ann", "S2": "Bob", "S3": "Cleo" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["speakers"][1], json!({ "id": "S2", "name": "Bob" }));
    let srt = api.transcript(&id, "srt").await;
    assert!(srt.contains("Ann: ") && srt.contains("Bob: ") && srt.contains("Cleo: "), "{srt}");
    assert!(!srt.contains("Speaker 1"), "{srt}");
    assert!(api.transcript(&id, "vtt").await.contains("<v Cleo>"));
    assert!(api.transcript(&id, "txt").await.contains("Bob: "));
    let (status, body) = patch(json!({ "S7": "Zed" })).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("speakers")), "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("S1, S2, S3"), "{body}");

    // The same over gRPC.
    let mut grpc = system.grpc_client().await;
    let request =
        steno_proto::v1::RenameSpeakersRequest { id: id.clone(), names: [("S3".into(), "Dee".into())].into() };
    let renamed = grpc.rename_speakers(request).await.expect("RenameSpeakers").into_inner();
    assert_eq!(renamed.speakers[2].name, "Dee");
    assert!(api.transcript(&id, "srt").await.contains("Dee: "));

    system.stop().await;
}

/// The job of `conversation` (two voices, talking over each other at
/// times): its JSON's `overlaps` name two different speakers and cover at
/// least half of the known overlapped speech, at least half of what they
/// cover being overlapped; its RTTM has lines of two speakers at once.
async fn overlaps_are_marked(api: &crate::api::Api, id: &str, conversation: &conversations::Conversation) {
    let json: Value = serde_json::from_str(&api.transcript(id, "json").await).expect("json");
    let overlaps = json["overlaps"].as_array().cloned().unwrap_or_default();
    assert!(!overlaps.is_empty(), "no overlaps marked: {json}");
    let mut found = Vec::new();
    for o in &overlaps {
        let speakers: Vec<&str> =
            o["speakers"].as_array().expect("speakers").iter().filter_map(Value::as_str).collect();
        assert!(speakers.len() == 2 && speakers[0] != speakers[1], "{o}");
        let (start, end) = (o["start_ms"].as_u64().expect("start"), o["end_ms"].as_u64().expect("end"));
        found.push(start..end);
    }
    // The known overlapped speech: where two reference turns meet.
    let turns = &conversation.turns;
    let known: Vec<_> = turns
        .iter()
        .enumerate()
        .flat_map(|(i, a)| turns[i + 1..].iter().map(move |b| a.start_ms.max(b.start_ms)..a.end_ms.min(b.end_ms)))
        .filter(|r| r.start < r.end)
        .collect();
    let total = |ranges: &[std::ops::Range<u64>]| ranges.iter().map(|r| r.end - r.start).sum::<u64>();
    let shared: u64 = known
        .iter()
        .flat_map(|k| found.iter().map(move |f| f.end.min(k.end).saturating_sub(f.start.max(k.start))))
        .sum();
    let (recall, precision) = (shared as f64 / total(&known) as f64, shared as f64 / total(&found) as f64);
    assert!(
        recall >= 0.5 && precision >= 0.5,
        "overlap recall {recall:.2}, precision {precision:.2}: found {found:?}, known {known:?}"
    );

    let (status, rttm) = api.get(&format!("/v1/jobs/{id}/speakers.rttm")).await;
    assert_eq!(status, 200, "{rttm}");
    let lines: Vec<(f64, f64, &str)> = rttm
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let start: f64 = fields[3].parse().expect("start");
            (start, start + fields[4].parse::<f64>().expect("duration"), fields[7])
        })
        .collect();
    let at_once =
        lines.iter().enumerate().any(|(i, a)| lines[i + 1..].iter().any(|b| b.0 < a.1 && a.0 < b.1 && a.2 != b.2));
    assert!(at_once, "no two speakers at once in the RTTM:\n{rttm}");
}

/// Speaker turns of an SRT whose cues start `Name: ` when the speaker
/// changes, as reference-style turns; and the names in order of appearance.
fn srt_speaker_turns(srt: &str) -> (Vec<RefTurn>, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let mut turns = Vec::new();
    for cue in srt.split("\n\n").filter(|c| !c.trim().is_empty()) {
        let lines: Vec<&str> = cue.lines().collect();
        let Some((start, end)) = lines.get(1).and_then(|t| t.split_once(" --> ")) else { continue };
        let Some((name, _)) = lines.get(2).and_then(|l| l.split_once(": ")) else { continue };
        let speaker = names.iter().position(|n| n == name).unwrap_or_else(|| {
            names.push(name.to_owned());
            names.len() - 1
        });
        turns.push(RefTurn { start_ms: srt_ms(start), end_ms: srt_ms(end), speaker });
    }
    (turns, names)
}

fn srt_ms(timestamp: &str) -> u64 {
    let (hms, ms) = timestamp.trim().split_once(',').expect("SRT timestamp");
    let parts: Vec<u64> = hms.split(':').map(|p| p.parse().expect("number")).collect();
    ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000 + ms.parse::<u64>().expect("millis")
}
