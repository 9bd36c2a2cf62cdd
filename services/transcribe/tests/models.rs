//! The model cache stays bounded: beyond `transcribe.max_loaded_models` (or
//! `max_loaded_mb`) the least recently used model is unloaded, while a task
//! that still holds it keeps working. Real whisper.cpp models from the data
//! directory (scripts/fetch-test-model.sh).

use steno_runtime::config::{TranscribeConfig, data_home};
use steno_transcribe::models::Models;

fn config(max_loaded_models: usize, max_loaded_mb: u64) -> TranscribeConfig {
    TranscribeConfig {
        models_dir: data_home().join("models"),
        vad_model: "".into(),
        use_gpu: false,
        max_loaded_models,
        max_loaded_mb,
        ..Default::default()
    }
}

fn held(models: &Models) -> Vec<(&'static str, bool)> {
    let names = ["tiny.en", "tiny.en-q5_1", "tiny.en-q8_0"];
    models.loaded().iter().map(|(n, dtw)| (names.into_iter().find(|k| k == n).expect("known model"), *dtw)).collect()
}

#[test]
fn the_least_recently_used_model_goes_first_beyond_the_count() {
    let models = Models::new(&config(2, 0));
    let in_use = models.get("tiny.en-q5_1", false).expect("q5_1");
    models.get("tiny.en-q8_0", false).expect("q8_0");
    models.get("tiny.en-q5_1", false).expect("q5_1 again, from the cache");
    models.get("tiny.en-q5_1", true).expect("q5_1 with word alignment");
    assert_eq!(held(&models), [("tiny.en-q5_1", false), ("tiny.en-q5_1", true)], "q8_0 was the least recently used");
    models.get("tiny.en", true).expect("tiny.en");
    assert_eq!(held(&models), [("tiny.en", true), ("tiny.en-q5_1", true)]);
    assert!(in_use.state().is_ok(), "a model evicted while in use still works for its holder");
}

#[test]
fn the_size_limit_holds_as_well() {
    // q5_1 is 32 MB and q8_0 44 MB: both do not fit in 60 MiB.
    let models = Models::new(&config(0, 60));
    models.get("tiny.en-q5_1", false).expect("q5_1");
    models.get("tiny.en-q8_0", false).expect("q8_0");
    assert_eq!(held(&models), [("tiny.en-q8_0", false)]);
}
