//! NATS locked down by `deploy/nats/nats.conf`: the whole system runs with
//! each service connecting as its own user, a client without credentials is
//! refused, and one service's credentials do not reach another's queue or
//! purge a stream.

use std::time::Duration;

use serde_json::json;

use crate::{
    fixtures::serve_media,
    harness::{System, nats_password},
};

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_system_runs_under_the_shipped_nats_config() {
    let system = System::start_locked_down().await;
    let media = serve_media().await;
    let api = system.api();

    // A known voice: the gateway records it, diarize makes its print (and
    // reads the voices again for the job below).
    let form = reqwest::multipart::Form::new().text("name", "Ann");
    let form = form.file("file", crate::fixtures::media_dir().join("speech.wav")).await.expect("read clip");
    let enrolled = api.http.post(format!("{}/v1/speakers", api.base)).multipart(form).send().await.expect("enrol");
    let voice: serde_json::Value = enrolled.json().await.expect("voice");
    let voice = voice["id"].as_str().expect("voice id").to_owned();
    crate::harness::wait_until("the voice to be enrolled", Duration::from_secs(120), || async {
        let (_, body) = api.get(&format!("/v1/speakers/{voice}")).await;
        assert!(!body.contains("\"failed\""), "{body}\n{}", system.logs());
        body.contains("\"ready\"").then_some(())
    })
    .await;

    // Every stage, the ledger, webhooks, speakers, models and delete, under per-service users.
    // A webhook to a closed port: the gateway records it (and makes the
    // tenant's secret), notify tries it and reports the attempt.
    let hook = format!("http://127.0.0.1:{}/hook", crate::harness::free_port());
    let id = api
        .submit_new(
            json!({ "source_url": format!("{media}/speech.wav"), "formats": ["txt", "srt"], "webhook_url": hook }),
        )
        .await;
    let job = api.finished(&id, Duration::from_secs(300)).await;
    let nats_log = || std::fs::read_to_string(system.dir.path().join("nats.log")).unwrap_or_default();
    let violations = || nats_log().lines().filter(|l| l.contains("Violation")).collect::<Vec<_>>().join("\n");
    assert_eq!(job["status"], "completed", "{job}\n{}", violations());
    assert!(api.transcript(&id, "txt").await.to_lowercase().contains("milk"));
    let renamed = api.http.patch(format!("{}/v1/jobs/{id}/speakers", api.base)).json(&json!({ "S1": "Ann" }));
    assert_eq!(renamed.send().await.expect("rename").status().as_u16(), 200, "{}", system.logs());
    crate::harness::wait_until("a webhook attempt", Duration::from_secs(60), || async {
        let (_, body) = api.get(&format!("/v1/jobs/{id}/webhooks")).await;
        body.contains("\"number\":1").then_some(())
    })
    .await;
    // The gateway asks a transcriber for its models (request and reply).
    let (status, models) = api.get("/v1/models").await;
    assert!(status == 200 && models.contains("tiny.en"), "{status} {models}\n{}", violations());
    let deleted = api.http.delete(format!("{}/v1/jobs/{id}", api.base)).send().await.expect("delete");
    assert_eq!(deleted.status().as_u16(), 204, "{}", system.logs());
    assert_eq!(violations(), "", "a service needed more than the config allows");

    // No credentials: refused outright, so nothing can be published or read.
    let anonymous = async_nats::ConnectOptions::new().max_reconnects(1).connect(&system.nats_url).await;
    let refused = anonymous.map(|_| ()).expect_err("an anonymous client connected");
    assert_eq!(refused.kind(), async_nats::ConnectErrorKind::AuthorizationViolation, "{refused}");

    // A worker's credentials reach only its own work.
    let seed = system.nats_lockdown.as_deref().expect("locked down");
    let export = async_nats::ConnectOptions::with_user_and_password("export".into(), nats_password(seed, "export"))
        .connect(&system.nats_url)
        .await
        .expect("export connects");
    let js = async_nats::jetstream::new(export);
    let forged = async { js.publish("steno.stage.download", "forged".into()).await?.await.map(|_| ()) };
    let forged = tokio::time::timeout(Duration::from_secs(10), forged).await;
    assert!(!matches!(forged, Ok(Ok(()))), "export published a download task");
    let purge = async { js.get_stream("STENO_EVENTS").await?.purge().await.map(|_| ()).map_err(Into::into) };
    let purged: Result<(), Box<dyn std::error::Error + Send + Sync>> = purge.await;
    assert!(purged.is_err(), "export purged the events stream");

    system.stop().await;
}
