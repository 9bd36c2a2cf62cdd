//! steno-export: renders a job's transcript into the formats it asked for
//! (SRT, WebVTT, JSON, TXT, PDF; all five when it named none), each stored
//! as `transcript.<ext>`. [`render`] holds the renderers, the cue and page
//! layout, and the font the PDF embeds.

pub mod render;

use steno_runtime::{
    artifacts,
    config::ExportConfig,
    metrics,
    proto::{Format, Stage as StageKind, StageTask},
    stage::{JobContext, Output, Stage, StageError},
    transcript::Transcript,
};

use crate::render::{CueOptions, Document, ExportFormat};

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
        Format::Pdf => Some(ExportFormat::Pdf),
        Format::Unspecified => None,
    }
}

/// The proto format of an export format.
pub fn proto_format(format: ExportFormat) -> Format {
    match format {
        ExportFormat::Srt => Format::Srt,
        ExportFormat::Vtt => Format::Vtt,
        ExportFormat::Json => Format::Json,
        ExportFormat::Txt => Format::Txt,
        ExportFormat::Pdf => Format::Pdf,
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
        let document = Document::new(&task.source_name, task.submitted_at_ms);
        let mut written = Vec::new();
        for format in formats {
            let name = artifacts::export_artifact(format.extension());
            let body = render::render(&transcript, format, &self.cues, &document)
                .map_err(|e| StageError::permanent(format!("the transcript cannot be written as {format}: {e}")))?;
            ctx.artifacts.put_bytes(&ctx.job_id, &name, &body).await?;
            metrics::exported(format.extension());
            written.push(name);
        }
        tracing::info!(formats = ?written, "exported");
        task.artifacts.get_or_insert_default().exports = written;
        Ok(task.into())
    }
}

#[cfg(test)]
mod tests {
    use steno_runtime::{
        JobId,
        artifacts::Artifacts,
        proto::JobOptions,
        transcript::{Segment, Transcript},
    };

    use super::*;

    #[test]
    fn proto_and_export_formats_map_both_ways() {
        for format in ExportFormat::ALL {
            assert_eq!(export_format(proto_format(format)), Some(format));
        }
        assert_eq!(export_format(Format::Unspecified), None);
    }

    /// The stage itself, on a job whose transcript is in an in-memory store.
    #[tokio::test]
    async fn process_writes_each_asked_format_and_names_them_in_the_task() {
        let job_id = JobId::parse("job-1").expect("id");
        let ctx = JobContext::standalone(job_id.clone(), Artifacts::in_memory());
        let segment = Segment { start_ms: 0, end_ms: 1500, text: "Hello there.".into(), ..Default::default() };
        let transcript =
            Transcript { language: "en".into(), duration_ms: 1500, segments: vec![segment], ..Default::default() };
        ctx.artifacts.put_json(&job_id, artifacts::TRANSCRIPT, &transcript).await.expect("put");
        let options = JobOptions { formats: vec![Format::Srt as i32, Format::Txt as i32], ..Default::default() };
        let task = StageTask { job_id: "job-1".into(), options: Some(options), ..Default::default() };

        let Ok(Output::Next(next)) = Export::new(&ExportConfig::default()).process(task, &ctx).await else {
            panic!("export failed");
        };
        let exports = next.artifacts.expect("artifacts").exports;
        assert_eq!(exports, ["transcript.srt", "transcript.txt"]);
        let srt = ctx.artifacts.get_bytes(&job_id, "transcript.srt").await.expect("srt");
        assert_eq!(String::from_utf8_lossy(&srt), "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n");
        let txt = ctx.artifacts.get_bytes(&job_id, "transcript.txt").await.expect("txt");
        assert_eq!(String::from_utf8_lossy(&txt).trim(), "Hello there.");
    }

    #[tokio::test]
    async fn a_job_naming_no_formats_gets_all_five_and_its_pdf_is_headed_by_the_task() {
        let job_id = JobId::parse("job-3").expect("id");
        let ctx = JobContext::standalone(job_id.clone(), Artifacts::in_memory());
        let segment = Segment { start_ms: 0, end_ms: 1500, text: "Hello there.".into(), ..Default::default() };
        let transcript = Transcript { segments: vec![segment], ..Default::default() };
        ctx.artifacts.put_json(&job_id, artifacts::TRANSCRIPT, &transcript).await.expect("put");
        let task = StageTask {
            job_id: "job-3".into(),
            source_name: "interview.mp3".into(),
            submitted_at_ms: 1_767_225_600_000,
            ..Default::default()
        };

        let Ok(Output::Next(next)) = Export::new(&ExportConfig::default()).process(task, &ctx).await else {
            panic!("export failed");
        };
        let exports = next.artifacts.expect("artifacts").exports;
        assert_eq!(
            exports,
            ["transcript.srt", "transcript.vtt", "transcript.json", "transcript.txt", "transcript.pdf"]
        );
        let pdf = ctx.artifacts.get_bytes(&job_id, "transcript.pdf").await.expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
        // The heading's title is also the document's metadata title (ASCII here, so literal).
        let title = b"/Title (Transcript: interview.mp3)";
        assert!(pdf.windows(title.len()).any(|w| w == title), "no title in the PDF");
    }

    #[tokio::test]
    async fn a_missing_transcript_is_retried_not_a_silent_empty_export() {
        let job_id = JobId::parse("job-2").expect("id");
        let ctx = JobContext::standalone(job_id, Artifacts::in_memory());
        let task = StageTask { job_id: "job-2".into(), ..Default::default() };
        let result = Export::new(&ExportConfig::default()).process(task, &ctx).await;
        assert!(matches!(result, Err(StageError::Retryable(_))), "{result:?}");
    }
}
