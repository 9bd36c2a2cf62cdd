//! steno-transcribe: speech to text with whisper.cpp through whisper-rs.
//! [`models`] loads and keeps ggml models; [`whisper`] turns 16 kHz PCM into
//! a [`Transcript`] with word times; [`gpu`] reports the GPU once at start.

pub mod gpu;
pub mod models;
pub mod whisper;

use std::sync::Arc;

use steno_runtime::{
    artifacts,
    config::TranscribeConfig,
    metrics,
    proto::{Stage as StageKind, StageTask},
    stage::{JobContext, Stage, StageError},
    transcript::Transcript,
};

use crate::models::Models;

pub struct Transcribe {
    models: Arc<Models>,
    threads: usize,
}

impl Transcribe {
    /// Loads the default model now, so a missing model stops the service at
    /// start rather than failing jobs.
    pub fn new(config: &TranscribeConfig) -> anyhow::Result<Self> {
        let models = Models::new(config);
        models.get(&config.default_model).map_err(anyhow::Error::msg)?;
        let threads = match config.threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        };
        tracing::info!(backend = whisper::BACKEND, threads, model = %config.default_model, "transcriber ready");
        Ok(Self { models: Arc::new(models), threads })
    }
}

impl Stage for Transcribe {
    const KIND: StageKind = StageKind::Transcribe;

    async fn process(&self, mut task: StageTask, ctx: &JobContext) -> Result<StageTask, StageError> {
        let options = task.options.clone().unwrap_or_default();
        let model = self.models.get(&options.model).map_err(StageError::permanent)?;
        model.check_language(&options.language, options.translate).map_err(StageError::permanent)?;

        let pcm = ctx.artifacts.get_bytes(&ctx.job_id, artifacts::AUDIO).await?;
        let samples = whisper::pcm_s16le_to_f32(&pcm);
        drop(pcm);
        let request = whisper::Request::new(&options, self.threads);
        let progress = ctx.progress();
        let (clock, model_name) = (std::time::Instant::now(), model.name.clone());
        let transcript: Transcript =
            tokio::task::spawn_blocking(move || whisper::transcribe(&model, &samples, &request, progress))
                .await
                .map_err(|e| anyhow::anyhow!("transcription task panicked: {e}"))??;
        metrics::transcribed(&model_name, transcript.duration_ms as f64 / 1000.0, clock.elapsed().as_secs_f64());
        if transcript.segments.iter().all(|s| s.text.trim().is_empty()) {
            return Err(StageError::permanent("no speech was found in the audio"));
        }

        let json = serde_json::to_vec(&transcript).map_err(|e| anyhow::anyhow!("encode transcript: {e}"))?;
        ctx.artifacts.put_bytes(&ctx.job_id, artifacts::TRANSCRIPT, &json).await?;
        tracing::info!(segments = transcript.segments.len(), language = %transcript.language, "transcribed");
        task.language = transcript.language;
        task.artifacts.get_or_insert_default().transcript = artifacts::TRANSCRIPT.to_owned();
        Ok(task)
    }
}
