//! The deployment files agree with the code: every compose service runs a
//! real binary that accepts its command and environment, health checks hit
//! the ops port the config gives, Prometheus scrapes those ports, and the
//! Kubernetes/KEDA manifests validate against their schemas and name the
//! runtime's own streams and consumers. No engine or cluster runs here; the
//! checks use the real binaries, `docker-compose config` and the published
//! schemas.

use std::{collections::BTreeMap, process::Command};

use serde_yaml::Value;
use steno_runtime::{proto::Stage, subjects};

use crate::harness::{SERVICES, bin_dir, compose_nats_passwords, repo_root};

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

fn yaml_documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join(path)).expect("read");
    serde_yaml::Deserializer::from_str(&text).map(|d| Value::deserialize(d).expect("yaml document")).collect()
}

use serde::Deserialize as _;

fn strings(value: &Value) -> Vec<String> {
    value.as_sequence().map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// Runs `steno-<binary> <args> --print-config` with exactly `env` and returns the config it would use.
fn print_config(binary: &str, args: &[String], env: &BTreeMap<String, String>) -> toml::Table {
    let config_file = repo_root().join("config/steno.toml");
    let args: Vec<String> = args
        .iter()
        .map(|a| if a == "/etc/steno/steno.toml" { config_file.display().to_string() } else { a.clone() })
        .collect();
    let output = Command::new(bin_dir().join(binary))
        .args(&args)
        .arg("--print-config")
        .env_clear()
        .envs(env)
        .output()
        .unwrap_or_else(|e| panic!("run {binary}: {e}"));
    assert!(
        output.status.success(),
        "{binary} {args:?} refused its compose config: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).parse().expect("printed config is TOML")
}

fn config_value(config: &toml::Table, key: &str) -> String {
    let (section, name) = key.split_once('.').expect("section.key");
    match &config[section][name] {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no port in {addr}"))
}

/// `docker-compose config`: the compose file as the engine would see it
/// (validated, variables interpolated, merge keys applied).
fn compose_config(grafana_password: Option<&str>) -> std::process::Output {
    let mut command = Command::new("docker-compose");
    command.arg("-f").arg(repo_root().join("deploy/docker-compose.yml")).arg("config").env("POSTGRES_PASSWORD", "pw");
    command.envs(compose_nats_passwords());
    match grafana_password {
        Some(password) => command.env("GRAFANA_ADMIN_PASSWORD", password),
        None => command.env_remove("GRAFANA_ADMIN_PASSWORD"),
    };
    command.output().expect("run docker-compose (Debian package docker-compose)")
}

#[test]
fn compose_services_match_the_binaries_and_their_config() {
    let rendered = compose_config(Some("secret"));
    assert!(rendered.status.success(), "docker-compose config: {}", String::from_utf8_lossy(&rendered.stderr));
    assert!(!compose_config(None).status.success(), "the compose file must not default the Grafana admin password");
    let compose: Value = serde_yaml::from_slice(&rendered.stdout).expect("rendered compose YAML");
    let dockerfile = std::fs::read_to_string(repo_root().join("deploy/docker/Dockerfile")).expect("Dockerfile");
    let services = compose["services"].as_mapping().expect("services");
    let mut ops_ports = BTreeMap::new();
    for (name, service) in services {
        let name = name.as_str().expect("service name");
        let Some(target) = service["build"]["target"].as_str() else { continue };
        assert!(dockerfile.contains(&format!(" AS {target}\n")), "{name}: Dockerfile has no target {target}");
        let stage = target.trim_end_matches("-cuda");
        assert!(SERVICES.contains(&stage), "{name}: {target} is not a steno service");

        let env: BTreeMap<String, String> = service["environment"]
            .as_mapping()
            .expect("environment")
            .iter()
            .map(|(k, v)| {
                let value = v.as_str().map_or_else(|| format!("{}", v.as_u64().unwrap_or(0)), str::to_owned);
                (k.as_str().expect("key").to_owned(), value)
            })
            .collect();
        let config = print_config(&format!("steno-{stage}"), &strings(&service["command"]), &env);
        for (var, value) in &env {
            if let Some(key) = var.strip_prefix("STENO_") {
                let key = key.to_lowercase().replacen("__", ".", 1);
                // Secrets reach the config but print as `redacted`.
                let expected = if key.ends_with("password") { "redacted" } else { value.as_str() };
                assert_eq!(config_value(&config, &key), expected, "{name}: {var} did not reach {key}");
            }
        }
        if let Some(url) = env.get("DATABASE_URL") {
            assert_eq!(config_value(&config, "gateway.database_url"), url.replace(":pw@", ":redacted@"));
        }

        let ops_port = port_of(&config_value(&config, &format!("{stage}.ops_addr")));
        let check = strings(&service["healthcheck"]["test"]).join(" ");
        let expected = [format!("127.0.0.1:{ops_port}/readyz"), format!("127.0.0.1:{ops_port}/healthz")];
        assert!(
            expected.iter().any(|e| check.contains(e)),
            "{name}: health check {check:?} misses ops port {ops_port}"
        );
        for published in service["ports"].as_sequence().into_iter().flatten() {
            let container = published["target"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("target port");
            let served = ["gateway.http_addr", "gateway.grpc_addr"].map(|k| port_of(&config_value(&config, k)));
            assert!(
                stage == "gateway" && served.contains(&container),
                "{name}: publishes {container}, which it does not serve"
            );
        }
        if !name.ends_with("-cuda") {
            ops_ports.insert(name.to_owned(), ops_port);
        }
    }
    for service in SERVICES {
        assert!(ops_ports.contains_key(service), "compose has no {service} service");
    }

    // Prometheus scrapes each service at its compose name and ops port.
    let prometheus = yaml("config/prometheus/prometheus.yml");
    for job in prometheus["scrape_configs"].as_sequence().expect("scrape configs") {
        for target in strings(&job["static_configs"][0]["targets"]) {
            let (host, port) = target.split_once(':').expect("host:port");
            assert_eq!(ops_ports.get(host), Some(&port.parse().expect("port")), "scrape target {target}");
        }
    }
}

#[test]
fn kubernetes_manifests_validate_and_scale_on_the_runtimes_consumers() {
    let output = Command::new("node")
        .arg(repo_root().join("deploy/k8s/validate/validate.mjs"))
        .output()
        .expect("run node (run `npm ci` in deploy/k8s/validate first)");
    assert!(
        output.status.success(),
        "manifest validation failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let deployments: Vec<String> = yaml_documents("deploy/k8s/base/workers.yaml")
        .iter()
        .filter(|d| d["kind"] == "Deployment")
        .map(|d| d["metadata"]["name"].as_str().expect("name").to_owned())
        .collect();
    let mut scaled = Vec::new();
    for object in yaml_documents("deploy/k8s/base/scaledobjects.yaml") {
        let target = object["spec"]["scaleTargetRef"]["name"].as_str().expect("target").to_owned();
        let stage = subjects::STAGES.into_iter().find(|s| subjects::stage_name(*s) == target).expect("a stage");
        assert!(deployments.contains(&target), "ScaledObject {target} scales no Deployment");
        let trigger = &object["spec"]["triggers"][0];
        assert_eq!(trigger["type"], "nats-jetstream");
        assert_eq!(trigger["metadata"]["stream"].as_str(), Some(subjects::stage_stream(stage).as_str()));
        assert_eq!(trigger["metadata"]["consumer"].as_str(), Some(subjects::stage_consumer(stage)));
        if stage == Stage::Transcribe {
            assert_eq!(object["spec"]["minReplicaCount"].as_u64(), Some(0), "transcribe scales to zero when idle");
        }
        scaled.push(stage);
    }
    assert_eq!(scaled, subjects::STAGES.to_vec(), "one ScaledObject per stage");

    let patch = yaml("deploy/k8s/overlays/gpu/transcribe-gpu.yaml");
    assert!(deployments.iter().any(|d| patch["metadata"]["name"].as_str() == Some(d)));
    let spec = &patch["spec"]["template"]["spec"];
    assert!(spec["nodeSelector"].as_mapping().is_some_and(|m| !m.is_empty()), "GPU node selector");
    assert!(spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"].as_u64() == Some(1));
}
