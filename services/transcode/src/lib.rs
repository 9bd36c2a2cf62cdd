//! steno-transcode: any audio or video container → 16 kHz mono 16-bit PCM
//! (`audio.pcm`), with ffprobe to check there is audio at all and ffmpeg to
//! convert, both as subprocesses.

use std::{path::Path, process::Stdio};

use steno_runtime::{
    artifacts,
    config::TranscodeConfig,
    metrics,
    proto::{Stage as StageKind, StageTask},
    stage::{JobContext, Output, Stage, StageError},
};
use tokio::process::Command;

/// Output sample rate; what whisper.cpp expects.
pub const SAMPLE_RATE: u64 = 16_000;

pub struct Transcode {
    config: TranscodeConfig,
}

impl Transcode {
    pub fn new(config: TranscodeConfig) -> Self {
        Self { config }
    }

    /// Fails permanently when the file is not media or has no audio stream.
    async fn probe_audio(&self, input: &Path) -> Result<(), StageError> {
        let output = Command::new(&self.config.ffprobe)
            .args(["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0"])
            .arg(input)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| StageError::Retryable(anyhow::anyhow!("run {}: {e}", self.config.ffprobe.display())))?;
        if !output.status.success() {
            let detail = last_line(&output.stderr);
            return Err(StageError::permanent(format!("the source is not a readable audio or video file ({detail})")));
        }
        let streams = String::from_utf8_lossy(&output.stdout);
        if !streams.lines().any(|kind| kind.trim() == "audio") {
            return Err(StageError::permanent("the source has no audio stream"));
        }
        Ok(())
    }

    async fn convert(&self, input: &Path, output: &Path) -> Result<(), StageError> {
        let result = Command::new(&self.config.ffmpeg)
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
            .arg(input)
            .args(["-vn", "-ac", "1", "-ar", "16000", "-f", "s16le", "-acodec", "pcm_s16le"])
            .arg(output)
            .stdin(Stdio::null())
            // A cancelled job drops this future: ffmpeg goes with it.
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| StageError::Retryable(anyhow::anyhow!("run {}: {e}", self.config.ffmpeg.display())))?;
        if !result.status.success() {
            let detail = last_line(&result.stderr);
            return Err(StageError::permanent(format!("the audio could not be decoded ({detail})")));
        }
        Ok(())
    }
}

impl Stage for Transcode {
    const KIND: StageKind = StageKind::Transcode;

    async fn process(&self, mut task: StageTask, ctx: &JobContext) -> Result<Output, StageError> {
        let dir = tempfile::tempdir().map_err(|e| anyhow::anyhow!("create work dir: {e}"))?;
        let input = dir.path().join("source");
        let output = dir.path().join("audio.pcm");
        let source = task.artifacts.as_ref().map(|a| a.source.clone()).unwrap_or_default();
        let source = if source.is_empty() { artifacts::SOURCE.to_owned() } else { source };
        let size = ctx.artifacts.get_to_file(&ctx.job_id, &source, &input).await?;
        if size == 0 {
            return Err(StageError::permanent("the source file is empty"));
        }
        self.probe_audio(&input).await?;
        ctx.progress().report(0.1);
        let clock = std::time::Instant::now();
        self.convert(&input, &output).await?;
        let convert_seconds = clock.elapsed().as_secs_f64();
        let bytes = tokio::fs::metadata(&output).await.map_err(|e| anyhow::anyhow!("stat output: {e}"))?.len();
        let duration_ms = bytes / 2 * 1000 / SAMPLE_RATE;
        if duration_ms == 0 {
            return Err(StageError::permanent("the source's audio stream is empty"));
        }
        metrics::transcoded(convert_seconds, duration_ms as f64 / 1000.0);
        ctx.artifacts.put_file(&ctx.job_id, artifacts::AUDIO, &output).await?;
        task.duration_ms = duration_ms;
        task.artifacts.get_or_insert_default().audio = artifacts::AUDIO.to_owned();
        tracing::info!(duration_ms, source_bytes = size, "transcoded");
        Ok(task.into())
    }
}

/// The last non-empty line of a tool's stderr, for error messages.
fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no detail").trim().to_owned()
}
