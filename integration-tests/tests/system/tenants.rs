//! No one let in: every front door needs an API key and acts for its
//! tenant. Another tenant's job answers 404 on every route, exactly as an
//! unknown one; an admin key sees every tenant; a revoked key is refused at
//! once; a tenant over its submission quota gets 429 with `Retry-After`;
//! secrets in a source URL are never shown back; oversized bodies and media
//! are refused with the limit named.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use steno_proto::v1 as proto;

use crate::{
    api::Api,
    fixtures::{media_dir, serve_media},
    harness::{System, bin_dir, grpc_client, repo_root, wait_until},
};

/// Every REST route that reads or changes one job.
const JOB_ROUTES: [(&str, &str); 8] = [
    ("GET", ""),
    ("DELETE", ""),
    ("POST", "/cancel"),
    ("POST", "/retry"),
    ("GET", "/speakers"),
    ("PATCH", "/speakers"),
    ("GET", "/transcript.txt"),
    ("GET", "/speakers.rttm"),
];

async fn call(api: &Api, method: &str, path: &str) -> (u16, Value) {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = api.http.request(method.clone(), format!("{}{path}", api.base));
    if method == Method::PATCH {
        request = request.json(&json!({ "S1": "Ann" }));
    }
    let response = request.send().await.expect("request");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> tonic::Code {
    result.err().map_or(tonic::Code::Ok, |status| status.code())
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_and_tenants_guard_every_route() {
    let system = System::start_with(&[
        ("STENO_GATEWAY__SUBMISSIONS_PER_MINUTE", "20"),
        ("STENO_TRANSCODE__MAX_DURATION_SECS", "3"),
        ("STENO_GATEWAY__GRPC_MAX_MESSAGE_BYTES", "1048576"),
    ])
    .await;
    let media = serve_media().await;
    let alice = system.api();
    let bob_key = system.create_key("bob", false);
    let bob = Api::new(&system.http, &bob_key);
    let admin = Api::new(&system.http, &system.create_key("ops", true));

    // A job of tenant `test`; it fails fast (the file does not exist), so
    // every route, retry included, has something to act on.
    let secret_url = format!("{}/missing.wav?X-Amz-Signature=s3cr3t", media.replace("http://", "http://ann:pw@"));
    let id = alice.submit_plain(&secret_url).await;
    let job = alice.finished(&id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "failed", "{job}");
    let shown = job.to_string();
    assert!(!shown.contains("s3cr3t") && !shown.contains("ann:pw"), "secrets shown: {shown}");
    assert_eq!(job["tenant"], "test");
    let events = system.job_events(&id).await;
    assert!(
        !events.is_empty() && events.iter().all(|(e, _)| e.tenant == "test"),
        "events carry the tenant: {events:?}"
    );

    // Another tenant: 404 everywhere, with the unknown job's own message.
    let unknown = "00000000-0000-4000-8000-000000000000";
    for (method, suffix) in JOB_ROUTES {
        let (status, body) = call(&bob, method, &format!("/v1/jobs/{id}{suffix}")).await;
        let (unknown_status, unknown_body) = call(&bob, method, &format!("/v1/jobs/{unknown}{suffix}")).await;
        assert_eq!((status, unknown_status), (404, 404), "{method} {suffix}: {body}");
        let said = |body: &Value, id: &str| body["error"].as_str().map(|e| e.replace(id, "ID"));
        assert_eq!(said(&body, &id), said(&unknown_body, unknown), "{method} {suffix}");
    }
    let (_, page) = bob.get("/v1/jobs").await;
    assert!(!page.contains(&id), "another tenant's list shows the job: {page}");
    let mut grpc = grpc_client(&system.grpc, &bob_key).await;
    let not_found = tonic::Code::NotFound;
    assert_eq!(code(grpc.get(proto::GetRequest { id: id.clone() }).await), not_found);
    assert_eq!(code(grpc.cancel(proto::CancelRequest { id: id.clone() }).await), not_found);
    assert_eq!(code(grpc.retry(proto::RetryRequest { id: id.clone() }).await), not_found);
    assert_eq!(code(grpc.delete(proto::DeleteRequest { id: id.clone() }).await), not_found);
    assert_eq!(code(grpc.watch(proto::WatchRequest { id: id.clone() }).await), not_found);
    let transcript = proto::GetTranscriptRequest { id: id.clone(), format: proto::Format::Txt as i32 };
    assert_eq!(code(grpc.get_transcript(transcript).await), not_found);
    let rename = proto::RenameSpeakersRequest { id: id.clone(), names: [("S1".into(), "Ann".into())].into() };
    assert_eq!(code(grpc.rename_speakers(rename).await), not_found);
    let listed = grpc.list(proto::ListRequest::default()).await.expect("list").into_inner();
    assert!(listed.jobs.iter().all(|j| j.id != id));

    // An admin sees every tenant.
    assert_eq!(admin.job(&id).await["tenant"], "test");
    let (_, page) = admin.get("/v1/jobs").await;
    assert!(page.contains(&id), "{page}");

    // No key, a made-up key, a revoked key: 401 that says how to get one.
    let anonymous = reqwest::Client::new();
    for key in [None, Some("steno_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), Some("nonsense")] {
        let mut request = anonymous.get(format!("{}/v1/jobs/{id}", system.http));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status().as_u16(), 401, "{key:?}");
        let body: Value = response.json().await.expect("json");
        assert!(body["error"].as_str().unwrap_or_default().contains("steno keys create"), "{body}");
    }
    let mut anonymous_grpc = grpc_client(&system.grpc, "nonsense").await;
    let refused = anonymous_grpc.get(proto::GetRequest { id: id.clone() }).await.expect_err("no valid key");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let revoked = system.create_key("carol", false);
    let carol = Api::new(&system.http, &revoked);
    assert_eq!(carol.get("/v1/jobs").await.0, 200);
    let status = std::process::Command::new(bin_dir().join("steno"))
        .args(["keys", "revoke", &revoked["steno_".len().."steno_".len() + 12]])
        .current_dir(repo_root())
        .env("DATABASE_URL", system.database_url())
        .status()
        .expect("steno keys revoke");
    assert!(status.success());
    assert_eq!(carol.get("/v1/jobs").await.0, 401, "a revoked key is refused at once");

    // NATS: a submission without a key is dead-lettered, not recorded; the
    // request endpoint answers 401.
    let nats = async_nats::connect(&system.nats_url).await.expect("connect");
    let js = async_nats::jetstream::new(nats.clone());
    let anonymous_job = json!({ "source_url": format!("{media}/speech.wav"), "job_id": "anonymous-1" });
    js.publish("steno.jobs.submit", anonymous_job.to_string().into()).await.expect("publish").await.expect("ack");
    let dlq = js.get_stream("STENO_DLQ").await.expect("dead letters");
    wait_until("the anonymous submission to be dead-lettered", Duration::from_secs(30), || async {
        let mut dlq = dlq.clone();
        let state = dlq.info().await.ok()?.state.clone();
        (state.messages > 0).then_some(())
    })
    .await;
    assert_eq!(admin.get("/v1/jobs/anonymous-1").await.0, 404, "an anonymous submission made no job");
    let reply = nats.request("steno.api.submit", anonymous_job.to_string().into()).await.expect("nats req");
    let code = reply.headers.as_ref().and_then(|h| h.get("Nats-Service-Error-Code")).map(|v| v.to_string());
    assert_eq!(code.as_deref(), Some("401"));

    // Quota: 20 submissions a minute; the 30th at once is refused.
    let dave = Api::new(&system.http, &system.create_key("dave", false));
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..30 {
        let response = dave
            .http
            .post(format!("{}/v1/jobs", system.http))
            .json(&json!({ "source_url": format!("{media}/missing.wav"), "formats": ["txt"], "diarize": false }))
            .send()
            .await
            .expect("submit");
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        }
    }
    assert!(statuses[..20].iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(statuses[29], 429, "{statuses:?}");
    assert!(retry_after.is_some_and(|s| (1..=60).contains(&s)), "Retry-After: {retry_after:?}");
    assert_eq!(
        alice.submit(json!({ "source_url": format!("{media}/missing.wav") })).await.0,
        201,
        "quotas are per tenant"
    );

    // Media longer than transcode.max_duration_secs fails with the limit named.
    let long = alice.submit_plain(&format!("{media}/speech.wav")).await;
    let job = alice.finished(&long, Duration::from_secs(60)).await;
    let error = job["error"].as_str().unwrap_or_default();
    assert!(error.contains("limit is 3 s (transcode.max_duration_secs)"), "{job}");

    // Another tenant cannot take a job's id, by URL or by an upload (which
    // would write over the job's source).
    let (status, body) = bob.submit(json!({ "source_url": format!("{media}/speech.wav"), "job_id": long })).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = bob.upload(&media_dir().join("speech.wav"), &[("job_id", long.as_str())]).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("already taken"), "{body}");

    // A JSON body over 64 KiB is refused before it is parsed.
    let (status, body) = alice.submit(json!({ "source_url": "x".repeat(70_000) })).await;
    assert_eq!(status, 413, "{body}");

    // A gRPC upload over gateway.grpc_max_message_bytes is refused, naming the limit.
    let mut grpc = system.grpc_client().await;
    let upload = proto::SubmitRequest { upload: vec![0; 2 << 20], filename: "big.wav".into(), ..Default::default() };
    let refused = grpc.submit(upload).await.expect_err("over the gRPC message limit");
    assert_eq!(refused.code(), tonic::Code::OutOfRange, "{refused:?}");
    assert!(refused.message().contains("1048576"), "{refused:?}");

    system.stop().await;
}
