//! Jobs through every front door complete with the spoken words.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use steno_proto::v1::{EventKind, Format, GetRequest, GetTranscriptRequest, JobOptions, SubmitRequest, WatchRequest};

use crate::{
    fixtures::{SPEECH_TEXT, media_dir, serve_media, srt_text, word_error_rate},
    harness::{System, wait_until},
};

const JOB_TIMEOUT: Duration = Duration::from_secs(240);

fn assert_words(text: &str, what: &str) {
    let wer = word_error_rate(SPEECH_TEXT, text);
    assert!(wer <= 0.25, "{what}: word error rate {wer:.2} for {text:?}");
}

/// `pdf` is a PDF whose text (`pdftotext`, from poppler-utils) holds each
/// of `expected`.
fn assert_pdf_text(pdf: &[u8], expected: &[&str]) {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF: {:?}", String::from_utf8_lossy(&pdf[..pdf.len().min(32)]));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("transcript.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let output = std::process::Command::new("pdftotext").arg("-layout").arg(&path).arg("-").output();
    let output = output.expect("run pdftotext (apt-get install poppler-utils)");
    assert!(output.status.success(), "pdftotext: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout).to_lowercase();
    for expected in expected {
        assert!(text.contains(&expected.to_lowercase()), "{expected:?} missing from the PDF's text:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_from_rest_upload_and_nats_complete_with_the_spoken_words() {
    let system = System::start().await;
    let media = serve_media().await;
    let api = system.api();

    let wav = api.submit_url(&format!("{media}/speech.wav"), &["srt", "txt"]).await;
    let mp3 = api.submit_url(&format!("{media}/speech.mp3"), &[]).await;
    // A quantized model and decoding options, chosen per job.
    let (status, quantized) = api
        .submit(json!({
            "source_url": format!("{media}/speech.wav"),
            "model": "tiny.en-q8_0",
            "formats": ["txt", "json"],
            "beam_size": 5,
            "initial_prompt": "A reminder about shopping and a meeting.",
            "hotwords": ["milk", "bread"],
            "word_timestamps": false
        }))
        .await;
    assert_eq!(status, 201, "{quantized}");
    let quantized = quantized["id"].as_str().expect("id").to_owned();
    let (status, upload) =
        api.upload(&media_dir().join("speech.mp4"), &[("formats", "srt,vtt"), ("language", "en")]).await;
    assert_eq!(status, 201, "upload: {upload}");
    let mp4 = upload["id"].as_str().expect("id").to_owned();

    let nats = async_nats::connect(&system.nats_url).await.expect("connect");
    // The NATS front doors take the key as a header or an `api_key` field.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Authorization", format!("Bearer {}", system.api_key).as_str());
    let submission = json!({ "source_url": format!("{media}/speech.wav"), "job_id": "nats-job-1", "formats": ["txt"] });
    let js = async_nats::jetstream::new(nats.clone());
    js.publish_with_headers("steno.jobs.submit", headers, submission.to_string().into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    let request = json!({
        "source_url": format!("{media}/speech.mp3"), "formats": ["json"], "model": "tiny.en-iq4_nl",
        "api_key": system.api_key,
    });
    let reply = nats.request("steno.api.submit", request.to_string().into()).await.expect("nats req");
    let replied: Value = serde_json::from_slice(&reply.payload).expect("reply json");
    let requested = replied["id"].as_str().expect("id in reply").to_owned();

    for id in [&wav, &mp3, &mp4, &requested, &quantized] {
        let job = api.finished(id, JOB_TIMEOUT).await;
        assert_eq!(job["status"], "completed", "job {id}: {job}\n{}", system.logs());
    }
    let nats_job = wait_until("the NATS submission to be recorded", Duration::from_secs(30), || async {
        let (status, body) = api.get("/v1/jobs/nats-job-1").await;
        (status == 200).then(|| serde_json::from_str::<Value>(&body).expect("json"))
    })
    .await;
    assert_eq!(nats_job["submitted_via"], "nats");
    let nats_job = api.finished("nats-job-1", JOB_TIMEOUT).await;
    assert_eq!(nats_job["status"], "completed", "{nats_job}");

    let srt = api.transcript(&wav, "srt").await;
    assert!(srt.starts_with("1\n") && srt.contains(" --> "), "SRT shape: {srt}");
    assert_words(&srt_text(&srt), "wav srt");
    assert_words(&api.transcript(&wav, "txt").await, "wav txt");
    assert_words(&api.transcript(&mp3, "txt").await, "mp3 txt");
    assert_words(&api.transcript(&quantized, "txt").await, "q8_0 model txt");
    let options = &api.job(&quantized).await["options"];
    assert_eq!((options["model"].as_str(), options["beam_size"].as_u64()), (Some("tiny.en-q8_0"), Some(5)));
    let json: Value = serde_json::from_str(&api.transcript(&quantized, "json").await).expect("json transcript");
    assert!(json["segments"][0].get("words").is_none(), "word timestamps were turned off: {json}");
    let vtt = api.transcript(&mp4, "vtt").await;
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    assert_words(&srt_text(&api.transcript(&mp4, "srt").await), "mp4 srt");
    assert_words(&api.transcript("nats-job-1", "txt").await, "nats txt");
    let json: Value = serde_json::from_str(&api.transcript(&requested, "json").await).expect("json transcript");
    let text: Vec<&str> =
        json["segments"].as_array().expect("segments").iter().filter_map(|s| s["text"].as_str()).collect();
    assert_words(&text.join(" "), "iq4_nl model json");
    let words = json["segments"][0]["words"].as_array().expect("word timestamps");
    assert!(words.iter().all(|w| w["start_ms"].as_u64() <= w["end_ms"].as_u64()), "{words:?}");

    // A format the job did not ask for is a clear 404; the job records its
    // audio length and language.
    let (status, body) = api.get(&format!("/v1/jobs/{mp4}/transcript.txt")).await;
    assert_eq!(status, 404, "{body}");
    let job = api.job(&wav).await;
    assert_eq!(job["language"], "en");
    assert!(job["duration_ms"].as_i64().unwrap_or(0) > 3000, "{job}");

    // Resubmitting a client-chosen id returns the same job.
    let (status, again) =
        api.submit(json!({ "source_url": format!("{media}/speech.wav"), "job_id": "nats-job-1" })).await;
    assert_eq!((status, again["id"].as_str()), (200, Some("nats-job-1")));

    // gRPC sees the same ledger.
    let mut grpc = system.grpc_client().await;
    let job = grpc.get(GetRequest { id: wav.clone() }).await.expect("grpc get").into_inner();
    assert_eq!(job.id, wav);
    let file = grpc
        .get_transcript(GetTranscriptRequest { id: wav.clone(), format: Format::Txt as i32 })
        .await
        .expect("grpc transcript")
        .into_inner();
    assert_words(&file.content, "grpc txt");
    // A job that named no formats has all five; the PDF comes as bytes.
    let pdf = grpc
        .get_transcript(GetTranscriptRequest { id: mp3.clone(), format: Format::Pdf as i32 })
        .await
        .expect("grpc pdf")
        .into_inner();
    assert_eq!((pdf.content_type.as_str(), pdf.content.as_str()), ("application/pdf", ""));
    assert_pdf_text(&pdf.data, &["Transcript: speech.mp3", "milk", "Page 1 of 1"]);

    // A gRPC submission watched live: its events run from queued to completed.
    let submitted = grpc
        .submit(SubmitRequest {
            source_url: format!("{media}/speech.wav"),
            options: Some(JobOptions { formats: vec![Format::Vtt as i32], ..Default::default() }),
            ..Default::default()
        })
        .await
        .expect("grpc submit")
        .into_inner();
    let mut events = grpc.watch(WatchRequest { id: submitted.id.clone() }).await.expect("watch").into_inner();
    let mut kinds = Vec::new();
    while let Some(event) = tokio::time::timeout(JOB_TIMEOUT, events.next()).await.expect("event in time") {
        kinds.push(event.expect("event").kind());
    }
    assert_eq!(kinds.first(), Some(&EventKind::Queued), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&EventKind::Completed), "{kinds:?}");
    assert!(kinds.contains(&EventKind::StageCompleted) && kinds.contains(&EventKind::Started), "{kinds:?}");
    // The ledger follows the same events; it may trail the watcher briefly.
    assert_eq!(api.finished(&submitted.id, JOB_TIMEOUT).await["status"], "completed");

    // Listing pages through every job, newest first.
    let (status, body) = api.get("/v1/jobs?status=completed&limit=2").await;
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(page["jobs"].as_array().map(Vec::len), Some(2));
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, body) = api.get(&format!("/v1/jobs?status=completed&limit=10&cursor={cursor}")).await;
    let rest: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(rest["jobs"].as_array().map(Vec::len), Some(5), "{rest}");

    // Stage metrics are served by every worker.
    let metrics = system.metrics("transcribe").await;
    assert!(metrics.contains("steno_stage_tasks_total{outcome=\"ok\",stage=\"transcribe\"}"), "{metrics}");
    assert!(metrics.contains("steno_stage_processing_seconds_bucket"), "{metrics}");
    assert!(metrics.contains("steno_stage_queue_depth{stage=\"transcribe\"}"), "{metrics}");
    system.stop().await;
}
