//! A multilingual model finds the spoken language itself (stored on the
//! job, one for the whole job even when it is split into parts) and
//! translates into English on request.

use std::{path::PathBuf, process::Command, time::Duration};

use crate::{
    fixtures::{run, word_error_rate},
    harness::{System, models_dir},
};

const JOB_TIMEOUT: Duration = Duration::from_secs(240);

/// The multilingual test model (`scripts/fetch-test-model.sh`).
const MODEL: &str = "base-q5_1";

/// What the Spanish clip says (espeak-ng's Spanish voice).
const SPANISH_TEXT: &str = "Hola, buenos días. Hoy vamos a hablar del nuevo proyecto de la empresa.";

/// English words a translation of [`SPANISH_TEXT`] should mostly contain.
const ENGLISH_WORDS: [&str; 7] = ["hello", "good", "morning", "today", "talk", "new", "project"];

/// [`SPANISH_TEXT`] read `times` times.
fn spanish_clip(dir: &std::path::Path, times: usize) -> PathBuf {
    let wav = dir.join(format!("spanish-{times}.wav"));
    run(Command::new("espeak-ng")
        .args(["-v", "es", "-s", "140", "-w"])
        .arg(&wav)
        .arg([SPANISH_TEXT; 4][..times].join(" ")));
    wav
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multilingual_model_detects_spanish_and_translates_it() {
    let model = models_dir().join(format!("ggml-{MODEL}.bin"));
    assert!(model.exists(), "{} is missing: run scripts/fetch-test-model.sh", model.display());
    // Audio over 10 s is split into parts of about 10 s.
    let split = [("STENO_TRANSCRIBE__SPLIT_AFTER_SECS", "10"), ("STENO_TRANSCRIBE__PART_SECS", "10")];
    let system = System::start_with(&split).await;
    let api = system.api();
    let clip = spanish_clip(system.dir.path(), 1);

    // No language given: the model detects it.
    let common = [("model", MODEL), ("diarize", "false"), ("formats", "txt")];
    let (status, job) = api.upload(&clip, &common).await;
    assert_eq!(status, 201, "{job}");
    let transcribed = job["id"].as_str().expect("id").to_owned();
    let (status, job) = api.upload(&clip, &[common.as_slice(), &[("translate", "true")]].concat()).await;
    assert_eq!(status, 201, "{job}");
    let translated = job["id"].as_str().expect("id").to_owned();
    // A well-formed code whisper has no token for is refused, not guessed.
    let (status, body) = api.upload(&clip, &[common.as_slice(), &[("language", "xx")]].concat()).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("language")), "{body}");
    assert!(body.to_string().contains("not a language whisper knows"), "{body}");
    let (status, job) = api.upload(&spanish_clip(system.dir.path(), 3), &common).await;
    assert_eq!(status, 201, "{job}");
    let long = job["id"].as_str().expect("id").to_owned();

    let job = api.finished(&transcribed, JOB_TIMEOUT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
    assert_eq!(job["language"], "es", "the detected language is stored on the job: {job}");
    let text = api.transcript(&transcribed, "txt").await;
    let wer = word_error_rate(SPANISH_TEXT, &text);
    eprintln!("spanish transcript (wer {wer:.2}): {text:?}");
    assert!(wer <= 0.3, "word error rate {wer:.2} for {text:?}");

    let job = api.finished(&translated, JOB_TIMEOUT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
    assert_eq!(job["language"], "es", "the job records the spoken language, not the target: {job}");
    let english = api.transcript(&translated, "txt").await;
    eprintln!("english translation: {english:?}");
    let said = words(&english);
    let found: Vec<&str> = ENGLISH_WORDS.iter().copied().filter(|w| said.iter().any(|s| s == w)).collect();
    assert!(found.len() >= 3, "expected an English translation, found only {found:?} in {english:?}");
    assert!(!said.iter().any(|w| w == "hablar" || w == "empresa"), "still Spanish: {english:?}");

    let job = api.finished(&long, JOB_TIMEOUT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", system.logs());
    assert_eq!(job["language"], "es", "{job}");
    let text = api.transcript(&long, "txt").await;
    let wer = word_error_rate(&[SPANISH_TEXT; 3].join(" "), &text);
    assert!(wer <= 0.3, "split job: word error rate {wer:.2} for {text:?}");
    let events = system.job_events(&long).await;
    assert!(events.iter().any(|(e, _)| e.message.starts_with("split into")), "the long clip was split");
    system.stop().await;
}
