//! One-command local mode: `steno transcribe <file>` with no running system
//! starts a private nats-server, an embedded SQLite ledger and every stage
//! as its own process, prints the transcript, and leaves nothing behind.

use std::process::Command;

use crate::{
    fixtures::{SPEECH_TEXT, media_dir, word_error_rate},
    harness::{bin_dir, free_port, repo_root},
};

fn local_dirs() -> usize {
    std::fs::read_dir(std::env::temp_dir())
        .map(|entries| {
            entries.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("steno-local-")).count()
        })
        .unwrap_or(0)
}

#[test]
fn transcribe_without_a_running_system() {
    let before = local_dirs();
    let output = Command::new(bin_dir().join("steno"))
        .args(["transcribe", "--local", "--format", "srt"])
        .arg(media_dir().join("speech.mp3"))
        .current_dir(repo_root())
        // Nothing answers here, so local mode starts its own nats-server.
        .env("STENO_NATS__URL", format!("nats://127.0.0.1:{}", free_port()))
        .env_remove("DATABASE_URL")
        .env_remove("STENO_SERVER")
        .output()
        .expect("run steno");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "steno transcribe failed:\n{stderr}");
    assert!(stderr.contains("starting a private nats-server"), "{stderr}");
    let srt = String::from_utf8_lossy(&output.stdout);
    assert!(srt.starts_with("1\n") && srt.contains(" --> "), "{srt}");
    let wer = word_error_rate(SPEECH_TEXT, &crate::fixtures::srt_text(&srt));
    assert!(wer <= 0.25, "word error rate {wer}: {srt}");
    assert_eq!(local_dirs(), before, "the local system's temporary directory was removed");
}

/// A service that exits while the local system starts ends the wait at
/// once, with what it said.
#[test]
fn a_service_that_cannot_start_is_named_with_its_last_words() {
    // Its own temporary directory, apart from the other test's count.
    let tmp = tempfile::tempdir().expect("temp dir");
    let output = Command::new(bin_dir().join("steno"))
        .args(["transcribe", "--local"])
        .arg(media_dir().join("speech.mp3"))
        .current_dir(repo_root())
        .env("STENO_NATS__URL", format!("nats://127.0.0.1:{}", free_port()))
        .env("STENO_TRANSCRIBE__DEFAULT_MODEL", "no-such-model")
        .env("TMPDIR", tmp.path())
        .env_remove("DATABASE_URL")
        .env_remove("STENO_SERVER")
        .output()
        .expect("run steno");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let said = stderr.lines().position(|l| l.contains("steno-transcribe exited while the local system was starting"));
    let stopped = stderr.lines().position(|l| l.contains("did not stop") || l.starts_with("logs of the local system"));
    assert!(said.is_some() && said < stopped, "the failure is said before the rest is stopped: {stderr}");
    assert!(stderr.contains("no-such-model"), "the service's own words: {stderr}");
}
