//! Fault injection on the whole system (real processes, loopback only):
//! each test breaks something mid-job and counts what became of the jobs.
//! Every job must end once: completed, or failed with a reason.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    fixtures::{SPEECH_TEXT, serve_media, word_error_rate},
    harness::{System, metrics_at, slow_ffmpeg, wait_until},
};

/// Waits until `service`'s one process is working on a task; its ops port.
async fn working(system: &System, service: &str) -> u16 {
    let gauge = format!("steno_stage_in_progress{{stage=\"{service}\"}} 1");
    wait_until(&format!("{service} to take the task"), Duration::from_secs(90), || async {
        for port in system.replica_ports(service) {
            if metrics_at(port).await.contains(&gauge) {
                return Some(port);
            }
        }
        None
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_each_stage_mid_task_loses_and_repeats_nothing() {
    let tools = tempfile::tempdir().expect("tempdir");
    let ffmpeg = slow_ffmpeg(tools.path());
    let env = [("STENO_WORKER__ACK_WAIT_SECS", "4"), ("STENO_TRANSCODE__FFMPEG", ffmpeg.as_str())];
    let mut system = System::start_with(&env).await;
    let media = serve_media().await;
    let api = system.api();
    let mut report = Vec::new();
    for stage in ["download", "transcode", "transcribe", "diarize"] {
        let id = api.submit_url(&format!("{media}/slow/long.wav"), &["txt"]).await;
        working(&system, stage).await;
        system.kill_service(stage);
        system.start_service(stage);
        system.wait_ready().await;
        let job = api.finished(&id, Duration::from_secs(300)).await;
        assert_eq!(job["status"], "completed", "kill -9 of {stage}: {job}\n{}", system.logs());
        let wer = word_error_rate(&[SPEECH_TEXT; 6].join(" "), &api.transcript(&id, "txt").await);
        assert!(wer <= 0.25, "kill -9 of {stage}: word error rate {wer}");
        report.push((stage, id));
    }
    let completions = system.completions().await;
    for (stage, id) in &report {
        assert_eq!(completions.get(id), Some(&1), "kill -9 of {stage}: one completion");
    }
    eprintln!("kill -9 mid-task: {} stages, {} jobs completed once each", report.len(), report.len());
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_export_while_it_holds_a_task_loses_and_repeats_nothing() {
    let mut system = System::start_with(&[("STENO_WORKER__ACK_WAIT_SECS", "4")]).await;
    let media = serve_media().await;
    let api = system.api();
    let js = async_nats::jetstream::new(async_nats::connect(&system.nats_url).await.expect("connect"));
    // Export takes milliseconds: watch its consumer closely and kill it the
    // moment it holds a task; a job it finished first is simply another try.
    let mut killed = None;
    for _ in 0..10 {
        let id = api.submit_new(json!({ "source_url": format!("{media}/long.wav"), "diarize": false })).await;
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            js.get_consumer_from_stream("export", "STENO_EXPORT").await.expect("consumer");
        let mut polls = 0u32;
        let held = loop {
            if consumer.info().await.expect("consumer info").num_ack_pending > 0 {
                break true;
            }
            polls += 1;
            if polls.is_multiple_of(50) && api.job(&id).await["status"] == "completed" {
                break false;
            }
        };
        if held {
            system.kill_service("export");
            killed = Some(id);
            break;
        }
        api.finished(&id, Duration::from_secs(60)).await;
    }
    let id = killed.expect("export was killed holding a task within 10 jobs");
    system.start_service("export");
    let job = api.finished(&id, Duration::from_secs(120)).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
    assert_eq!(job["formats_ready"].as_array().map(Vec::len), Some(5), "{job}");
    assert_eq!(system.completions().await.get(&id), Some(&1), "one completion");
    // Killed between publishing its completion and marking the hand-on, a
    // redelivered export publishes it again: the stream keeps one.
    let (completed, _) = system
        .job_events(&id)
        .await
        .into_iter()
        .find(|(event, _)| event.kind() == steno_proto::v1::EventKind::Completed)
        .expect("the completion event");
    let mut config = steno_runtime::config::Config::default();
    config.nats.url = system.nats_url.clone();
    let bus = steno_runtime::bus::Bus::connect(&config, "test").await.expect("bus");
    bus.publish_event(completed).await.expect("publish the completion again");
    assert_eq!(system.completions().await.get(&id), Some(&1), "one completion after the repeat");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transcriber_frozen_past_its_task_moving_on_repeats_nothing_when_it_wakes() {
    // ack_wait 3 s and a 1 s duplicate window: the frozen worker wakes long
    // after both, as it would after minutes in a deployment.
    let env = [("STENO_WORKER__ACK_WAIT_SECS", "3"), ("STENO_NATS__DUPLICATE_WINDOW_SECS", "1")];
    let system = System::start_with_transcribers(2, &env).await;
    let media = serve_media().await;
    let api = system.api();
    let id = api.submit_url(&format!("{media}/long.wav"), &["txt"]).await;

    let frozen = working(&system, "transcribe").await;
    system.signal(frozen, "STOP");
    let job = api.finished(&id, Duration::from_secs(300)).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
    let response =
        api.http.patch(format!("{}/v1/jobs/{id}/speakers", api.base)).json(&json!({ "S1": "Ann" })).send().await;
    assert_eq!(response.expect("rename").status().as_u16(), 200);

    system.signal(frozen, "CONT");
    wait_until("the woken transcriber to finish its stale task", Duration::from_secs(300), || async {
        let metrics = metrics_at(frozen).await;
        metrics.contains("steno_stage_in_progress{stage=\"transcribe\"} 0").then_some(())
    })
    .await;
    // Give a wrongly published successor time to run.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(system.completions().await.get(&id), Some(&1), "one completion");
    let diarized = system.metrics("diarize").await;
    assert!(diarized.contains("steno_stage_tasks_total{outcome=\"ok\",stage=\"diarize\"} 1"), "{diarized}");
    let text = api.transcript(&id, "txt").await;
    assert!(text.starts_with("Ann: "), "the rename survives: {text}");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_jobs_in_flight_survive_a_nats_restart() {
    let mut system = System::start().await;
    let media = serve_media().await;
    let api = system.api();
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(api.submit_plain(&format!("{media}/speech.wav")).await);
    }
    working(&system, "transcribe").await;
    system.restart_nats().await;
    let mut statuses = std::collections::BTreeMap::new();
    for id in &ids {
        let job: Value = api.finished(id, Duration::from_secs(400)).await;
        *statuses.entry(job["status"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(statuses.get("completed"), Some(&20), "{statuses:?}\n{}", system.logs());
    let completions = system.completions().await;
    assert!(ids.iter().all(|id| completions.get(id) == Some(&1)), "one completion each: {completions:?}");
    system.stop().await;
}
