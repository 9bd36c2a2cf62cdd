//! steno-transcribe: speech to text with whisper.cpp through whisper-rs.
//! [`models`] loads and keeps ggml models; [`pieces`] reads the audio a
//! window at a time and drops silence (and, with [`vad`], what is not
//! speech); [`whisper`] turns each piece into a [`Transcript`] with word
//! times; [`split`] shares a long file out to every
//! replica as parts and joins their transcripts; [`gpu`] reports the GPU
//! once at start.

pub mod gpu;
pub mod models;
pub mod pieces;
pub mod split;
pub mod vad;
pub mod whisper;

use std::sync::Arc;

use steno_runtime::{
    artifacts::{self, AudioReader},
    config::TranscribeConfig,
    metrics,
    models::WhisperModels,
    proto::{Stage as StageKind, StageTask},
    stage::{JobContext, Output, ProgressReporter, Stage, StageError},
    subjects,
    transcript::Transcript,
};
use whisper_rs::WhisperState;

use crate::{
    models::{Model, Models},
    pieces::Piecer,
    vad::Vad,
};

pub struct Transcribe {
    models: Arc<Models>,
    threads: usize,
    window: whisper::EncoderWindow,
    /// Audio longer than this many samples is split into parts; 0 = never.
    split_after: u64,
    part_samples: usize,
}

impl Transcribe {
    /// Loads the default model now, so a missing model stops the service at
    /// start rather than failing jobs. `concurrency` is the tasks the
    /// replica works on at once (`worker.concurrency`).
    pub fn new(config: &TranscribeConfig, concurrency: usize) -> anyhow::Result<Self> {
        let models = Models::new(config);
        models.get(&config.default_model, true).map_err(anyhow::Error::msg)?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let threads = threads_per_task(config.threads, concurrency, cores);
        if threads * concurrency > cores {
            tracing::warn!(
                threads,
                concurrency,
                cores,
                "transcribe.threads × worker.concurrency is more than the cores: whisper.cpp's threads spin, \
                 and oversubscribed they run many times slower"
            );
        }
        tracing::info!(backend = whisper::BACKEND, threads, concurrency, model = %config.default_model, "transcriber ready");
        let samples = |secs: u64| secs as usize * pieces::SAMPLE_RATE;
        Ok(Self {
            models: Arc::new(models),
            threads,
            window: whisper::EncoderWindow::of(config),
            split_after: samples(config.split_after_secs) as u64,
            part_samples: samples(config.part_secs),
        })
    }
}

/// whisper.cpp threads for each task: `configured`, or with 0 the cores
/// shared out among the tasks run at once (at least one each). Two tasks
/// each given both cores of a 2-core machine took 25× as long as one
/// after the other (a 60 s clip: 59 s against 2.4 s), as ggml's threads
/// spin waiting for each other.
fn threads_per_task(configured: usize, concurrency: usize, cores: usize) -> usize {
    match configured {
        0 => (cores / concurrency.max(1)).max(1),
        n => n,
    }
}

/// Answers [`subjects::MODELS_SUBJECT`] requests with the models installed
/// in `config.models_dir`, until the connection closes.
pub async fn answer_model_requests(client: async_nats::Client, config: TranscribeConfig) -> anyhow::Result<()> {
    use futures::StreamExt as _;
    let mut requests = client.queue_subscribe(subjects::MODELS_SUBJECT, subjects::MODELS_QUEUE.to_owned()).await?;
    while let Some(request) = requests.next().await {
        let Some(reply) = request.reply else { continue };
        let models = WhisperModels::installed(&config.models_dir, &config.default_model, &config.vad_model);
        let body = serde_json::to_vec(&models)?;
        if let Err(e) = client.publish(reply, body.into()).await {
            tracing::debug!(error = %e, "answer a model listing");
        }
    }
    Ok(())
}

impl Stage for Transcribe {
    const KIND: StageKind = StageKind::Transcribe;

    async fn process(&self, task: StageTask, ctx: &JobContext) -> Result<Output, StageError> {
        let options = task.options.clone().unwrap_or_default();
        let word_times = options.word_timestamps.unwrap_or(true);
        let model = self.models.get(&options.model, word_times).map_err(StageError::permanent)?;
        model.check_language(&options.language, options.translate).map_err(StageError::permanent)?;
        let audio_name = task.artifacts.as_ref().map_or("", |a| a.audio.as_str());
        let audio_name = if audio_name.is_empty() { artifacts::AUDIO } else { audio_name };
        let audio = ctx.artifacts.audio_reader(&ctx.job_id, audio_name).await?;
        if task.part.is_none() && self.split_after > 0 && audio.total_samples > self.split_after {
            let mut parts = split::split(&task, ctx, audio, self.part_samples).await?;
            // One language for the whole job, as a job that is not split
            // keeps the one its first piece found.
            if options.language.is_empty() && !model.english_only() {
                let language = self.detect_language(&model, ctx).await?;
                tracing::info!(language, "detected the language before sharing out the parts");
                parts.iter_mut().for_each(|p| p.options.get_or_insert_default().language = language.clone());
            }
            return Ok(Output::Split(parts));
        }

        let clock = std::time::Instant::now();
        let mut request = whisper::Request::new(&options, self.threads, self.window);
        request.cancelled = ctx.cancellation();
        let request = Arc::new(request);
        let mut transcript = transcribe_in_pieces(&model, self.models.vad(), request, audio, ctx).await?;
        metrics::transcribed(&model.name, transcript.duration_ms as f64 / 1000.0, clock.elapsed().as_secs_f64());
        if let Some(part) = &task.part {
            split::shift(&mut transcript, part);
            ctx.artifacts.put_json(&ctx.job_id, &artifacts::part_transcript(part.index), &transcript).await?;
            tracing::info!(part = part.index, segments = transcript.segments.len(), "transcribed a part");
            return Ok(task.into());
        }
        finish(task, transcript, ctx).await.map(Output::from)
    }

    async fn join(&self, task: StageTask, ctx: &JobContext) -> Result<StageTask, StageError> {
        let count = task.part.map_or(0, |p| p.count);
        let transcript = split::join(count, task.duration_ms, ctx).await?;
        let mut task = finish(task, transcript, ctx).await?;
        split::remove_part_audio(count, ctx).await;
        task.artifacts.get_or_insert_default().audio = artifacts::AUDIO.to_owned();
        Ok(task)
    }
}

impl Transcribe {
    /// The language spoken in the job's first 30 s.
    async fn detect_language(&self, model: &Arc<Model>, ctx: &JobContext) -> Result<String, StageError> {
        let mut audio = ctx.artifacts.audio_reader(&ctx.job_id, artifacts::AUDIO).await?;
        let head = audio.read(30 * pieces::SAMPLE_RATE).await?;
        let (model, threads) = (model.clone(), self.threads);
        tokio::task::spawn_blocking(move || whisper::detect_language(&model, &head, threads))
            .await
            .map_err(|e| anyhow::anyhow!("language detection panicked: {e}"))?
    }
}

/// Writes the job's transcript and returns the task for the next stage.
async fn finish(mut task: StageTask, transcript: Transcript, ctx: &JobContext) -> Result<StageTask, StageError> {
    if transcript.segments.iter().all(|s| s.text.trim().is_empty()) {
        return Err(StageError::permanent("no speech was found in the audio"));
    }
    ctx.artifacts.put_json(&ctx.job_id, artifacts::TRANSCRIPT, &transcript).await?;
    tracing::info!(segments = transcript.segments.len(), language = %transcript.language, "transcribed");
    task.language = transcript.language;
    task.artifacts.get_or_insert_default().transcript = artifacts::TRANSCRIPT.to_owned();
    Ok(task)
}

/// Reads the job's audio a window at a time and transcribes each piece of
/// speech, so memory stays bounded whatever the length; times are mapped
/// back to the original audio.
async fn transcribe_in_pieces(
    model: &Arc<Model>,
    vad: Option<Arc<Vad>>,
    request: Arc<whisper::Request>,
    mut audio: AudioReader,
    ctx: &JobContext,
) -> Result<Transcript, StageError> {
    let total = audio.total_samples.max(1) as f32;
    let progress = ctx.progress();
    let mut transcript =
        Transcript { duration_ms: audio.total_samples * 1000 / pieces::SAMPLE_RATE as u64, ..Default::default() };
    let mut piecer = Piecer::new(vad);
    // One state for the job, rather than whisper.cpp's buffers allocated
    // again for every piece; it travels with the piece being transcribed.
    let mut state = None;
    // The piece whisper.cpp is on while the next is read and cut, so the
    // VAD's share of the work runs beside it rather than before it.
    let mut in_flight: Option<PieceTask> = None;
    loop {
        let wanted = piecer.wanted();
        let block = audio.read(wanted).await?;
        let end = block.len() < wanted;
        piecer.push(&block);
        drop(block);
        loop {
            let from = piecer.consumed() as f32 / total;
            let Some(piece) = tokio::task::block_in_place(|| piecer.next_piece(end)) else { break };
            if piece.samples.is_empty() {
                continue;
            }
            let part = progress.part(from, piecer.consumed() as f32 / total - from);
            if let Some(task) = in_flight.take() {
                state = Some(land(task, &mut transcript, ctx).await?);
            }
            let (model, request, reused) = (model.clone(), request.clone(), state.take());
            in_flight = Some(tokio::task::spawn_blocking(move || {
                let mut state = match reused {
                    Some(state) => state,
                    None => model.state()?,
                };
                let result = whisper::transcribe_with(&mut state, &model, &piece.samples, &request, part);
                Ok((result, state, piece.map))
            }));
        }
        if end {
            if let Some(task) = in_flight.take() {
                state = Some(land(task, &mut transcript, ctx).await?);
            }
            if let Some(state) = state {
                model.keep_state(state);
            }
            return Ok(transcript);
        }
    }
}

/// A piece being transcribed: its transcript, the state, the piece's map.
type PieceTask =
    tokio::task::JoinHandle<Result<(Result<Transcript, StageError>, WhisperState, pieces::TimeMap), StageError>>;

/// Waits for a piece's transcript, adds it and reports its text (joined to
/// the text before by a space); gives the state back.
async fn land(task: PieceTask, transcript: &mut Transcript, ctx: &JobContext) -> Result<WhisperState, StageError> {
    let (result, state, map) = task.await.map_err(|e| anyhow::anyhow!("transcription task panicked: {e}"))??;
    let before = transcript.segments.len();
    append_piece(transcript, result?, &map);
    let texts: Vec<&str> = transcript.segments[before..].iter().map(|s| s.text.as_str()).collect();
    if !texts.is_empty() {
        let separator = if before > 0 { " " } else { "" };
        ctx.transcribed(format!("{separator}{}", texts.join(" ")));
    }
    Ok(state)
}

/// The stage's way through audio already in memory, for benches and tools:
/// the same pieces, one state, the next piece cut (and its VAD run) while
/// whisper.cpp is on the current one.
pub fn transcribe_samples(
    model: &Model,
    vad: Option<Arc<Vad>>,
    samples: &[f32],
    request: &whisper::Request,
    progress: ProgressReporter,
) -> Result<Transcript, StageError> {
    let mut transcript =
        Transcript { duration_ms: samples.len() as u64 * 1000 / pieces::SAMPLE_RATE as u64, ..Default::default() };
    let mut piecer = Piecer::new(vad);
    piecer.push(samples);
    let mut state = model.state()?;
    std::thread::scope(|scope| {
        let (pieces, next) = std::sync::mpsc::sync_channel(1);
        scope.spawn(move || {
            while let Some(piece) = piecer.next_piece(false).or_else(|| piecer.next_piece(true)) {
                if !piece.samples.is_empty() && pieces.send(piece).is_err() {
                    return;
                }
            }
        });
        for piece in next {
            let text = whisper::transcribe_with(&mut state, model, &piece.samples, request, progress.clone())?;
            append_piece(&mut transcript, text, &piece.map);
        }
        Ok::<_, StageError>(())
    })?;
    model.keep_state(state);
    Ok(transcript)
}

/// Adds a piece's transcript, moved to the audio's timeline.
fn append_piece(transcript: &mut Transcript, mut text: Transcript, map: &pieces::TimeMap) {
    map.apply(&mut text);
    if transcript.language.is_empty() {
        transcript.language = text.language;
    }
    transcript.segments.append(&mut text.segments);
}

#[cfg(test)]
mod tests {
    use super::threads_per_task;

    #[test]
    fn all_cores_are_shared_out_among_tasks_at_once() {
        assert_eq!(threads_per_task(0, 1, 8), 8);
        assert_eq!(threads_per_task(0, 4, 8), 2);
        assert_eq!(threads_per_task(0, 3, 2), 1, "at least one thread a task");
        assert_eq!(threads_per_task(3, 4, 8), 3, "a configured count is kept");
    }
}
