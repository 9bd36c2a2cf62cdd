//! steno-diarize: who spoke when. [`engine`] finds speaker turns in the
//! job's 16 kHz audio (speech detection, GE2E speaker embeddings, spectral
//! clustering); [`assign`] puts them on the transcript's words and segments;
//! [`known`] names the speakers whose voices the tenant enrolled (and an
//! enrolment job makes a voice's print); [`rttm`] writes the turns for
//! scoring tools.

pub mod assign;
pub mod checkpoint;
pub mod cluster;
pub mod encoder;
pub mod engine;
pub mod frontend;
mod gemm;
pub mod known;
mod lstm;
pub mod onnx;
pub mod overlap;
mod parallel;
pub mod rttm;
pub mod segmentation;
pub mod turns;
pub mod vad;
pub mod windows;

pub use engine::{AudioSource, Diarization, Diarizer, SpeakerCount, Turn, Voiceprint};
use segmentation::Segmenter;

use std::sync::Arc;

use anyhow::Context;
use async_nats::jetstream::kv;
use steno_runtime::{
    JobId,
    artifacts::{self, ArtifactError, Artifacts},
    config::DiarizeConfig,
    metrics,
    proto::{Stage as StageKind, StageTask},
    stage::{JobContext, Output, Stage, StageError},
    transcript::Transcript,
    voices,
};

/// Shortest and longest enrolment clip, in milliseconds (5–30 s, and a
/// little over for a clip cut by hand).
const ENROLMENT_MS: (u64, u64) = (5_000, 31_000);
/// Least speech a voiceprint is made from, in milliseconds.
const MIN_PRINT_SPEECH_MS: u64 = 3_000;

pub struct Diarize {
    diarizer: Arc<Diarizer>,
    max_speakers: usize,
    /// The known voices; `None` runs without them (no enrolment, no names).
    voices: Option<kv::Store>,
    known_voice_threshold: f32,
}

impl Diarize {
    /// Loads the speaker encoder now, so a missing model stops the service at
    /// start rather than failing jobs.
    pub fn new(config: &DiarizeConfig) -> anyhow::Result<Self> {
        Self::with_voices(config, None)
    }

    /// As [`Diarize::new`], naming speakers from (and enrolling into) `voices`.
    pub fn with_voices(config: &DiarizeConfig, voices: Option<kv::Store>) -> anyhow::Result<Self> {
        let path = &config.model_path;
        let mut diarizer = Diarizer::load(path).with_context(|| {
            format!("load the speaker encoder {} (scripts/fetch-speaker-model.sh writes it)", path.display())
        })?;
        let segmentation = &config.segmentation_path;
        if segmentation.as_os_str().is_empty() {
            tracing::info!("diarize.segmentation_path is empty: overlapped speech is not marked");
        } else if !segmentation.exists() {
            tracing::warn!(
                model = %segmentation.display(),
                "no segmentation model (scripts/fetch-speaker-model.sh writes it): overlapped speech is not marked"
            );
        } else {
            let segmenter = Segmenter::load(segmentation)?;
            diarizer = diarizer.with_segmenter(segmenter);
        }
        tracing::info!(
            model = %path.display(),
            segmentation = %segmentation.display(),
            max_speakers = config.max_speakers,
            "diarizer ready"
        );
        Ok(Self {
            diarizer: Arc::new(diarizer),
            max_speakers: config.max_speakers,
            voices,
            known_voice_threshold: config.known_voice_threshold,
        })
    }

    /// An enrolment job: the print of the one voice in its audio, stored
    /// in the voice the gateway recorded.
    async fn enrol(&self, task: StageTask, ctx: &JobContext, voice_id: &str) -> Result<Output, StageError> {
        let store = self.voices.as_ref().ok_or_else(|| {
            StageError::Retryable(anyhow::anyhow!("this diarizer has no voices bucket; another may enrol the voice"))
        })?;
        let Some(mut voice) = voices::get(store, &task.tenant, voice_id).await? else {
            return Err(StageError::permanent(format!("voice {voice_id} was deleted before it was enrolled")));
        };
        let (shortest, longest) = ENROLMENT_MS;
        if !(shortest..=longest).contains(&task.duration_ms) {
            return Err(StageError::permanent(format!(
                "an enrolment clip must be 5 to 30 s long; this one is {:.1} s",
                task.duration_ms as f64 / 1000.0
            )));
        }
        let (diarizer, audio) = (self.diarizer.clone(), StoredAudio::of(ctx));
        let print = tokio::task::spawn_blocking(move || diarizer.voiceprint(&audio)).await.map_err(panicked)?;
        match print.map_err(failed)? {
            Some(print) if print.speech_ms >= MIN_PRINT_SPEECH_MS => {
                (voice.print, voice.speech_ms) = (print.print, print.speech_ms);
            }
            other => {
                let speech = other.map_or(0, |p| p.speech_ms) as f64 / 1000.0;
                return Err(StageError::permanent(format!(
                    "the clip holds {speech:.1} s of speech; a voice needs at least {} s of one person talking",
                    MIN_PRINT_SPEECH_MS / 1000
                )));
            }
        }
        voices::put(store, &task.tenant, &voice).await?;
        tracing::info!(voice = voice_id, speech_ms = voice.speech_ms, "voice enrolled");
        Ok(task.into())
    }

    /// Gives the transcript's speakers whose voices match the tenant's
    /// known voices those voices' names; `prints` are theirs in the
    /// transcript's order. Known voices that cannot be read leave the
    /// speakers unnamed (logged), not the job failed.
    async fn name_known_voices(&self, tenant: &str, prints: &[Option<Vec<f32>>], transcript: &mut Transcript) {
        let Some(store) = &self.voices else { return };
        let known = match voices::list(store, tenant).await {
            Ok(known) if known.iter().any(|v| !v.print.is_empty()) => known,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "known voices unreadable; speakers left unnamed");
                return;
            }
        };
        let matched = known::match_voices(prints, &known, self.known_voice_threshold);
        for (speaker, voice) in transcript.speakers.iter_mut().zip(matched) {
            if let Some(voice) = voice.map(|v| &known[v]) {
                tracing::info!(speaker = %speaker.id, voice = %voice.id, "a known voice");
                speaker.name.clone_from(&voice.name);
            }
        }
    }
}

/// The job's audio in the object store, read a block at a time on the
/// blocking thread the diarizer runs on.
struct StoredAudio {
    artifacts: Artifacts,
    job_id: JobId,
    runtime: tokio::runtime::Handle,
}

impl StoredAudio {
    /// Ten seconds of samples.
    const BLOCK: usize = 160_000;

    fn of(ctx: &JobContext) -> Self {
        Self {
            artifacts: ctx.artifacts.clone(),
            job_id: ctx.job_id.clone(),
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

impl AudioSource for StoredAudio {
    fn read(&self, each: &mut dyn FnMut(&[f32]) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut reader = self.runtime.block_on(self.artifacts.audio_reader(&self.job_id, artifacts::AUDIO))?;
        loop {
            let block = self.runtime.block_on(reader.read(Self::BLOCK))?;
            if block.is_empty() {
                return Ok(());
            }
            each(&block)?;
        }
    }
}

/// A diarizer's error as the stage's: the audio unreadable is an
/// artifact's error (retried unless malformed); anything else fails the job.
fn failed(e: anyhow::Error) -> StageError {
    match e.downcast::<ArtifactError>() {
        Ok(e) => e.into(),
        Err(e) => StageError::permanent(format!("diarization failed: {e:#}")),
    }
}

fn panicked(e: tokio::task::JoinError) -> StageError {
    anyhow::anyhow!("diarization task panicked: {e}").into()
}

impl Stage for Diarize {
    const KIND: StageKind = StageKind::Diarize;

    async fn process(&self, mut task: StageTask, ctx: &JobContext) -> Result<Output, StageError> {
        let options = task.options.clone().unwrap_or_default();
        if !options.enrol_voice.is_empty() {
            return self.enrol(task, ctx, &options.enrol_voice).await;
        }
        let given = |n: u32| Some(n as usize).filter(|&n| n > 0);
        let min = given(options.min_speakers);
        // The service's bound gives way to a job that asks for more.
        let max = given(options.max_speakers).unwrap_or(self.max_speakers.max(min.unwrap_or(1)));
        let count = SpeakerCount { exact: given(options.num_speakers), min, max: Some(max) };
        let mut transcript: Transcript = ctx.artifacts.get_json(&ctx.job_id, artifacts::TRANSCRIPT).await?;
        let (diarizer, clock, audio) = (self.diarizer.clone(), std::time::Instant::now(), StoredAudio::of(ctx));
        // A cancelled job stops the computation between blocks of audio.
        let cancelled = ctx.cancellation();
        let diarization =
            tokio::task::spawn_blocking(move || diarizer.run(&audio, count, &|| cancelled.is_cancelled()))
                .await
                .map_err(panicked)?
                .map_err(failed)?;
        let turns = diarization.turns;
        let order = assign::label(&mut transcript, &turns);
        transcript.overlaps = assign::overlaps(&turns, &diarization.overlaps, &order);
        let prints: Vec<Option<Vec<f32>>> = order
            .iter()
            .map(|&speaker| {
                let print = diarization.prints.get(speaker)?;
                (print.speech_ms >= MIN_PRINT_SPEECH_MS && !print.print.is_empty()).then(|| print.print.clone())
            })
            .collect();
        self.name_known_voices(&task.tenant, &prints, &mut transcript).await;
        let audio_seconds = diarization.duration_ms as f64 / 1000.0;
        metrics::diarized(transcript.speakers.len(), audio_seconds, clock.elapsed().as_secs_f64());

        let mut all_turns = [turns.as_slice(), &diarization.overlaps].concat();
        all_turns.sort_by_key(|t| t.start_ms);
        let rttm = rttm::render(ctx.job_id.as_str(), &all_turns, |speaker| {
            assign::speaker_id(order.iter().position(|&s| s == speaker).unwrap_or(speaker))
        });
        ctx.artifacts.put_bytes(&ctx.job_id, artifacts::SPEAKERS_RTTM, rttm.as_bytes()).await?;
        // Names given while an earlier delivery of this task finished (a
        // redelivery after the job completed) are kept.
        if let Ok(earlier) = ctx.artifacts.get_json::<Transcript>(&ctx.job_id, artifacts::DIARIZED).await {
            keep_names(&mut transcript, &earlier);
        }
        ctx.artifacts.put_json(&ctx.job_id, artifacts::DIARIZED, &transcript).await?;
        let overlaps = transcript.overlaps.len();
        tracing::info!(speakers = transcript.speakers.len(), turns = turns.len(), overlaps, "diarized");
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
