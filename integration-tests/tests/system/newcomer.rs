//! A newcomer's first minutes, as the README has them: in a fresh `HOME`
//! with no config and no `DATABASE_URL`, `steno up` runs with its own
//! nats-server and ledger in the data directory; `steno transcribe` from
//! another directory prints the transcript; `steno jobs list` shows the job,
//! also after `steno up` is restarted; a wrong default model is named
//! within seconds.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::{
    fixtures::{SPEECH_TEXT, media_dir, word_error_rate},
    harness::{bin_dir, free_port, models_dir, wait_until},
};

/// A fresh home whose data directory holds only the installed models (as
/// `scripts/setup.sh` leaves it), and the addresses one `steno up` uses.
struct Newcomer {
    home: tempfile::TempDir,
    /// Where the commands run: not the checkout, so no `config/steno.toml`.
    elsewhere: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Newcomer {
    fn new() -> Self {
        let home = tempfile::tempdir().expect("home");
        let data = home.path().join(".local/share/steno");
        std::fs::create_dir_all(&data).expect("data dir");
        std::os::unix::fs::symlink(models_dir(), data.join("models")).expect("models");
        // Own ports, so tests run side by side; everything else is default.
        let mut env = vec![
            ("STENO_GATEWAY__HTTP_ADDR".to_owned(), format!("127.0.0.1:{}", free_port())),
            ("STENO_GATEWAY__GRPC_ADDR".to_owned(), format!("127.0.0.1:{}", free_port())),
        ];
        for service in crate::harness::SERVICES {
            env.push((format!("STENO_{}__OPS_ADDR", service.to_uppercase()), format!("127.0.0.1:{}", free_port())));
        }
        Self { home, elsewhere: tempfile::tempdir().expect("work dir"), env }
    }

    fn data(&self) -> PathBuf {
        self.home.path().join(".local/share/steno")
    }

    fn steno(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin_dir().join("steno"));
        command.args(args).current_dir(self.elsewhere.path()).env("HOME", self.home.path());
        for var in ["DATABASE_URL", "STENO_HOME", "XDG_DATA_HOME", "STENO_SERVER", "STENO_API_KEY"] {
            command.env_remove(var);
        }
        command.envs(self.env.iter().cloned());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.steno(args).output().expect("run steno");
        assert!(output.status.success(), "steno {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        output
    }

    /// `steno up`, once it says everything is ready.
    async fn up(&self, log: &Path) -> Child {
        let file = std::fs::File::create(log).expect("log");
        let mut child = self.steno(&["up"]).stdout(Stdio::null()).stderr(file).spawn().expect("start steno up");
        let log = log.to_owned();
        wait_until("steno up to be ready", Duration::from_secs(120), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let exited = child.try_wait().ok().flatten();
            assert!(exited.is_none(), "steno up exited ({exited:?}):\n{text}");
            async move { text.contains("steno is up").then_some(()) }
        })
        .await;
        child
    }

    fn jobs(&self) -> Vec<serde_json::Value> {
        let listed: serde_json::Value =
            serde_json::from_slice(&self.run(&["jobs", "list", "--json"]).stdout).expect("jobs list --json");
        listed["jobs"].as_array().cloned().unwrap_or_default()
    }
}

/// SIGTERM, as Ctrl-C or a service manager would stop it; waits for the exit.
fn stop(mut child: Child) {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    let status = child.wait().expect("wait");
    assert!(status.success(), "steno up stopped cleanly: {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn steno_up_with_nothing_installed_keeps_jobs_across_restarts() {
    let newcomer = Newcomer::new();
    let log = newcomer.elsewhere.path().join("up.log");
    let up = newcomer.up(&log).await;
    let said = std::fs::read_to_string(&log).expect("log");
    let data = newcomer.data();
    for place in ["REST", "gRPC", "metrics", "api-key", "steno.db"] {
        assert!(said.contains(place), "the summary names {place}: {said}");
    }
    assert!(said.contains(&data.display().to_string()), "everything lives in the data directory: {said}");
    assert!(data.join("steno.db").is_file() && data.join("api-key").is_file(), "ledger and key in {data:?}");

    let clip = newcomer.elsewhere.path().join("talk.mp3");
    std::fs::copy(media_dir().join("speech.mp3"), &clip).expect("copy clip");
    let transcript = newcomer.run(&["transcribe", "talk.mp3", "--no-diarize"]);
    let text = String::from_utf8_lossy(&transcript.stdout);
    let wer = word_error_rate(SPEECH_TEXT, &text);
    assert!(wer <= 0.25, "word error rate {wer}: {text}");
    let jobs = newcomer.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!((jobs[0]["upload_name"].as_str(), jobs[0]["status"].as_str()), (Some("talk.mp3"), Some("completed")));

    stop(up);
    let up = newcomer.up(&log).await;
    let after = newcomer.jobs();
    assert_eq!(after.iter().map(|j| &j["id"]).collect::<Vec<_>>(), [&jobs[0]["id"]], "the job survived the restart");
    let id = jobs[0]["id"].as_str().expect("id");
    let again = newcomer.run(&["jobs", "download", id, "-f", "txt"]);
    assert_eq!(String::from_utf8_lossy(&again.stdout), text, "and so did its transcript");
    stop(up);
}

#[test]
fn a_wrong_default_model_is_named_within_seconds() {
    let newcomer = Newcomer::new();
    let clip = media_dir().join("speech.mp3");
    let started = Instant::now();
    let output = newcomer
        .steno(&["transcribe", "--local", clip.to_str().expect("path")])
        .env("STENO_TRANSCRIBE__DEFAULT_MODEL", "no-such-model")
        .output()
        .expect("run steno");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(15), "failed after {took:?}, not within 15 s: {stderr}");
    assert!(stderr.contains("steno-transcribe exited while steno was starting"), "{stderr}");
    assert!(stderr.contains("model no-such-model is not installed"), "the service's own words: {stderr}");
}
