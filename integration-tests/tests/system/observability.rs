//! The shipped Prometheus config, alert rules and Grafana dashboards,
//! proven against the real tools: promtool checks and rule unit tests, and a
//! real Prometheus scraping a running system, evaluating every dashboard
//! and alert expression. Queue depth in Prometheus equals JetStream's own
//! count with jobs parked.

use std::{path::Path, process::Command, time::Duration};

use serde_json::Value;

use crate::{
    fixtures::{media_dir, serve_media},
    harness::{System, free_port, repo_root, wait_until},
};

fn promtool(args: &[&str]) {
    let output = Command::new("promtool").args(args).current_dir(repo_root()).output().expect("run promtool");
    assert!(
        output.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn promtool_accepts_the_config_the_rules_and_their_unit_tests() {
    promtool(&["check", "config", "config/prometheus/prometheus.yml"]);
    promtool(&["check", "rules", "config/prometheus/rules/steno.yml"]);
    promtool(&["test", "rules", "config/prometheus/tests/steno_test.yml"]);
}

/// A Prometheus server scraping every service of `system` each second.
struct Prometheus {
    child: std::process::Child,
    url: String,
}

impl Prometheus {
    async fn start(system: &System) -> Self {
        let dir = system.dir.path().join("prometheus");
        std::fs::create_dir_all(&dir).expect("prometheus dir");
        let jobs: Vec<String> = system
            .ops_ports
            .iter()
            .map(|(service, port)| {
                format!("  - job_name: steno-{service}\n    static_configs: [{{ targets: [\"127.0.0.1:{port}\"] }}]\n")
            })
            .collect();
        let rules = repo_root().join("config/prometheus/rules/steno.yml");
        let config = format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nrule_files: [\"{}\"]\nscrape_configs:\n{}",
            rules.display(),
            jobs.concat()
        );
        std::fs::write(dir.join("prometheus.yml"), config).expect("write config");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log"))
            .spawn()
            .expect("start prometheus (Debian package `prometheus`)");
        let url = format!("http://127.0.0.1:{port}");
        let ready = format!("{url}/-/ready");
        wait_until("prometheus to be ready", Duration::from_secs(30), || async {
            reqwest::get(&ready).await.ok().filter(|r| r.status().is_success()).map(|_| ())
        })
        .await;
        Self { child, url }
    }

    /// Runs an instant query; `Err` carries Prometheus's error for an invalid expression.
    async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"]["result"].as_array().cloned().unwrap_or_default())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every PromQL expression of every panel: (dashboard, panel, may be empty, expr).
fn dashboard_queries() -> Vec<(String, String, bool, String)> {
    let dir = repo_root().join("dashboards");
    let mut queries = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("dashboards dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        for panel in dashboard["panels"].as_array().expect("panels") {
            let may_be_empty = panel["description"].as_str().is_some_and(|d| d.starts_with("Empty"));
            for target in panel["targets"].as_array().expect("targets") {
                let expr = target["expr"].as_str().expect("expr");
                let expr = expr.replace("$__rate_interval", "1m").replace("$stage", ".*").replace("$instance", ".*");
                queries.push((file_name(&path), panel["title"].as_str().unwrap_or("").to_owned(), may_be_empty, expr));
            }
        }
    }
    assert!(queries.len() >= 30, "expected the four dashboards, found {} queries", queries.len());
    queries
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The `expr:` of every alert rule.
fn rule_expressions() -> Vec<String> {
    let rules = std::fs::read_to_string(repo_root().join("config/prometheus/rules/steno.yml")).expect("rules");
    let exprs: Vec<String> =
        rules.lines().filter_map(|l| l.trim().strip_prefix("expr:")).map(|e| e.trim().to_owned()).collect();
    assert!(exprs.len() >= 12, "expected at least 12 alert rules, found {}", exprs.len());
    exprs
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_evaluates_every_panel_and_rule_and_sees_the_real_queue_depth() {
    let mut system = System::start().await;
    let prometheus = Prometheus::start(&system).await;
    let media = serve_media().await;
    let api = system.api();

    // Traffic for every panel: jobs that complete, fail, and retry; gRPC calls.
    let mut ids = vec![api.submit_url(&format!("{media}/speech.wav"), &[]).await];
    let (status, upload) = api.upload(&media_dir().join("speech.mp3"), &[]).await;
    assert_eq!(status, 201, "{upload}");
    ids.push(upload["id"].as_str().expect("id").to_owned());
    ids.push(api.submit_url(&format!("{media}/missing.wav"), &[]).await);
    ids.push(api.submit_url(&format!("{media}/unavailable.wav"), &[]).await);
    for id in &ids {
        api.finished(id, Duration::from_secs(180)).await;
    }
    let mut grpc = system.grpc_client().await;
    grpc.get(steno_proto::v1::GetRequest { id: ids[0].clone() }).await.expect("grpc get");
    let _ = grpc.get(steno_proto::v1::GetRequest { id: "no-such-job".into() }).await;

    wait_until("prometheus to have scraped the finished jobs", Duration::from_secs(30), || async {
        let result = prometheus.query("sum(steno_jobs_finished_total)").await.ok()?;
        let total = result.first()?["value"][1].as_str()?.parse::<f64>().ok()?;
        (total >= ids.len() as f64).then_some(())
    })
    .await;
    // Rates need two samples of every series in their window.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut problems = Vec::new();
    for (dashboard, panel, may_be_empty, expr) in dashboard_queries() {
        match prometheus.query(&expr).await {
            Err(e) => problems.push(format!("{dashboard} / {panel}: invalid: {e}\n    {expr}")),
            Ok(result) if result.is_empty() && !may_be_empty => {
                problems.push(format!("{dashboard} / {panel}: no data\n    {expr}"))
            }
            Ok(_) => {}
        }
    }
    for expr in rule_expressions() {
        if let Err(e) = prometheus.query(&expr).await {
            problems.push(format!("alert rule invalid: {e}\n    {expr}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // One job is one trace: every stage's events carry the job's trace id,
    // each stage from its own span.
    let parents: Vec<(i32, String)> = system.job_events(&ids[0]).await.into_iter().map(|(e, p)| (e.stage, p)).collect();
    let trace_ids: std::collections::BTreeSet<&str> = parents.iter().map(|(_, p)| p.get(3..35).unwrap_or("")).collect();
    assert_eq!(trace_ids.len(), 1, "one trace id for the whole job: {parents:?}");
    assert!(!trace_ids.contains(""), "every event carries a traceparent: {parents:?}");
    let stages: std::collections::BTreeSet<i32> = parents.iter().map(|(stage, _)| *stage).collect();
    assert!(stages.len() >= 4, "events from download, transcode, transcribe and export: {parents:?}");
    let spans: std::collections::BTreeSet<&str> = parents.iter().map(|(_, p)| p.get(36..52).unwrap_or("")).collect();
    assert!(spans.len() >= 5, "the submission and each stage have their own span: {parents:?}");

    // Park five jobs in front of a stopped transcribe stage.
    system.stop_service("transcribe");
    for _ in 0..5 {
        api.submit_url(&format!("{media}/speech.wav"), &[]).await;
    }
    let nats = async_nats::connect(&system.nats_url).await.expect("connect");
    let js = async_nats::jetstream::new(nats);
    let jetstream_depth = || async {
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            js.get_consumer_from_stream("transcribe", "STENO_TRANSCRIBE").await.ok()?;
        let info = consumer.info().await.ok()?;
        Some(info.num_pending + info.num_ack_pending as u64)
    };
    wait_until("five tasks parked for transcribe", Duration::from_secs(60), || async {
        (jetstream_depth().await? == 5).then_some(())
    })
    .await;
    let prometheus_depth = || async {
        let result = prometheus.query(r#"max(steno_stage_queue_depth{stage="transcribe"})"#).await.ok()?;
        result.first()?["value"][1].as_str()?.parse::<f64>().ok()
    };
    wait_until("prometheus to show the parked tasks", Duration::from_secs(30), || async {
        (prometheus_depth().await? == 5.0).then_some(())
    })
    .await;
    assert_eq!(jetstream_depth().await, Some(5), "JetStream still reports the same depth");
    let value = prometheus.query(r#"steno_stage_queue_depth{stage="transcribe",job="steno-gateway"}"#).await;
    assert_eq!(value.map(|r| r.len()), Ok(1), "the gateway reports the depth of a stopped stage");
    system.stop().await;
}
