//! steno-export: renders a job's transcript into the formats it asked for
//! (SRT, WebVTT, JSON, TXT; all four when it named none), each stored as
//! `transcript.<ext>`. [`render`] holds the renderers and cue layout.

pub mod render;

use steno_runtime::{
    artifacts,
    config::ExportConfig,
    metrics,
    proto::{Format, Stage as StageKind, StageTask},
    stage::{JobContext, Output, Stage, StageError},
    transcript::Transcript,
};

use crate::render::{CueOptions, ExportFormat};

pub struct Export {
    cues: CueOptions,
}

impl Export {
    pub fn new(config: &ExportConfig) -> Self {
        Self { cues: CueOptions::from(config) }
    }
}

/// The export format of a proto format; `None` for unspecified.
pub fn export_format(format: Format) -> Option<ExportFormat> {
    match format {
        Format::Srt => Some(ExportFormat::Srt),
        Format::Vtt => Some(ExportFormat::Vtt),
        Format::Json => Some(ExportFormat::Json),
        Format::Txt => Some(ExportFormat::Txt),
        Format::Unspecified => None,
    }
}

impl Stage for Export {
    const KIND: StageKind = StageKind::Export;

    async fn process(&self, mut task: StageTask, ctx: &JobContext) -> Result<Output, StageError> {
        let options = task.options.clone().unwrap_or_default();
        let mut formats: Vec<ExportFormat> = options.formats().filter_map(export_format).collect();
        if formats.is_empty() {
            formats = ExportFormat::ALL.to_vec();
        }
        // The diarized transcript when diarize ran, else transcribe's.
        let source = task.artifacts.as_ref().map(|a| a.transcript.as_str()).filter(|n| !n.is_empty());
        let transcript: Transcript =
            ctx.artifacts.get_json(&ctx.job_id, source.unwrap_or(artifacts::TRANSCRIPT)).await?;
        let mut written = Vec::new();
        for format in formats {
            let name = artifacts::export_artifact(format.extension());
            let body = render::render(&transcript, format, &self.cues)
                .map_err(|e| StageError::permanent(format!("the transcript cannot be written as {format:?}: {e}")))?;
            ctx.artifacts.put_bytes(&ctx.job_id, &name, body.as_bytes()).await?;
            metrics::exported(format.extension());
            written.push(name);
        }
        tracing::info!(formats = ?written, "exported");
        task.artifacts.get_or_insert_default().exports = written;
        Ok(task.into())
    }
}
