//! How jobs look to clients: the REST JSON view, the gRPC message, and the
//! option and format names both use.

use serde::{Deserialize, Serialize};
use steno_export::render::ExportFormat;
use steno_runtime::{
    proto::{self, Format, JobOptions, Stage},
    redact, subjects,
};

use crate::store::JobRow;

/// The format a name (`srt`, `pdf`, …; any case) stands for.
pub fn parse_format(name: &str) -> Option<Format> {
    name.parse::<ExportFormat>().ok().map(steno_export::proto_format)
}

/// The file extension of a format (`""` for unspecified).
pub fn format_extension(format: Format) -> &'static str {
    steno_export::export_format(format).map_or("", ExportFormat::extension)
}

/// The MIME type a transcript in `format` is served with.
pub fn content_type(format: Format) -> &'static str {
    steno_export::export_format(format).map_or("text/plain; charset=utf-8", ExportFormat::content_type)
}

/// What the job transcribed, as headings name it: the URL without
/// user-info or query, or the uploaded file's name.
pub fn source_name(row: &JobRow) -> String {
    match (&row.source_url, &row.upload_name) {
        (Some(url), _) => redact::url(url),
        (None, Some(name)) => name.clone(),
        (None, None) => String::new(),
    }
}

/// Options as stored in the ledger and shown in the API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct OptionsView {
    pub language: Option<String>,
    #[serde(default = "yes")]
    pub diarize: bool,
    pub formats: Vec<String>,
    pub model: Option<String>,
    #[serde(default)]
    pub beam_size: u32,
    #[serde(default)]
    pub temperature: f32,
    #[serde(default)]
    pub initial_prompt: Option<String>,
    #[serde(default)]
    pub hotwords: Vec<String>,
    #[serde(default)]
    pub translate: bool,
    #[serde(default = "yes")]
    pub word_timestamps: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_speakers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_speakers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_speakers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// The known voice an enrolment job (`POST /v1/speakers`) makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrol_voice: Option<String>,
}

fn yes() -> bool {
    true
}

impl From<&JobOptions> for OptionsView {
    fn from(o: &JobOptions) -> Self {
        Self {
            language: Some(o.language.clone()).filter(|l| !l.is_empty()),
            diarize: o.diarize != Some(false),
            formats: o.formats().map(|f| format_extension(f).to_owned()).collect(),
            model: Some(o.model.clone()).filter(|m| !m.is_empty()),
            beam_size: o.beam_size,
            temperature: o.temperature,
            initial_prompt: Some(o.initial_prompt.clone()).filter(|p| !p.is_empty()),
            hotwords: o.hotwords.clone(),
            translate: o.translate,
            word_timestamps: o.word_timestamps.unwrap_or(true),
            num_speakers: Some(o.num_speakers).filter(|&n| n > 0),
            min_speakers: Some(o.min_speakers).filter(|&n| n > 0),
            max_speakers: Some(o.max_speakers).filter(|&n| n > 0),
            webhook_url: Some(o.webhook_url.clone()).filter(|u| !u.is_empty()),
            enrol_voice: Some(o.enrol_voice.clone()).filter(|v| !v.is_empty()),
        }
    }
}

impl OptionsView {
    pub fn to_proto(&self) -> JobOptions {
        JobOptions {
            language: self.language.clone().unwrap_or_default(),
            diarize: Some(self.diarize),
            formats: self.formats.iter().filter_map(|f| parse_format(f)).map(|f| f as i32).collect(),
            model: self.model.clone().unwrap_or_default(),
            beam_size: self.beam_size,
            temperature: self.temperature,
            initial_prompt: self.initial_prompt.clone().unwrap_or_default(),
            hotwords: self.hotwords.clone(),
            translate: self.translate,
            word_timestamps: Some(self.word_timestamps),
            num_speakers: self.num_speakers.unwrap_or(0),
            min_speakers: self.min_speakers.unwrap_or(0),
            max_speakers: self.max_speakers.unwrap_or(0),
            webhook_url: self.webhook_url.clone().unwrap_or_default(),
            enrol_voice: self.enrol_voice.clone().unwrap_or_default(),
        }
    }
}

/// A job as the REST API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: String,
    pub tenant: String,
    pub status: &'static str,
    pub stage: Option<String>,
    pub progress: f32,
    pub error: Option<String>,
    pub submitted_via: String,
    /// Without user-info or query string (see [`redact::url`]).
    pub source_url: Option<String>,
    pub upload_name: Option<String>,
    #[schema(value_type = OptionsView)]
    pub options: serde_json::Value,
    pub language: Option<String>,
    pub duration_ms: Option<i64>,
    /// Transcript formats ready to fetch, e.g. `["srt", "txt"]`.
    pub formats_ready: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `transcript.srt` → `srt`.
pub fn ready_formats(row: &JobRow) -> Vec<String> {
    row.exports.0.iter().filter_map(|name| name.strip_prefix("transcript.")).map(str::to_owned).collect()
}

impl From<JobRow> for JobView {
    fn from(row: JobRow) -> Self {
        let formats_ready = ready_formats(&row);
        Self {
            id: row.id,
            tenant: row.tenant,
            status: row.status.name(),
            stage: row.stage,
            progress: row.progress,
            error: row.error,
            submitted_via: row.submitted_via,
            source_url: row.source_url.as_deref().map(redact::url),
            upload_name: row.upload_name,
            options: shown_options(row.options.0),
            language: row.language,
            duration_ms: row.duration_ms,
            formats_ready,
            created_at: row.created_at,
            updated_at: row.updated_at,
            finished_at: row.finished_at,
        }
    }
}

/// Options as a client sees them: the webhook URL without user-info or
/// query (as `source_url`), which may carry a token.
fn shown_options(mut options: serde_json::Value) -> serde_json::Value {
    if let Some(url) = options.get_mut("webhook_url")
        && let Some(raw) = url.as_str()
    {
        *url = serde_json::Value::String(redact::url(raw));
    }
    options
}

pub fn to_proto_job(row: &JobRow) -> proto::Job {
    let timestamp = |t: chrono::DateTime<chrono::Utc>| prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    };
    let options = serde_json::from_value::<OptionsView>(row.options.0.clone()).map(|o| o.to_proto()).ok();
    proto::Job {
        id: row.id.clone(),
        status: row.status as i32,
        stage: row.stage.as_deref().map_or(Stage::Unspecified, stage_from_name) as i32,
        progress: row.progress,
        error: row.error.clone().unwrap_or_default(),
        options,
        source_url: row.source_url.as_deref().map(redact::url).unwrap_or_default(),
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        duration_ms: row.duration_ms.unwrap_or(0).max(0) as u64,
        language: row.language.clone().unwrap_or_default(),
        formats_ready: ready_formats(row).iter().filter_map(|f| parse_format(f)).map(|f| f as i32).collect(),
    }
}

fn stage_from_name(name: &str) -> Stage {
    subjects::STAGES.into_iter().find(|s| subjects::stage_name(*s) == name).unwrap_or(Stage::Unspecified)
}

/// A job event as REST shows it (the `data` of an SSE event, named by `kind`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// Its `STENO_EVENTS` sequence number: the SSE `id`, and `Last-Event-ID` to resume after it.
    pub id: u64,
    pub job_id: String,
    /// `queued`, `started`, `progress`, `text`, `stage_completed`, `retrying`, `completed`, `failed`, `cancelled`.
    pub kind: &'static str,
    pub stage: Option<&'static str>,
    /// 0..1 within the stage.
    pub progress: f32,
    /// A failure reason, retry cause or other user-facing text.
    pub message: Option<String>,
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// Media duration, once transcode knows it.
    pub duration_ms: Option<u64>,
    pub language: Option<String>,
    /// With `text`: the text just transcribed.
    pub text: Option<String>,
}

impl EventView {
    pub fn new(id: u64, event: &proto::JobEvent) -> Self {
        let stage = Some(event.stage()).filter(|s| *s != Stage::Unspecified).map(subjects::stage_name);
        let at = event.at.as_ref().and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
        Self {
            id,
            job_id: event.job_id.clone(),
            kind: subjects::event_kind_name(event.kind()),
            stage,
            progress: event.progress,
            message: Some(event.message.clone()).filter(|m| !m.is_empty()),
            at,
            duration_ms: Some(event.duration_ms).filter(|d| *d > 0),
            language: Some(event.language.clone()).filter(|l| !l.is_empty()),
            text: Some(event.text.clone()).filter(|t| !t.is_empty()),
        }
    }
}
