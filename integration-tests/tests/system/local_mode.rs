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
    assert!(stderr.contains("starting its own nats-server"), "{stderr}");
    let srt = String::from_utf8_lossy(&output.stdout);
    assert!(srt.starts_with("1\n") && srt.contains(" --> "), "{srt}");
    let wer = word_error_rate(SPEECH_TEXT, &crate::fixtures::srt_text(&srt));
    assert!(wer <= 0.25, "word error rate {wer}: {srt}");
    assert_eq!(local_dirs(), before, "the local system's temporary directory was removed");
}
