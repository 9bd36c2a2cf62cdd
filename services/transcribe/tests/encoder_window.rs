//! A short piece encoded as less than whisper's 30 s window
//! (`transcribe.min_window_secs`, whisper.cpp's `audio_ctx`) gives the same
//! words at the same times as one encoded as the whole window. Real
//! whisper.cpp with tiny.en (scripts/fetch-test-model.sh) on flite speech.

mod common;

use common::speech;

use steno_runtime::{
    config::{TranscribeConfig, data_home},
    proto::JobOptions,
    stage::ProgressReporter,
    transcript::Word,
};
use steno_transcribe::{models::Models, transcribe_samples, whisper};

/// The words of `samples` with the stage's default encoder window, or every
/// piece padded to 30 s.
fn words_of(samples: &[f32], models: &Models, default_window: bool) -> Vec<Word> {
    let model = models.get("tiny.en", true).expect("tiny.en");
    let window = if default_window {
        whisper::EncoderWindow::of(&TranscribeConfig::default())
    } else {
        whisper::EncoderWindow::default()
    };
    let request = whisper::Request::new(&JobOptions { model: "tiny.en".into(), ..Default::default() }, 2, window);
    let (progress, _watch) = tokio::sync::watch::channel(0.0_f32);
    let transcript =
        transcribe_samples(&model, None, samples, &request, ProgressReporter::new(progress)).expect("transcribe");
    transcript.segments.into_iter().flat_map(|s| s.words).collect()
}

fn models() -> Models {
    Models::new(&TranscribeConfig {
        models_dir: data_home().join("models"),
        vad_model: "".into(),
        use_gpu: false,
        ..Default::default()
    })
}

/// The words alone: punctuation may differ ("team," or "team.").
fn text(words: &[Word]) -> String {
    let bare = |w: &Word| w.text.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
    words.iter().map(bare).collect::<Vec<_>>().join(" ")
}

#[test]
fn a_short_piece_encoded_as_less_than_30_s_keeps_its_words_and_their_times() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut samples = speech("Please send the quarterly report to the finance team.", dir.path());
    let pause_at_ms = samples.len() as u64 / 16;
    samples.extend(vec![0.0; 32_000]);
    samples.extend(speech("The meeting moved to Thursday afternoon.", dir.path()));
    let models = models();

    let full = words_of(&samples, &models, false);
    let fitted = words_of(&samples, &models, true);
    assert_eq!(text(&fitted), text(&full));
    assert!(text(&fitted).contains("quarterly report") && text(&fitted).contains("thursday"), "{}", text(&fitted));
    // DTW places a word to within a few hundred ms either way; on this clip
    // the two differ by 70 ms a word on average and 320 ms at most.
    let apart: Vec<u64> = full
        .iter()
        .zip(&fitted)
        .map(|(a, b)| a.start_ms.abs_diff(b.start_ms).max(a.end_ms.abs_diff(b.end_ms)))
        .collect();
    let mean = apart.iter().sum::<u64>() / apart.len() as u64;
    assert!(mean <= 120 && apart.iter().all(|&ms| ms <= 400), "word times apart by {apart:?} ms");
    assert!(fitted.windows(2).all(|w| w[0].end_ms <= w[1].start_ms), "fitted word times overlap: {fitted:?}");
    let meeting = fitted.iter().find(|w| w.text.to_lowercase().contains("meeting")).expect("the second sentence");
    assert!(
        meeting.start_ms >= pause_at_ms + 1_500,
        "\"meeting\" at {} ms, the pause starts at {pause_at_ms} ms",
        meeting.start_ms
    );
}

/// One sentence of 5 s, which tiny.en read over and over when its encoder
/// was fitted to 6 s (the engines bench's `--encoder-window`): the least
/// window of 10 s keeps it to once.
#[test]
fn one_sentence_is_read_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sentence = "The night nurse changed the annual report in the morning while the rest of us waited outside.";
    let fitted = text(&words_of(&speech(sentence, dir.path()), &models(), true));
    assert_eq!(fitted.matches("nurse").count(), 1, "{fitted}");
    assert!(fitted.contains("annual report") && fitted.ends_with("outside"), "{fitted}");
}
