//! What a client submits, and its validation: every front door (REST,
//! gRPC, NATS) turns its input into a [`SubmitJson`] and calls
//! [`SubmitJson::validate`], so the rules and their messages (naming the
//! field) are written once.

use serde::Deserialize;
use steno_runtime::{JobId, proto::JobOptions, transcript::is_whisper_language};

use crate::{error::ApiError, views::parse_format};

/// The JSON a client submits (REST body, `steno.jobs.submit`, `nats req`).
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJson {
    pub source_url: Option<String>,
    pub language: Option<String>,
    pub diarize: Option<bool>,
    pub formats: Option<Vec<String>>,
    pub model: Option<String>,
    pub beam_size: Option<u32>,
    pub temperature: Option<f32>,
    pub initial_prompt: Option<String>,
    pub hotwords: Option<Vec<String>>,
    pub translate: Option<bool>,
    pub word_timestamps: Option<bool>,
    pub num_speakers: Option<u32>,
    pub min_speakers: Option<u32>,
    pub max_speakers: Option<u32>,
    /// Where to POST the job's outcome (Standard Webhooks).
    pub webhook_url: Option<String>,
    pub job_id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// The most speakers a job may ask for.
pub const MAX_SPEAKERS: u32 = 20;

/// Where the media comes from.
pub enum Source {
    Url(String),
    /// Already stored as the job's `source` artifact.
    Upload {
        filename: String,
    },
}

/// A validated submission.
pub struct Submission {
    pub id: JobId,
    pub idempotency_key: Option<String>,
    pub options: JobOptions,
}

/// How a job arrived, for metrics and the ledger.
#[derive(Clone, Copy)]
pub enum Via {
    Rest,
    /// The OpenAI-compatible `/v1/audio/*` routes.
    OpenAi,
    Grpc,
    Nats,
    /// `POST /v1/speakers`: a voice's enrolment.
    Speakers,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Rest => "rest",
            Via::OpenAi => "openai",
            Via::Grpc => "grpc",
            Via::Nats => "nats",
            Via::Speakers => "speakers",
        }
    }
}

impl SubmitJson {
    /// Checks everything but the source; errors name the field.
    pub fn validate(&self) -> Result<Submission, ApiError> {
        self.refuse_unstorable_text()?;
        let id = match &self.job_id {
            Some(id) => JobId::parse(id).map_err(|e| ApiError::invalid("job_id", e.to_string()))?,
            None => JobId::generate(),
        };
        if let Some(key) = &self.idempotency_key
            && (key.is_empty() || key.len() > 200)
        {
            return Err(ApiError::invalid("idempotency_key", "must be 1-200 characters"));
        }
        let language = self.language.clone().unwrap_or_default();
        let language = if language == "auto" { String::new() } else { language };
        if !language.is_empty() && !is_whisper_language(&language) {
            return Err(ApiError::invalid(
                "language",
                format!(
                    "{language:?} is not a language whisper knows: give an ISO 639-1 code such as \"en\" (or \"auto\")"
                ),
            ));
        }
        let diarize = self.diarize.unwrap_or(true);
        let (num_speakers, min_speakers, max_speakers) = self.speaker_count(diarize)?;
        let mut formats = Vec::new();
        for name in self.formats.iter().flatten() {
            let format = parse_format(name).ok_or_else(|| {
                ApiError::invalid("formats", format!("unknown format {name:?} (expected srt, vtt, json, txt or pdf)"))
            })?;
            if !formats.contains(&(format as i32)) {
                formats.push(format as i32);
            }
        }
        let model = self.model.clone().unwrap_or_default();
        if !model.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) || model.contains("..") {
            return Err(ApiError::invalid("model", format!("{model:?} is not a model name such as \"tiny.en\"")));
        }
        let beam_size = self.beam_size.unwrap_or(0);
        if beam_size > 10 {
            return Err(ApiError::invalid("beam_size", "must be between 0 (greedy) and 10"));
        }
        let temperature = self.temperature.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&temperature) {
            return Err(ApiError::invalid("temperature", "must be between 0 and 1"));
        }
        let initial_prompt = self.initial_prompt.clone().unwrap_or_default();
        if initial_prompt.chars().count() > 1000 {
            return Err(ApiError::invalid("initial_prompt", "must be at most 1000 characters"));
        }
        let webhook_url = match self.webhook_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => String::new(),
            Some(raw) => http_url("webhook_url", raw)?,
        };
        let hotwords = self.hotwords.clone().unwrap_or_default();
        if hotwords.len() > 100 || hotwords.iter().any(|w| w.trim().is_empty() || w.chars().count() > 100) {
            return Err(ApiError::invalid("hotwords", "at most 100 words, each 1-100 characters"));
        }
        Ok(Submission {
            id,
            idempotency_key: self.idempotency_key.clone(),
            options: JobOptions {
                language,
                diarize: Some(diarize),
                formats,
                model,
                beam_size,
                temperature,
                initial_prompt,
                hotwords,
                translate: self.translate.unwrap_or(false),
                word_timestamps: Some(self.word_timestamps.unwrap_or(true)),
                num_speakers,
                min_speakers,
                max_speakers,
                webhook_url,
                enrol_voice: String::new(),
            },
        })
    }

    /// Text the ledger cannot store (a NUL character; Postgres refuses it)
    /// is refused here, naming the field, rather than failing later.
    fn refuse_unstorable_text(&self) -> Result<(), ApiError> {
        let single = [
            ("source_url", &self.source_url),
            ("language", &self.language),
            ("model", &self.model),
            ("initial_prompt", &self.initial_prompt),
            ("webhook_url", &self.webhook_url),
            ("job_id", &self.job_id),
            ("idempotency_key", &self.idempotency_key),
        ];
        let lists = [("formats", &self.formats), ("hotwords", &self.hotwords)];
        let texts = single
            .iter()
            .flat_map(|(field, value)| value.iter().map(move |v| (*field, v.as_str())))
            .chain(lists.iter().flat_map(|(field, values)| values.iter().flatten().map(move |v| (*field, v.as_str()))));
        for (field, text) in texts {
            refuse_nul(field, text)?;
        }
        Ok(())
    }

    /// `(num, min, max)` speakers, 0 where not given.
    fn speaker_count(&self, diarize: bool) -> Result<(u32, u32, u32), ApiError> {
        let fields = [
            ("num_speakers", self.num_speakers),
            ("min_speakers", self.min_speakers),
            ("max_speakers", self.max_speakers),
        ];
        for (field, value) in fields {
            match value {
                Some(_) if !diarize => return Err(ApiError::invalid(field, "needs diarization (diarize is false)")),
                Some(n) if !(1..=MAX_SPEAKERS).contains(&n) => {
                    return Err(ApiError::invalid(field, format!("must be between 1 and {MAX_SPEAKERS}")));
                }
                _ => {}
            }
        }
        let (num, min, max) = (self.num_speakers, self.min_speakers, self.max_speakers);
        if num.is_some() && (min.is_some() || max.is_some()) {
            return Err(ApiError::invalid("num_speakers", "give either num_speakers or min/max_speakers, not both"));
        }
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(ApiError::invalid("min_speakers", format!("{min} is more than max_speakers {max}")));
        }
        Ok((num.unwrap_or(0), min.unwrap_or(0), max.unwrap_or(0)))
    }

    /// The source URL, which must be http or https.
    pub fn url(&self) -> Result<String, ApiError> {
        let raw = self.source_url.as_deref().filter(|u| !u.trim().is_empty()).ok_or_else(|| {
            ApiError::invalid("source_url", "is required (or upload a file as multipart field `file`)")
        })?;
        http_url("source_url", raw)
    }
}

/// An http or https URL of at most 2048 characters, normalised.
fn http_url(field: &'static str, raw: &str) -> Result<String, ApiError> {
    let url = url::Url::parse(raw.trim()).map_err(|e| ApiError::invalid(field, format!("is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::invalid(field, format!("must be http or https, not {}:", url.scheme())));
    }
    if url.as_str().len() > 2048 {
        return Err(ApiError::invalid(field, "must be at most 2048 characters"));
    }
    Ok(url.to_string())
}

/// Refuses text with a NUL character, which the ledger cannot store.
pub fn refuse_nul(field: &'static str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::invalid(field, "must not contain a NUL character (\\u0000)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use steno_runtime::proto::Format;

    use super::*;
    use crate::views::OptionsView;

    #[test]
    fn validation_names_the_field() {
        let cases = [
            (SubmitJson { language: Some("english".into()), ..Default::default() }, "language"),
            (SubmitJson { language: Some("xx".into()), ..Default::default() }, "language"),
            (SubmitJson { num_speakers: Some(0), ..Default::default() }, "num_speakers"),
            (SubmitJson { min_speakers: Some(3), max_speakers: Some(2), ..Default::default() }, "min_speakers"),
            (SubmitJson { num_speakers: Some(2), diarize: Some(false), ..Default::default() }, "num_speakers"),
            (SubmitJson { num_speakers: Some(2), max_speakers: Some(3), ..Default::default() }, "num_speakers"),
            (SubmitJson { formats: Some(vec!["docx".into()]), ..Default::default() }, "formats"),
            (SubmitJson { job_id: Some("a.b".into()), ..Default::default() }, "job_id"),
            (SubmitJson { model: Some("../etc".into()), ..Default::default() }, "model"),
            (SubmitJson { webhook_url: Some("ftp://example.org/hook".into()), ..Default::default() }, "webhook_url"),
        ];
        for (json, field) in cases {
            match json.validate() {
                Err(ApiError::Invalid { field: f, .. }) => assert_eq!(f, field),
                Err(other) => panic!("{field}: wrong error {other}"),
                Ok(_) => panic!("{field}: accepted"),
            }
        }
    }

    #[test]
    fn urls_must_be_http() {
        let url = |u: &str| SubmitJson { source_url: Some(u.into()), ..Default::default() }.url();
        assert!(url("https://example.org/a.mp3").is_ok());
        assert!(matches!(url("ftp://example.org/a.mp3"), Err(ApiError::Invalid { field: "source_url", .. })));
        assert!(matches!(url("not a url"), Err(ApiError::Invalid { field: "source_url", .. })));
        assert!(SubmitJson::default().url().is_err());
    }

    #[test]
    fn options_round_trip_through_the_ledger_form() {
        let options = JobOptions {
            language: "en".into(),
            formats: vec![Format::Srt as i32],
            beam_size: 5,
            hotwords: vec!["Kubernetes".into()],
            word_timestamps: Some(false),
            diarize: Some(true),
            num_speakers: 3,
            ..Default::default()
        };
        assert_eq!(OptionsView::from(&options).to_proto(), options);
    }
}
