//! The OpenAI-compatible API through the official `openai` Python package,
//! unchanged but for `base_url` and `api_key`
//! (`integration-tests/python/openai_client.py` asserts the shapes; this
//! test checks the words and that the jobs are the tenant's own), and the
//! answer a request gets when its job outlasts `gateway.openai_wait_secs`.

use std::time::Duration;

use serde_json::Value;

use crate::{
    fixtures::{SPEECH_TEXT, media_dir, srt_text, word_error_rate},
    harness::{System, repo_root, test_python},
};

fn assert_words(expected: &str, text: &str, what: &str) {
    let wer = word_error_rate(expected, text);
    assert!(wer <= 0.25, "{what}: word error rate {wer:.2} for {text:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openai_package_works_unchanged() {
    let system = System::start().await;
    let media = media_dir();
    let output = tokio::process::Command::new(test_python())
        .arg(repo_root().join("integration-tests/python/openai_client.py"))
        .env("STENO_URL", &system.http)
        .env("STENO_KEY", &system.api_key)
        .env("SPEECH", media.join("speech.wav"))
        .env("LONG", media.join("long.wav"))
        .output()
        .await
        .expect("run python");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "openai_client.py failed:\n{stderr}\n{}", system.logs());
    let out: Value = serde_json::from_slice(&output.stdout).expect("the script's JSON");
    for format in ["json", "text", "verbose", "diarized"] {
        assert_words(SPEECH_TEXT, out[format].as_str().unwrap_or_default(), format);
    }
    assert_words(SPEECH_TEXT, &srt_text(out["srt"].as_str().unwrap_or_default()), "srt");
    let words: Vec<&str> = out["words"].as_array().expect("words").iter().filter_map(Value::as_str).collect();
    assert_words(SPEECH_TEXT, &words.join(" "), "verbose_json words");
    assert_words(&[SPEECH_TEXT; 6].join(" "), out["stream"].as_str().unwrap_or_default(), "stream");
    assert!(out["translation_error"].as_str().is_some_and(|e| e.contains("multilingual")), "{out}");

    // Each request was an ordinary job of the key's tenant; another
    // tenant sees none of them.
    let (_, jobs) = system.api().get("/v1/jobs?limit=100").await;
    let jobs: Value = serde_json::from_str(&jobs).expect("job list");
    let via: Vec<&str> =
        jobs["jobs"].as_array().expect("jobs").iter().filter_map(|j| j["submitted_via"].as_str()).collect();
    assert!(via.len() >= 9 && via.iter().all(|v| *v == "openai"), "{via:?}");
    let other = crate::api::Api::new(&system.http, &system.create_key("openai-other", false));
    let (_, theirs) = other.get("/v1/jobs").await;
    assert_eq!(serde_json::from_str::<Value>(&theirs).expect("list")["jobs"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_outlasting_the_wait_is_answered_with_its_id() {
    let system = System::start_with(&[("STENO_GATEWAY__OPENAI_WAIT_SECS", "0")]).await;
    let form = reqwest::multipart::Form::new()
        .text("model", "whisper-1")
        .file("file", media_dir().join("speech.wav"))
        .await
        .expect("read clip");
    let response = reqwest::Client::new()
        .post(format!("{}/v1/audio/transcriptions", system.http))
        .bearer_auth(&system.api_key)
        .multipart(form)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 202);
    let header = response.headers().get("x-steno-job-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Value = response.json().await.expect("JSON body");
    let id = body["id"].as_str().expect("id in the body").to_owned();
    assert_eq!(header.as_deref(), Some(id.as_str()));
    assert!(body["message"].as_str().is_some_and(|m| m.contains(&format!("/v1/jobs/{id}"))), "{body}");
    let job = system.api().finished(&id, Duration::from_secs(240)).await;
    assert_eq!(job["status"], "completed", "{job}");
}
