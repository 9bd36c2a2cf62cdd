//! Every bad input ends in a clear failure: refused at the door with a
//! message naming the field, or a job that ends `failed` with a reason.
//! Nothing is left running.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    fixtures::{media_dir, serve_media},
    harness::{System, wait_until},
};

const JOB_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_fail_with_reasons_and_no_job_is_left_running() {
    let system = System::start().await;
    let media = serve_media().await;
    let api = system.api();

    // Refused at the door.
    let speech = format!("{media}/speech.wav");
    let (status, body) = api.submit(json!({ "source_url": speech, "diarize": false, "num_speakers": 2 })).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("num_speakers")), "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("needs diarization"), "{body}");
    let (status, body) = api.submit(json!({ "source_url": "ftp://example.org/a.mp3" })).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("source_url")), "{body}");
    let (status, body) = api.submit(json!({ "source_url": format!("{media}/speech.wav"), "formats": ["docx"] })).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("formats")), "{body}");
    let (status, body) = api.submit(json!({ "source_url": format!("{media}/speech.wav"), "beam_size": 11 })).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("beam_size")), "{body}");
    // Text the ledger cannot store is refused, naming the field.
    for field in ["idempotency_key", "initial_prompt", "hotwords"] {
        let value = if field == "hotwords" { json!(["a\u{0}b"]) } else { json!("a\u{0}b") };
        let mut submission = json!({ "source_url": speech });
        submission[field] = value;
        let (status, body) = api.submit(submission).await;
        assert_eq!((status, body["field"].as_str()), (422, Some(field)), "{body}");
        assert!(body["error"].as_str().unwrap_or_default().contains("NUL"), "{body}");
    }
    let (status, body) = api.submit(json!({ "url": "https://example.org/a.mp3" })).await;
    assert_eq!(status, 400, "unknown field: {body}");
    let response = api
        .http
        .post(format!("{}/v1/jobs", api.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 400);
    let (status, body) = api.upload(&media_dir().join("empty.wav"), &[]).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("file")), "{body}");
    let (status, body) = api.get("/v1/jobs/no-such-job").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no-such-job"), "{body}");

    // Accepted, then failed by a stage with a reason that says which.
    let port = media.rsplit(':').next().expect("port");
    let cases = [
        (format!("{media}/missing.wav"), "404"),
        (format!("{media}/page.html"), "HTML page"),
        (format!("http://127.0.0.2:{port}/speech.wav"), "non-public"),
        (format!("{media}/empty.wav"), "empty"),
        (format!("{media}/not-media.mp3"), "not a readable audio or video file"),
        (format!("{media}/silent-video.mp4"), "no audio stream"),
        // Transient: retried (max_deliver 3 in tests), then failed saying so.
        (format!("{media}/unavailable.wav"), "download failed after 3 attempts"),
    ];
    let mut ids = Vec::new();
    for (url, _) in &cases {
        ids.push(api.submit_url(url, &[]).await);
    }
    // An English-only model refuses another language, and an unknown model is named.
    let mut cases = cases.to_vec();
    for (options, reason) in [
        (json!({ "language": "de" }), "English-only"),
        (json!({ "model": "no-such-model" }), "model no-such-model is not installed"),
        (json!({ "translate": true }), "cannot translate"),
    ] {
        let mut body = options;
        body["source_url"] = json!(format!("{media}/speech.wav"));
        let (status, job) = api.submit(body).await;
        assert_eq!(status, 201, "{job}");
        ids.push(job["id"].as_str().expect("id").to_owned());
        cases.push((format!("{media}/speech.wav"), reason));
    }
    for ((url, reason), id) in cases.iter().zip(&ids) {
        let job = api.finished(id, JOB_TIMEOUT).await;
        assert_eq!(job["status"], "failed", "{url}: {job}\n{}", system.logs());
        let error = job["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{url}: expected {reason:?} in {error:?}");
    }

    // Malformed JSON on the submit subject is recorded as a failed job.
    let nats = async_nats::connect(&system.nats_url).await.expect("connect");
    let js = async_nats::jetstream::new(nats);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Authorization", system.api_key.as_str());
    let publish = |payload: String| js.publish_with_headers("steno.jobs.submit", headers.clone(), payload.into());
    publish("{\"source_url\": ".into()).await.expect("publish").await.expect("ack");
    let refused = wait_until("the malformed submission to be recorded", Duration::from_secs(30), || async {
        let (_, body) = api.get("/v1/jobs?status=failed&limit=50").await;
        let page: Value = serde_json::from_str(&body).ok()?;
        page["jobs"].as_array()?.iter().find(|j| j["submitted_via"] == "nats").cloned()
    })
    .await;
    assert!(refused["error"].as_str().unwrap_or_default().contains("not valid JSON"), "{refused}");
    // So is one with text the ledger cannot store: failed once, not retried forever.
    let poison = json!({ "source_url": speech, "initial_prompt": "a\u{0}b" }).to_string();
    publish(poison).await.expect("publish").await.expect("ack");
    let refused = wait_until("the unstorable submission to be recorded", Duration::from_secs(30), || async {
        let (_, body) = api.get("/v1/jobs?status=failed&limit=50").await;
        let page: Value = serde_json::from_str(&body).ok()?;
        let jobs = page["jobs"].as_array()?.clone();
        jobs.into_iter().find(|j| j["error"].as_str().is_some_and(|e| e.contains("initial_prompt")))
    })
    .await;
    assert!(refused["error"].as_str().unwrap_or_default().contains("NUL"), "{refused}");
    let submit = js.get_stream("STENO_SUBMIT").await.expect("submit stream").info().await.expect("info").state.messages;
    assert_eq!(submit, 0, "nothing left in the submit queue");

    // Nothing is left queued or running.
    for status in ["queued", "running"] {
        let (_, body) = api.get(&format!("/v1/jobs?status={status}")).await;
        let page: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(page["jobs"].as_array().map(Vec::len), Some(0), "{status}: {page}");
    }
    system.stop().await;
}
