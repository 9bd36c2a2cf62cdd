//! Live progress over REST: `GET /v1/jobs/{id}/events` is Server-Sent
//! Events. A subscriber from the start and a late one both get every event
//! in order, ending after the terminal one; `Last-Event-ID` resumes; another
//! tenant sees nothing.

use std::time::Duration;

use serde_json::Value;

use crate::{fixtures::serve_media, harness::System};

/// One SSE event: its id, name and JSON data.
#[derive(Debug, PartialEq)]
struct Sse {
    id: u64,
    event: String,
    data: Value,
}

/// Reads the stream to its end (the server closes it after the terminal
/// event) and parses it; keep-alive comments are skipped.
async fn read_events(system: &System, key: &str, id: &str, last_event_id: Option<u64>) -> (u16, Vec<Sse>) {
    let mut request = reqwest::Client::new().get(format!("{}/v1/jobs/{id}/events", system.http)).bearer_auth(key);
    if let Some(last) = last_event_id {
        request = request.header("Last-Event-ID", last.to_string());
    }
    let response =
        tokio::time::timeout(Duration::from_secs(180), request.send()).await.expect("answered").expect("sent");
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned());
    let body =
        tokio::time::timeout(Duration::from_secs(180), response.text()).await.expect("stream ended").expect("body");
    if status != 200 {
        return (status, Vec::new());
    }
    assert_eq!(content_type.as_deref(), Some("text/event-stream"));
    let events = body
        .split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| {
                block.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim_start().to_owned()))
            };
            Some(Sse {
                id: field("id")?.parse().expect("numeric id"),
                event: field("event")?,
                data: serde_json::from_str(&field("data")?).expect("JSON data"),
            })
        })
        .collect();
    (status, events)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_in_order_live_late_and_resumed() {
    let system = System::start().await;
    let media = serve_media().await;
    let api = system.api();
    let id = api.submit_plain(&format!("{media}/speech.wav")).await;

    let (status, live) = read_events(&system, &system.api_key, &id, None).await;
    assert_eq!(status, 200);
    let (_, late) = read_events(&system, &system.api_key, &id, None).await;
    assert_eq!(live, late, "a late subscriber gets the same events");

    let on_the_bus: Vec<String> = system
        .job_events(&id)
        .await
        .iter()
        .map(|(e, _)| steno_runtime::subjects::event_kind_name(e.kind()).to_owned())
        .collect();
    let kinds: Vec<String> = late.iter().map(|e| e.event.clone()).collect();
    assert_eq!(kinds, on_the_bus, "every event, in order");
    assert_eq!(kinds.first().map(String::as_str), Some("queued"));
    assert_eq!(kinds.last().map(String::as_str), Some("completed"), "ends after the terminal event");
    assert!(late.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    for event in &late {
        assert_eq!(
            (event.data["job_id"].as_str(), event.data["kind"].as_str()),
            (Some(id.as_str()), Some(event.event.as_str()))
        );
        assert_eq!(event.data["id"].as_u64(), Some(event.id));
    }
    let started: Vec<&str> =
        late.iter().filter(|e| e.event == "started").filter_map(|e| e.data["stage"].as_str()).collect();
    assert_eq!(started, ["download", "transcode", "transcribe", "export"]);

    let (_, resumed) = read_events(&system, &system.api_key, &id, Some(late[2].id)).await;
    assert_eq!(resumed, late[3..], "Last-Event-ID resumes after that event");

    let other = system.create_key("someone-else", false);
    let (status, _) = read_events(&system, &other, &id, None).await;
    assert_eq!(status, 404, "another tenant's job is not found");
    let bad = reqwest::Client::new()
        .get(format!("{}/v1/jobs/{id}/events", system.http))
        .bearer_auth(&system.api_key)
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status().as_u16(), 422, "a bad Last-Event-ID is named");
    system.stop().await;
}
