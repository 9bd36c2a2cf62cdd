//! steno-transcode: any audio or video container → 16 kHz mono 16-bit PCM
//! (`audio.pcm`), with ffprobe to check there is audio at all and that it
//! is not longer than `transcode.max_duration_secs`, and ffmpeg to convert.
//! Both run as subprocesses that may open only local files and pipes (a
//! playlist cannot reach the network), within `transcode.timeout_secs`, and
//! are killed with the future that runs them (a cancelled job, a timeout).

use std::{path::Path, process::Stdio, time::Duration};

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

    /// Fails permanently when the file is not media, has no audio stream,
    /// or says it is longer than the limit.
    async fn probe_audio(&self, input: &Path) -> Result<(), StageError> {
        let mut command = Command::new(&self.config.ffprobe);
        command
            .args(["-v", "error", "-protocol_whitelist", PROTOCOLS])
            .args(["-show_entries", "stream=codec_type:format=duration", "-of", "csv=p=0"])
            .arg(input);
        let output = self.run(command, &self.config.ffprobe).await?;
        if !output.status.success() {
            let detail = last_line(&output.stderr);
            return Err(StageError::permanent(format!("the source is not a readable audio or video file ({detail})")));
        }
        let probed = String::from_utf8_lossy(&output.stdout);
        if !probed.lines().any(|kind| kind.trim() == "audio") {
            return Err(StageError::permanent("the source has no audio stream"));
        }
        let duration = probed.lines().filter_map(|line| line.trim().parse::<f64>().ok()).fold(0.0, f64::max);
        if duration > self.config.max_duration_secs as f64 {
            return Err(StageError::permanent(format!(
                "the media is {} long; the limit is {} (transcode.max_duration_secs)",
                human_duration(duration),
                human_duration(self.config.max_duration_secs as f64)
            )));
        }
        Ok(())
    }

    /// Decodes at most `max_duration_secs` of audio (a file whose header
    /// understates its length is cut there).
    async fn convert(&self, input: &Path, output: &Path) -> Result<(), StageError> {
        let mut command = Command::new(&self.config.ffmpeg);
        command
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-protocol_whitelist", PROTOCOLS, "-i"])
            .arg(input)
            .args(["-t", &self.config.max_duration_secs.to_string()])
            .args(["-vn", "-ac", "1", "-ar", "16000", "-f", "s16le", "-acodec", "pcm_s16le"])
            .arg(output);
        let result = self.run(command, &self.config.ffmpeg).await?;
        if !result.status.success() {
            let detail = last_line(&result.stderr);
            return Err(StageError::permanent(format!("the audio could not be decoded ({detail})")));
        }
        Ok(())
    }
}

impl Transcode {
    /// Runs a tool within `transcode.timeout_secs`; it is killed when this
    /// future is dropped (timeout, or a cancelled job).
    async fn run(&self, mut command: Command, tool: &Path) -> Result<std::process::Output, StageError> {
        let limit = Duration::from_secs(self.config.timeout_secs);
        let running = command.stdin(Stdio::null()).kill_on_drop(true).output();
        match tokio::time::timeout(limit, running).await {
            Ok(output) => output.map_err(|e| StageError::Retryable(anyhow::anyhow!("run {}: {e}", tool.display()))),
            Err(_) => Err(StageError::permanent(format!(
                "{} took longer than {} s on this media (transcode.timeout_secs)",
                tool.display(),
                limit.as_secs()
            ))),
        }
    }
}

/// What ffmpeg and ffprobe may open: the local input, nothing remote.
const PROTOCOLS: &str = "file,pipe";

/// `95 s`, `12 min`, `6 h 05 min`.
fn human_duration(secs: f64) -> String {
    let secs = secs.ceil() as u64;
    match secs {
        0..120 => format!("{secs} s"),
        120..3600 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h {:02} min", secs / 3600, (secs % 3600).div_ceil(60)),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A tool that hangs is killed at `transcode.timeout_secs` and the job
    /// fails with the key named.
    #[tokio::test]
    async fn a_hanging_tool_is_stopped_at_the_timeout() {
        let dir = tempfile::tempdir().expect("temp dir");
        let hang = dir.path().join("ffprobe");
        std::fs::write(&hang, "#!/bin/sh\nsleep 30\n").expect("write");
        std::process::Command::new("chmod").arg("+x").arg(&hang).status().expect("chmod");
        let config = TranscodeConfig { ffprobe: hang, timeout_secs: 1, ..TranscodeConfig::default() };
        let Err(StageError::Permanent(error)) = Transcode::new(config).probe_audio(dir.path()).await else {
            panic!("a hanging ffprobe must fail the job");
        };
        // Had it run to its end, the error would be that there is no audio.
        assert!(error.to_string().contains("transcode.timeout_secs"), "{error}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(7.2), "8 s");
        assert_eq!(human_duration(725.0), "13 min");
        assert_eq!(human_duration(21600.0), "6 h 00 min");
        assert_eq!(human_duration(26100.5), "7 h 16 min");
    }
}
