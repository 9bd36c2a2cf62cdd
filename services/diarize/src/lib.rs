//! steno-diarize: who spoke when. [`engine`] finds speaker turns in the
//! job's 16 kHz audio (speech detection, GE2E speaker embeddings, spectral
//! clustering); [`assign`] puts them on the transcript's words and segments;
//! [`rttm`] writes the turns for scoring tools.

pub mod assign;
pub mod checkpoint;
pub mod cluster;
pub mod encoder;
pub mod engine;
pub mod frontend;
mod gemm;
pub mod rttm;
pub mod turns;
pub mod vad;
pub mod windows;

pub use engine::{Diarizer, SpeakerCount, Turn};

use std::sync::Arc;

use anyhow::Context;
use steno_runtime::{
    artifacts,
    config::DiarizeConfig,
    metrics,
    proto::{Stage as StageKind, StageTask},
    stage::{JobContext, Output, Stage, StageError},
    transcript::Transcript,
};

pub struct Diarize {
    diarizer: Arc<Diarizer>,
    max_speakers: usize,
}

impl Diarize {
    /// Loads the speaker encoder now, so a missing model stops the service at
    /// start rather than failing jobs.
    pub fn new(config: &DiarizeConfig) -> anyhow::Result<Self> {
        let path = &config.model_path;
        let diarizer = Diarizer::load(path).with_context(|| {
            format!("load the speaker encoder {} (scripts/fetch-speaker-model.sh writes it)", path.display())
        })?;
        tracing::info!(model = %path.display(), max_speakers = config.max_speakers, "diarizer ready");
        Ok(Self { diarizer: Arc::new(diarizer), max_speakers: config.max_speakers })
    }
}

impl Stage for Diarize {
    const KIND: StageKind = StageKind::Diarize;

    async fn process(&self, mut task: StageTask, ctx: &JobContext) -> Result<Output, StageError> {
        let options = task.options.clone().unwrap_or_default();
        let given = |n: u32| Some(n as usize).filter(|&n| n > 0);
        let min = given(options.min_speakers);
        // The service's bound gives way to a job that asks for more.
        let max = given(options.max_speakers).unwrap_or(self.max_speakers.max(min.unwrap_or(1)));
        let count = SpeakerCount { exact: given(options.num_speakers), min, max: Some(max) };
        let mut transcript: Transcript = ctx.artifacts.get_json(&ctx.job_id, artifacts::TRANSCRIPT).await?;
        let samples = ctx.artifacts.get_audio(&ctx.job_id).await?;
        let audio_seconds = samples.len() as f64 / 16_000.0;

        let (diarizer, clock) = (self.diarizer.clone(), std::time::Instant::now());
        // A cancelled job stops the computation between batches of windows.
        let cancelled = ctx.cancellation();
        let turns =
            tokio::task::spawn_blocking(move || diarizer.diarize_until(&samples, count, &|| cancelled.is_cancelled()))
                .await
                .map_err(|e| anyhow::anyhow!("diarization task panicked: {e}"))?
                .map_err(|e| StageError::permanent(format!("diarization failed: {e:#}")))?;
        let order = assign::label(&mut transcript, &turns);
        metrics::diarized(transcript.speakers.len(), audio_seconds, clock.elapsed().as_secs_f64());

        let rttm = rttm::render(ctx.job_id.as_str(), &turns, |speaker| {
            assign::speaker_id(order.iter().position(|&s| s == speaker).unwrap_or(speaker))
        });
        ctx.artifacts.put_bytes(&ctx.job_id, artifacts::SPEAKERS_RTTM, rttm.as_bytes()).await?;
        // Names given while an earlier delivery of this task finished (a
        // redelivery after the job completed) are kept.
        if let Ok(earlier) = ctx.artifacts.get_json::<Transcript>(&ctx.job_id, artifacts::DIARIZED).await {
            keep_names(&mut transcript, &earlier);
        }
        ctx.artifacts.put_json(&ctx.job_id, artifacts::DIARIZED, &transcript).await?;
        tracing::info!(speakers = transcript.speakers.len(), turns = turns.len(), "diarized");
        let names = task.artifacts.get_or_insert_default();
        names.transcript = artifacts::DIARIZED.to_owned();
        names.speakers = artifacts::SPEAKERS_RTTM.to_owned();
        Ok(task.into())
    }
}

/// Copies the display names `earlier` gave to speakers `transcript` has too.
fn keep_names(transcript: &mut Transcript, earlier: &Transcript) {
    for speaker in &mut transcript.speakers {
        if let Some(named) = earlier.speakers.iter().find(|s| s.id == speaker.id) {
            speaker.name.clone_from(&named.name);
        }
    }
}
