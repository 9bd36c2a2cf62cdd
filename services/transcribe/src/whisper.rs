//! One transcription with whisper.cpp: 16 kHz mono samples in, segments with
//! word times (DTW token times where the model's alignment heads are known)
//! out.

use std::sync::OnceLock;

use steno_runtime::{
    stage::{ProgressReporter, StageError},
    transcript::{Segment, Transcript, Word},
};
use tokio_util::sync::CancellationToken;
use whisper_rs::{FullParams, SamplingStrategy, WhisperState};

use crate::models::Model;

/// Which whisper.cpp backend this binary was built with.
pub const BACKEND: &str = if cfg!(feature = "cuda") { "cuda" } else { "cpu" };

const SAMPLE_RATE: u64 = 16_000;

pub struct Request {
    /// ISO 639-1 code, or empty for the model's choice (detection on
    /// multilingual models, English on `.en` models).
    pub language: String,
    pub threads: usize,
    /// 0 or 1: greedy; more: beam search with that many beams.
    pub beam_size: u32,
    /// First-try temperature; whisper.cpp's fallback raises it.
    pub temperature: f32,
    /// The initial prompt followed by the hotwords.
    pub prompt: String,
    pub translate: bool,
    pub word_timestamps: bool,
    /// How much audio whisper's encoder is given for a piece.
    window: EncoderWindow,
    /// With no `language`, the one detected in the job's first piece: the
    /// later pieces are decoded in it too (as openai-whisper decides once
    /// from the first 30 s), so one job is not transcribed in several.
    detected: OnceLock<String>,
    /// Fires when the job is cancelled: whisper.cpp's abort callback stops
    /// the piece it is on.
    pub cancelled: CancellationToken,
}

impl Request {
    pub fn new(options: &steno_runtime::proto::JobOptions, threads: usize, window: EncoderWindow) -> Self {
        let mut prompt = options.initial_prompt.trim().to_owned();
        if !options.hotwords.is_empty() {
            if !prompt.is_empty() {
                prompt.push(' ');
            }
            prompt.push_str(&options.hotwords.join(", "));
            prompt.push('.');
        }
        Self {
            language: options.language.clone(),
            threads,
            beam_size: options.beam_size,
            temperature: options.temperature,
            prompt,
            translate: options.translate,
            word_timestamps: options.word_timestamps.unwrap_or(true),
            window,
            detected: OnceLock::new(),
            cancelled: CancellationToken::new(),
        }
    }

    /// The language to decode in: the job's, else English for `.en`
    /// models, else the one detected earlier in the job, else "auto"
    /// (whisper.cpp detects it).
    fn decode_language(&self, english_only: bool) -> &str {
        match self.language.as_str() {
            "" if english_only => "en",
            "" => self.detected.get().map_or("auto", String::as_str),
            language => language,
        }
    }
}

/// The language spoken at the start of `samples` (whisper looks at the
/// first 30 s), for a job on a multilingual model that names none.
pub fn detect_language(model: &Model, samples: &[f32], threads: usize) -> Result<String, StageError> {
    let failed = |e| StageError::Retryable(anyhow::anyhow!("whisper.cpp language detection failed: {e}"));
    let mut state = model.state()?;
    state.pcm_to_mel(samples, threads).map_err(failed)?;
    let (id, _) = state.lang_detect(0, threads).map_err(failed)?;
    model.keep_state(state);
    whisper_rs::get_lang_str(id)
        .map(str::to_owned)
        .ok_or_else(|| StageError::Retryable(anyhow::anyhow!("whisper.cpp detected no language (id {id})")))
}

/// Runs whisper.cpp over all of `samples` in `state` (blocking; call from
/// a blocking thread). Nothing of the state's earlier text is carried over.
pub fn transcribe_with(
    state: &mut WhisperState,
    model: &Model,
    samples: &[f32],
    request: &Request,
    progress: ProgressReporter,
) -> Result<Transcript, StageError> {
    let strategy = match request.beam_size {
        0 | 1 => SamplingStrategy::Greedy { best_of: 1 },
        beams => SamplingStrategy::BeamSearch { beam_size: beams as i32, patience: -1.0 },
    };
    let mut params = FullParams::new(strategy);
    params.set_n_threads(i32::try_from(request.threads).unwrap_or(1));
    params.set_temperature(request.temperature);
    params.set_translate(request.translate);
    if !request.prompt.is_empty() {
        params.set_initial_prompt(&request.prompt);
    }
    let language = request.decode_language(model.english_only());
    params.set_language(Some(language));
    params.set_token_timestamps(request.word_timestamps);
    if let Some(positions) = audio_ctx(samples.len(), request.window) {
        params.set_audio_ctx(positions);
    }
    // Guards against repetition loops and invented text, stated rather than
    // left to the library's defaults: no text carried in from an earlier
    // piece; non-speech tokens and blanks suppressed; a window whose
    // decoding is too repetitive (entropy) or unlikely (log-probability) is
    // decoded again 0.2 hotter; windows that are likely no speech are skipped.
    params.set_no_context(true);
    params.set_suppress_nst(true);
    params.set_suppress_blank(true);
    params.set_temperature_inc(0.2);
    params.set_entropy_thold(2.4);
    params.set_logprob_thold(-1.0);
    params.set_no_speech_thold(0.6);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);
    params.set_progress_callback_safe(move |percent: i32| progress.report(percent as f32 / 100.0));
    // whisper-rs 0.16 boxes the closure as `Box<dyn FnMut>` but its
    // trampoline reads the pointer as the closure's own type: handing it a
    // `Box<dyn FnMut>` makes the two agree (a bare closure reads garbage).
    let cancelled = request.cancelled.clone();
    let abort: Box<dyn FnMut() -> bool> = Box::new(move || cancelled.is_cancelled());
    params.set_abort_callback_safe(abort);

    state.full(params, samples).map_err(|e| StageError::Retryable(anyhow::anyhow!("whisper.cpp failed: {e}")))?;
    let decoded_in = whisper_rs::get_lang_str(state.full_lang_id_from_state());
    if let Some(detected) = decoded_in
        && request.language.is_empty()
        && !model.english_only()
    {
        request.detected.get_or_init(|| detected.to_owned());
    }
    let language = decoded_in.unwrap_or(language).to_owned();
    let eot = model.context.token_eot();
    let mut segments = read_segments(state, eot, model.dtw);
    segments.iter_mut().for_each(|s| s.temperature = request.temperature);
    if !request.word_timestamps {
        segments.iter_mut().for_each(|s| s.words.clear());
    }
    Ok(Transcript {
        language,
        duration_ms: samples.len() as u64 * 1000 / SAMPLE_RATE,
        segments,
        ..Transcript::default()
    })
}

/// How much audio whisper's encoder is given for a piece (whisper.cpp's
/// `audio_ctx`); the default pads every piece to whisper's 30 s window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EncoderWindow {
    /// A piece no longer than this many seconds is encoded as this long
    /// (with a second to spare) rather than padded to 30 s; 0: never.
    pub min_secs: f32,
    /// A longer piece too is encoded at its own length plus a second.
    pub fit: bool,
    /// A fitted longer piece is encoded as at least this many seconds.
    pub fit_min_secs: f32,
}

impl EncoderWindow {
    /// The window the service's config asks for.
    pub fn of(config: &steno_runtime::config::TranscribeConfig) -> Self {
        Self { min_secs: config.min_window_secs, fit: config.fit_encoder, fit_min_secs: config.fit_min_secs }
    }
}

/// The encoder positions (20 ms each; 1500 make whisper's 30 s window) for
/// a piece of `samples`, rounded up to 64; `None` for the whole window.
fn audio_ctx(samples: usize, window: EncoderWindow) -> Option<i32> {
    const FULL: usize = 1500;
    let samples_of = |secs: f32| (secs.max(0.0) * SAMPLE_RATE as f32) as usize;
    let floor = samples_of(window.min_secs);
    let encoded = match samples {
        short if short <= floor => floor,
        longer if window.fit => longer.max(samples_of(window.fit_min_secs)),
        _ => return None,
    };
    let positions = (encoded.div_ceil(320) + 50).next_multiple_of(64);
    (positions < FULL).then_some(positions as i32)
}

/// A text token as whisper.cpp reports it (times in milliseconds).
struct Token {
    id: i32,
    bytes: Vec<u8>,
    probability: f32,
    logprob: f32,
    start_ms: u64,
    end_ms: u64,
}

fn read_segments(state: &WhisperState, eot: i32, dtw: bool) -> Vec<Segment> {
    let mut segments = Vec::new();
    for segment in state.as_iter() {
        let start_ms = centis_to_ms(segment.start_timestamp());
        let end_ms = centis_to_ms(segment.end_timestamp()).max(start_ms);
        let mut tokens = Vec::new();
        for index in 0..segment.n_tokens() {
            let Some(token) = segment.get_token(index) else { continue };
            let data = token.token_data();
            // Ids from end-of-text up are special (timestamps, task, language).
            if data.id >= eot {
                continue;
            }
            let time = if dtw && data.t_dtw >= 0 { data.t_dtw } else { data.t0 };
            tokens.push(Token {
                id: data.id,
                bytes: token.to_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
                probability: data.p,
                logprob: data.plog,
                start_ms: centis_to_ms(time).clamp(start_ms, end_ms),
                end_ms: centis_to_ms(data.t1).clamp(start_ms, end_ms),
            });
        }
        let text = segment.to_str_lossy().map(|t| t.trim().to_owned()).unwrap_or_default();
        if text.is_empty() {
            continue;
        }
        let avg_logprob =
            if tokens.is_empty() { 0.0 } else { tokens.iter().map(|t| t.logprob).sum::<f32>() / tokens.len() as f32 };
        let words = group_words(&tokens, end_ms);
        segments.push(Segment {
            start_ms,
            end_ms,
            compression_ratio: compression_ratio(&text),
            text,
            avg_logprob,
            words,
            tokens: tokens.iter().map(|t| t.id).collect(),
            no_speech_prob: segment.no_speech_probability(),
            ..Segment::default()
        });
    }
    segments
}

/// Joins tokens into words: a token starting with a space begins a new word.
/// A word runs from its first token's time to the next word's start (the
/// segment end for the last word).
fn group_words(tokens: &[Token], segment_end_ms: u64) -> Vec<Word> {
    let mut groups: Vec<Vec<&Token>> = Vec::new();
    for token in tokens {
        let starts_word = token.bytes.first() == Some(&b' ');
        match groups.last_mut() {
            Some(group) if !starts_word => group.push(token),
            _ => groups.push(vec![token]),
        }
    }
    let mut words: Vec<Word> = groups
        .iter()
        .filter_map(|group| {
            let bytes: Vec<u8> = group.iter().flat_map(|t| t.bytes.iter().copied()).collect();
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            if text.is_empty() {
                return None;
            }
            let probability = group.iter().map(|t| t.probability).sum::<f32>() / group.len() as f32;
            let start_ms = group.first().map_or(0, |t| t.start_ms);
            let end_ms = group.last().map_or(start_ms, |t| t.end_ms);
            Some(Word { start_ms, end_ms, text, probability, speaker: None })
        })
        .collect();
    // Monotonic starts; each word ends where the next begins.
    for i in 0..words.len() {
        if i > 0 && words[i].start_ms < words[i - 1].start_ms {
            words[i].start_ms = words[i - 1].start_ms;
        }
        let next_start = words.get(i + 1).map_or(segment_end_ms, |w| w.start_ms);
        words[i].end_ms = next_start.max(words[i].start_ms);
    }
    words
}

/// The text's UTF-8 length over its zlib-compressed length (openai-whisper's
/// repetition measure).
fn compression_ratio(text: &str) -> f32 {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder.write_all(text.as_bytes()).and_then(|()| encoder.finish()).map_or(0, |c| c.len());
    if compressed == 0 { 0.0 } else { text.len() as f32 / compressed as f32 }
}

fn centis_to_ms(centis: i64) -> u64 {
    u64::try_from(centis).unwrap_or(0) * 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_is_detected_once_per_job() {
        let options =
            |language: &str| steno_runtime::proto::JobOptions { language: language.into(), ..Default::default() };
        let auto = Request::new(&options(""), 1, EncoderWindow::default());
        assert_eq!(auto.decode_language(true), "en");
        assert_eq!(auto.decode_language(false), "auto");
        auto.detected.set("es".into()).ok();
        assert_eq!(auto.decode_language(false), "es", "later pieces keep the first piece's language");
        let german = Request::new(&options("de"), 1, EncoderWindow::default());
        german.detected.set("es".into()).ok();
        assert_eq!(german.decode_language(false), "de");
    }

    fn token(text: &str, start_ms: u64) -> Token {
        Token {
            id: 0,
            bytes: text.as_bytes().to_vec(),
            probability: 0.5,
            logprob: -0.7,
            start_ms,
            end_ms: start_ms + 100,
        }
    }

    #[test]
    fn a_fitted_encoder_takes_a_piece_with_a_second_to_spare() {
        let fit = EncoderWindow { min_secs: 0.0, fit: true, fit_min_secs: 0.0 };
        assert_eq!(audio_ctx(52_560, fit), Some(256), "3.3 s: 165 positions + 50");
        assert_eq!(audio_ctx(0, fit), Some(64));
        assert_eq!(audio_ctx(28 * 16_000, fit), Some(1472));
        assert_eq!(audio_ctx(29 * 16_000, fit), None, "the whole window");
        assert_eq!(audio_ctx(30 * 16_000, fit), None);
    }

    #[test]
    fn a_short_piece_gets_the_least_window_and_a_longer_one_thirty_seconds() {
        let short = EncoderWindow { min_secs: 10.0, ..EncoderWindow::default() };
        assert_eq!(audio_ctx(52_560, short), Some(576), "10 s: 500 positions + 50");
        assert_eq!(audio_ctx(10 * 16_000, short), Some(576));
        assert_eq!(audio_ctx(10 * 16_000 + 1, short), None, "longer: the whole window");
        assert_eq!(audio_ctx(12 * 16_000, EncoderWindow { fit: true, ..short }), Some(704), "fitted: its own length");
        assert_eq!(audio_ctx(52_560, EncoderWindow::default()), None, "no least window, not fitted: 30 s");
        assert_eq!(audio_ctx(0, EncoderWindow { min_secs: 30.0, ..EncoderWindow::default() }), None);
    }

    #[test]
    fn a_fitted_longer_piece_gets_at_least_the_fitted_floor() {
        let hybrid = EncoderWindow { min_secs: 10.0, fit: true, fit_min_secs: 20.0 };
        assert_eq!(audio_ctx(52_560, hybrid), Some(576), "short: 10 s");
        assert_eq!(audio_ctx(12 * 16_000, hybrid), Some(1088), "12 s: as 20 s, 1000 positions + 50");
        assert_eq!(audio_ctx(25 * 16_000, hybrid), Some(1344), "25 s: its own length");
        assert_eq!(audio_ctx(29 * 16_000, hybrid), None);
    }

    #[test]
    fn tokens_join_into_words_with_contiguous_times() {
        let tokens = [
            token(" And", 0),
            token(" so", 300),
            token(" my", 600),
            token(" fell", 900),
            token("ow", 1000),
            token(",", 1100),
        ];
        let words = group_words(&tokens, 2000);
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["And", "so", "my", "fellow,"]);
        assert_eq!((words[3].start_ms, words[3].end_ms), (900, 2000));
        assert!(words.windows(2).all(|w| w[0].end_ms == w[1].start_ms));
    }

    #[test]
    fn repetitive_text_compresses_well() {
        let varied = compression_ratio("The quick brown fox jumps over the lazy dog.");
        let looping = compression_ratio(&"I'm sorry. ".repeat(20));
        assert!(varied < 1.2 && looping > 5.0, "{varied} {looping}");
    }
}
