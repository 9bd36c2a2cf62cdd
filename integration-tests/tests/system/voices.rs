//! Known voices: two voices enrolled (`POST /v1/speakers`) from clips of
//! their own are named in another recording where they talk with a third
//! voice, which stays `Speaker N`; a clip too long fails with the reason;
//! another tenant neither sees the voices nor gets them in its jobs;
//! deleting a voice deletes its clip. Bob is enrolled and the voices
//! listed with the `steno voices` CLI.

use std::{collections::BTreeMap, path::Path, time::Duration};

use serde_json::Value;

use crate::{
    api::Api,
    conversations::{self, Conversation, RMS, SLT},
    fixtures::media_dir,
    harness::{System, bin_dir, wait_until},
};

const WAIT: Duration = Duration::from_secs(300);

fn steno(system: &System, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin_dir().join("steno"))
        .args(["--server", &system.http, "--api-key", &system.api_key])
        .args(args)
        .env_remove("STENO_HOME")
        .output()
        .expect("run steno")
}

async fn enrol(api: &Api, name: &str, clip: &Path) -> Value {
    let form = reqwest::multipart::Form::new().text("name", name.to_owned());
    let form = form.file("file", clip).await.expect("read clip");
    let response = api.http.post(format!("{}/v1/speakers", api.base)).multipart(form).send().await.expect("enrol");
    assert_eq!(response.status().as_u16(), 201, "enrol {name}");
    response.json().await.expect("voice JSON")
}

/// The voice once its enrolment has ended (ready or failed).
async fn settled(api: &Api, id: &str) -> Value {
    wait_until(&format!("voice {id} to be enrolled"), WAIT, || async {
        let (status, body) = api.get(&format!("/v1/speakers/{id}")).await;
        assert_eq!(status, 200, "{body}");
        let voice: Value = serde_json::from_str(&body).expect("voice JSON");
        (voice["status"] != "enrolling").then_some(voice)
    })
    .await
}

/// The name each of the meeting's voices (by reference speaker) got: the
/// transcript speaker most of whose segments fall in that voice's turns.
async fn names_by_voice(api: &Api, meeting: &Conversation) -> BTreeMap<usize, String> {
    let (status, job) = api.upload(&meeting.wav, &[("formats", "json")]).await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().expect("id");
    assert_eq!(api.finished(id, WAIT).await["status"], "completed");
    let (status, body) = api.get(&format!("/v1/jobs/{id}/transcript")).await;
    assert_eq!(status, 200, "{body}");
    let transcript: Value = serde_json::from_str(&body).expect("transcript JSON");
    let name_of = |speaker: &str| {
        transcript["speakers"].as_array().into_iter().flatten().find(|s| s["id"] == speaker).map(|s| s["name"].clone())
    };
    let mut votes: BTreeMap<usize, BTreeMap<String, usize>> = BTreeMap::new();
    for segment in transcript["segments"].as_array().expect("segments") {
        let middle = (segment["start_ms"].as_u64().unwrap_or(0) + segment["end_ms"].as_u64().unwrap_or(0)) / 2;
        let reference = meeting.turns.iter().find(|t| t.start_ms <= middle && middle < t.end_ms);
        if let (Some(turn), Some(Value::String(name))) = (reference, segment["speaker"].as_str().and_then(name_of)) {
            *votes.entry(turn.speaker).or_default().entry(name).or_default() += 1;
        }
    }
    votes.into_iter().filter_map(|(voice, names)| Some((voice, names.into_iter().max_by_key(|(_, n)| *n)?.0))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn voices_enrolled_from_one_recording_are_named_in_another() {
    let system = System::start().await;
    let api = system.api();
    let other = Api::new(&system.http, &system.create_key("voices-other", false));
    let meeting = conversations::three_speaker_meeting();
    assert_eq!(meeting.voices, [RMS, SLT, conversations::AWB]);

    let alice = enrol(&api, "Alice", &conversations::voice_clip("enrol-slt", SLT).wav).await;
    assert_eq!(alice["status"], "enrolling", "{alice}");
    let long = enrol(&api, "Too long", &media_dir().join("long.wav")).await;
    // Bob from the CLI, which waits until the voice is ready.
    let bob_clip = conversations::voice_clip("enrol-rms", RMS).wav;
    let bob = steno(&system, &["voices", "enrol", "Bob", bob_clip.to_str().expect("path"), "--json"]);
    assert!(bob.status.success(), "steno voices enrol: {}", String::from_utf8_lossy(&bob.stderr));
    let bob: Value = serde_json::from_slice(&bob.stdout).expect("voice JSON");
    let (alice, bob) =
        (settled(&api, alice["id"].as_str().expect("id")).await, settled(&api, bob["id"].as_str().expect("id")).await);
    for voice in [&alice, &bob] {
        assert_eq!(voice["status"], "ready", "{voice}");
        assert!(voice["speech_seconds"].as_f64().is_some_and(|s| s >= 5.0), "{voice}");
    }
    // An enrolment job makes a print, not a transcript.
    let (status, body) = api.get(&format!("/v1/jobs/{}/transcript", alice["job_id"].as_str().expect("job"))).await;
    assert!(status == 404 && body.contains("has no transcript"), "{status} {body}");
    let long = settled(&api, long["id"].as_str().expect("id")).await;
    assert_eq!(long["status"], "failed", "{long}");
    assert!(long["error"].as_str().is_some_and(|e| e.contains("5 to 30 s")), "{long}");

    // The meeting names rms Bob and slt Alice; awb is nobody they know.
    let names = names_by_voice(&api, meeting).await;
    assert_eq!(names.get(&1).map(String::as_str), Some("Alice"), "{names:?}");
    assert_eq!(names.get(&0).map(String::as_str), Some("Bob"), "{names:?}");
    assert!(names.get(&2).is_some_and(|n| n.starts_with("Speaker ")), "{names:?}");

    // The OpenAI route takes enrolled names, not reference clips.
    let openai = |field: &'static str, value: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text("model", "whisper-1")
            .text("response_format", "diarized_json")
            .text(field, value)
            .part("file", reqwest::multipart::Part::bytes(b"RIFF".to_vec()).file_name("a.wav"));
        api.http.post(format!("{}/v1/audio/transcriptions", api.base)).multipart(form).send()
    };
    for (field, value, expected) in [
        ("known_speaker_names[]", "Carol", "no enrolled voice is named"),
        ("known_speaker_references[]", "data:audio/wav;base64,UklGRg==", "POST /v1/speakers"),
    ] {
        let response = openai(field, value).await.expect("openai request");
        assert_eq!(response.status().as_u16(), 400, "{field}");
        assert!(response.text().await.expect("body").contains(expected), "{field}");
    }

    // Another tenant sees no voice and its job names no one.
    let (status, body) = other.get("/v1/speakers").await;
    assert_eq!((status, body.as_str()), (200, r#"{"speakers":[]}"#));
    let (status, _) = other.get(&format!("/v1/speakers/{}", alice["id"].as_str().expect("id"))).await;
    assert_eq!(status, 404);
    let theirs = names_by_voice(&other, meeting).await;
    assert!(theirs.values().all(|n| n.starts_with("Speaker ")), "{theirs:?}");

    // Deleting a voice deletes its clip (the enrolment job) too.
    let bob_id = bob["id"].as_str().expect("id");
    let deleted = api.http.delete(format!("{}/v1/speakers/{bob_id}", api.base)).send().await.expect("delete");
    assert_eq!(deleted.status().as_u16(), 204);
    let (status, _) = api.get(&format!("/v1/jobs/{}", bob["job_id"].as_str().expect("job"))).await;
    assert_eq!(status, 404);
    let listed = steno(&system, &["voices", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("list JSON");
    let ids: Vec<&str> =
        listed["speakers"].as_array().expect("speakers").iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(ids, [alice["id"].as_str().expect("id"), long["id"].as_str().expect("id")]);
    system.stop().await;
}
