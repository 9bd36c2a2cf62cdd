//! Webhooks end to end: signed as Standard Webhooks (verified by the
//! `standardwebhooks` Python package in `integration-tests/python/
//! webhook_receiver.py`), one delivery per finished job, retried after a
//! 500 (across a notify killed between tries), not after a 400, delivered
//! while the gateway is down, and every attempt recorded on the job.

use std::{path::Path, time::Duration};

use serde_json::Value;

use crate::{
    fixtures::media_dir,
    harness::{System, bin_dir, free_port, repo_root, test_python, wait_until},
};

/// The receiver's log: one JSON object per request.
fn received(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn to(log: &Path, path: &str) -> Vec<Value> {
    received(log).into_iter().filter(|r| r["path"] == path).collect()
}

async fn upload(system: &System, file: &str, hook: &str) -> String {
    let (status, job) =
        system.api().upload(&media_dir().join(file), &[("formats", "srt"), ("webhook_url", hook)]).await;
    assert_eq!(status, 201, "{job}");
    job["id"].as_str().expect("id").to_owned()
}

async fn attempts(system: &System, id: &str) -> Vec<Value> {
    let (status, body) = system.api().get(&format!("/v1/jobs/{id}/webhooks")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).expect("JSON")["attempts"].as_array().expect("attempts").clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_retried_recorded_and_never_lost() {
    let mut system = System::start_with(&[("STENO_NOTIFY__BACKOFF_SECS", "[2]")]).await;
    let api = system.api();
    // The secret, over REST and from the CLI.
    let (_, body) = api.get("/v1/webhooks/secret").await;
    let secret = serde_json::from_str::<Value>(&body).expect("JSON")["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let cli = std::process::Command::new(bin_dir().join("steno"))
        .args(["--server", &system.http, "--api-key", &system.api_key, "webhooks", "secret"])
        .output()
        .expect("run steno");
    assert_eq!(String::from_utf8_lossy(&cli.stdout).trim(), secret, "{}", String::from_utf8_lossy(&cli.stderr));

    let port = free_port();
    let log = system.dir.path().join("webhooks.jsonl");
    let mut receiver = std::process::Command::new(test_python())
        .arg(repo_root().join("integration-tests/python/webhook_receiver.py"))
        .env("PORT", port.to_string())
        .env("SECRET", &secret)
        .env("LOG", &log)
        .spawn()
        .expect("start the receiver");
    let hook = |path: &str| format!("http://127.0.0.1:{port}{path}");

    let ok = upload(&system, "speech.wav", &hook("/ok")).await;
    let flaky = upload(&system, "speech.wav", &hook("/flaky")).await;
    let gone = upload(&system, "not-media.mp3", &hook("/gone")).await;

    // The flaky receiver's first answer is a 500: kill notify before the
    // retry; the one that starts again delivers it.
    wait_until("the first try at /flaky", Duration::from_secs(240), || async {
        (!to(&log, "/flaky").is_empty()).then_some(())
    })
    .await;
    system.kill_service("notify");
    system.start_service("notify");
    let wait = Duration::from_secs(240);
    wait_until("deliveries to /ok and /flaky", wait, || async {
        let flaky_ok = to(&log, "/flaky").iter().any(|r| r["status"] == 200);
        (flaky_ok && !to(&log, "/ok").is_empty() && !to(&log, "/gone").is_empty()).then_some(())
    })
    .await;

    for request in received(&log) {
        assert_eq!(request["verified"], true, "signature verified: {request}");
    }
    let delivered = &to(&log, "/ok")[0]["payload"];
    assert_eq!(delivered["type"], "job.completed", "{delivered}");
    assert_eq!(delivered["data"]["job_id"], ok.as_str());
    assert_eq!(delivered["data"]["tenant"], "test");
    assert_eq!(delivered["data"]["links"]["srt"], format!("/v1/jobs/{ok}/transcript.srt"));
    let flaky_requests = to(&log, "/flaky");
    assert_eq!(flaky_requests.len(), 2, "{flaky_requests:?}");
    assert_eq!(flaky_requests[0]["id"], flaky_requests[1]["id"], "a retry keeps the webhook-id");
    let refused = &to(&log, "/gone")[0]["payload"];
    assert_eq!(refused["type"], "job.failed", "{refused}");
    assert!(refused["data"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{refused}");

    // Every attempt is on the job; a 400 is not retried.
    wait_until("the attempts recorded", wait, || async {
        let flaky = attempts(&system, &flaky).await;
        (flaky.len() == 2 && attempts(&system, &gone).await.len() == 1).then_some(())
    })
    .await;
    let flaky_attempts = attempts(&system, &flaky).await;
    assert_eq!(
        (flaky_attempts[0]["http_status"].as_i64(), flaky_attempts[0]["last"].as_bool()),
        (Some(500), Some(false))
    );
    assert_eq!(
        (flaky_attempts[1]["http_status"].as_i64(), flaky_attempts[1]["delivered"].as_bool()),
        (Some(200), Some(true))
    );
    let gone_attempts = attempts(&system, &gone).await;
    assert_eq!((gone_attempts[0]["http_status"].as_i64(), gone_attempts[0]["last"].as_bool()), (Some(400), Some(true)));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(to(&log, "/gone").len(), 1, "no retry after a 400");

    // With the gateway down, a finishing job's webhook still goes out, and
    // its attempt is recorded once the gateway is back.
    let late = upload(&system, "speech.wav", &hook("/ok")).await;
    system.stop_service("gateway");
    wait_until("the delivery with the gateway down", wait, || async {
        to(&log, "/ok").iter().any(|r| r["payload"]["data"]["job_id"] == late.as_str()).then_some(())
    })
    .await;
    system.start_service("gateway");
    system.wait_ready().await;
    wait_until("the attempt recorded after the restart", wait, || async {
        (attempts(&system, &late).await.len() == 1).then_some(())
    })
    .await;
    assert_eq!(to(&log, "/ok").len(), 2, "one delivery per job");

    let _ = receiver.kill();
    let _ = receiver.wait();
    system.stop().await;
}
