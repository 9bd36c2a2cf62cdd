//! The `steno` CLI against a running system, as a user at a terminal or a
//! script drives it: several inputs side by side with job options, the
//! `jobs` and `speakers` subcommands, `--json`, exit codes and completions.

use std::process::{Command, Output};

use crate::{
    fixtures::{SPEECH_TEXT, media_dir, word_error_rate},
    harness::{System, bin_dir},
};

fn steno(system: &System, args: &[&str]) -> Output {
    Command::new(bin_dir().join("steno"))
        .args(["--server", &system.http, "--api-key", &system.api_key])
        .args(args)
        .env_remove("STENO_HOME")
        .output()
        .expect("run steno")
}

fn ok(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "steno failed ({}): {stderr}", output.status);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(output: Output) -> serde_json::Value {
    serde_json::from_str(&ok(output)).expect("JSON on stdout")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_runs_jobs_side_by_side_and_looks_after_them() {
    let system = System::start().await;
    let out = system.dir.path().join("out");
    let (mp3, wav) = (media_dir().join("speech.mp3"), media_dir().join("speech.wav"));
    let (mp3, wav, out_arg) = (mp3.to_str().expect("path"), wav.to_str().expect("path"), out.to_str().expect("path"));

    // One input and format needs no -o; several do.
    let refused = steno(&system, &["transcribe", mp3, wav, "-f", "srt"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("-o DIR"));

    let args = ["transcribe", mp3, wav, "-o", out_arg, "-f", "srt", "-f", "txt", "--json"];
    let options = ["--no-word-timestamps", "--beam-size", "2", "--prompt", "Milk and bread.", "--speakers", "1"];
    let reports = json(steno(&system, &[&args[..], &options[..]].concat()));
    let reports = reports.as_array().expect("a report per input");
    assert_eq!(reports.len(), 2);
    for name in ["speech.srt", "speech.txt", "speech-2.srt", "speech-2.txt"] {
        let text = std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let wer = word_error_rate(SPEECH_TEXT, &crate::fixtures::srt_text(&text));
        assert!(wer <= 0.25, "{name}: word error rate {wer}: {text}");
    }
    let id = reports[0]["id"].as_str().expect("job id");
    assert_eq!(reports[0]["status"], "completed");

    let job = json(steno(&system, &["jobs", "show", id, "--json"]));
    let options = &job["options"];
    assert_eq!((options["beam_size"].as_u64(), options["word_timestamps"].as_bool()), (Some(2), Some(false)));
    assert_eq!(options["initial_prompt"], "Milk and bread.");
    assert_eq!(options["num_speakers"], 1);
    let listed = json(steno(&system, &["jobs", "list", "--json", "--status", "completed"]));
    assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(2));
    assert!(ok(steno(&system, &["jobs", "list"])).contains(id), "the table lists the job");

    assert!(ok(steno(&system, &["speakers", id, "S1=Ann"])).contains("Ann"));
    let txt = ok(steno(&system, &["jobs", "download", id, "-f", "txt"]));
    assert!(txt.starts_with("Ann:"), "renamed in the transcript: {txt}");

    let refused = steno(&system, &["jobs", "cancel", id]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("409"), "{refused:?}");

    // A job that fails is exit code 3, with its reason.
    let failed = steno(&system, &["transcribe", media_dir().join("not-media.mp3").to_str().expect("path")]);
    assert_eq!(failed.status.code(), Some(3), "{failed:?}");
    assert!(String::from_utf8_lossy(&failed.stderr).contains("failed"), "{failed:?}");

    ok(steno(&system, &["jobs", "delete", id]));
    let gone = steno(&system, &["jobs", "show", id]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("does not exist"), "{gone:?}");

    for (shell, marker) in [("bash", "_steno()"), ("zsh", "#compdef steno"), ("fish", "complete -c steno")] {
        assert!(ok(steno(&system, &["completions", shell])).contains(marker), "{shell} completions");
    }
    system.stop().await;
}
