//! A finished job's transcript to read and correct, and its audio to play
//! (what the web app's job page uses):
//! - `GET /v1/jobs/{id}/transcript`: segments with their words, speakers
//!   and the corrections made;
//! - `PATCH /v1/jobs/{id}/segments/{index}`: corrects a segment's text. The
//!   correction is stored as an edit (`edits.json`, beside the transcript,
//!   which stays as the pipeline wrote it), the exports are rendered again
//!   with it and the search index follows;
//! - `GET /v1/jobs/{id}/audio`: the job's normalised audio as WAV, with
//!   byte ranges so a player can seek.

use std::collections::BTreeMap;

use axum::{
    Extension, Json, Router,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, patch},
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use steno_runtime::{
    JobId, artifacts,
    transcript::{Segment, Transcript, Word},
};

use crate::{auth::Caller, error::ApiError, jobs::Jobs, store::JobRow, store::JobStatus};

/// Longest corrected segment text, in characters.
const MAX_SEGMENT_CHARS: usize = 2000;
/// Samples the audio route reads from the store at a time.
const AUDIO_BLOCK_SAMPLES: usize = 64 << 10;
/// The normalised audio's format (see transcode): 16 kHz mono s16le.
const SAMPLE_RATE: u32 = 16_000;
const WAV_HEADER_BYTES: u64 = 44;

pub fn routes() -> Router<Jobs> {
    Router::new()
        .route("/v1/jobs/{id}/transcript", get(transcript))
        .route("/v1/jobs/{id}/segments/{index}", patch(edit_segment))
        .route("/v1/jobs/{id}/audio", get(audio))
}

/// The corrections made to a job's transcript, by segment index.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Edits {
    pub segments: BTreeMap<usize, SegmentEdit>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SegmentEdit {
    pub text: String,
    /// The text the pipeline wrote.
    pub original: String,
    pub edited_at: chrono::DateTime<chrono::Utc>,
}

/// A transcript as the job page reads it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TranscriptView {
    pub language: String,
    pub duration_ms: u64,
    /// Speakers in order of first appearance, with their display names.
    pub speakers: Vec<SpeakerView>,
    pub segments: Vec<SegmentView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SpeakerView {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SegmentView {
    /// Its position, which `PATCH /v1/jobs/{id}/segments/{index}` names.
    pub index: usize,
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: Option<String>,
    pub text: String,
    /// The pipeline's text, when the segment was corrected.
    pub original_text: Option<String>,
    pub words: Vec<WordView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WordView {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub speaker: Option<String>,
}

/// `PATCH /v1/jobs/{id}/segments/{index}`: the new text; the original
/// text restores the segment.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentText {
    pub text: String,
}

impl Jobs {
    /// The completed job's transcript with its corrections applied.
    pub async fn transcript_view(&self, caller: &Caller, id: &JobId) -> Result<TranscriptView, ApiError> {
        let (_, transcript) = self.base_transcript(caller, id).await?;
        let edits = self.edits(id).await?;
        Ok(view(&apply(transcript, &edits), &edits))
    }

    /// Stores `text` as segment `index`'s correction and renders the
    /// exports and the search index again with it.
    pub async fn edit_segment(
        &self,
        caller: &Caller,
        id: &JobId,
        index: usize,
        text: &str,
    ) -> Result<TranscriptView, ApiError> {
        let text = clean_text(text)?;
        let (job, transcript) = self.base_transcript(caller, id).await?;
        let mut edits = self.edits(id).await?;
        let Some(segment) = transcript.segments.get(index) else {
            let count = transcript.segments.len();
            return Err(ApiError::NotFound(format!("job {id} has no segment {index} (it has {count})")));
        };
        let original = edits.segments.get(&index).map_or_else(|| segment.text.clone(), |e| e.original.clone());
        edits.segments.insert(index, SegmentEdit { text, original, edited_at: chrono::Utc::now() });
        let internal = |e: anyhow::Error| ApiError::unavailable("cannot store the correction", &e);
        self.artifacts.put_json(id, artifacts::EDITS, &edits).await.map_err(internal)?;
        let edited = apply(transcript, &edits);
        self.publish_transcript(&job, &edited).await?;
        tracing::info!(job_id = %id, segment = index, "segment corrected");
        Ok(view(&edited, &edits))
    }

    /// Renders `transcript` (corrections applied) as every export the job
    /// has, and indexes it for search.
    pub async fn publish_transcript(&self, job: &JobRow, transcript: &Transcript) -> Result<(), ApiError> {
        self.render_exports(job, transcript).await?;
        Ok(crate::search::index(&self.store, &job.id, &job.tenant, transcript).await?)
    }

    /// The transcript as the pipeline last wrote it (diarized when the job
    /// was) and the job, which must have completed.
    pub async fn base_transcript(&self, caller: &Caller, id: &JobId) -> Result<(JobRow, Transcript), ApiError> {
        let job = self.completed(caller, id).await?;
        let read = |e: artifacts::ArtifactError| ApiError::Internal(e.into());
        let transcript = match self.artifacts.get_json(id, artifacts::DIARIZED).await {
            Ok(transcript) => transcript,
            Err(artifacts::ArtifactError::NotFound(_)) => {
                match self.artifacts.get_json(id, artifacts::TRANSCRIPT).await {
                    Ok(transcript) => transcript,
                    // A voice's enrolment makes none.
                    Err(artifacts::ArtifactError::NotFound(_)) => {
                        return Err(ApiError::NotFound(format!("job {id} has no transcript")));
                    }
                    Err(e) => return Err(read(e)),
                }
            }
            Err(e) => return Err(read(e)),
        };
        Ok((job, transcript))
    }

    /// The job's corrections (none when it has not been corrected).
    pub async fn edits(&self, id: &JobId) -> Result<Edits, ApiError> {
        match self.artifacts.get_json(id, artifacts::EDITS).await {
            Ok(edits) => Ok(edits),
            Err(artifacts::ArtifactError::NotFound(_)) => Ok(Edits::default()),
            Err(e) => Err(ApiError::Internal(e.into())),
        }
    }

    /// The caller's job, which must have completed.
    pub async fn completed(&self, caller: &Caller, id: &JobId) -> Result<JobRow, ApiError> {
        let job = self.get(caller, id).await?;
        match job.status {
            JobStatus::Completed => Ok(job),
            status => {
                Err(ApiError::Conflict(format!("job {id} is {status}; its transcript is read once it completes")))
            }
        }
    }
}

/// Applies every correction to the transcript.
pub fn apply(mut transcript: Transcript, edits: &Edits) -> Transcript {
    for (index, edit) in &edits.segments {
        if let Some(segment) = transcript.segments.get_mut(*index) {
            retext(segment, &edit.text);
        }
    }
    transcript
}

/// Gives `segment` the text `text`, keeping the times of the words the
/// correction left alone: the words both texts begin and end with keep
/// theirs, and the changed words between share the changed words' span
/// (with a neighbour's, for words only inserted), one to one when as many
/// were replaced, else in proportion to length.
fn retext(segment: &mut Segment, text: &str) {
    let new: Vec<&str> = text.split_whitespace().collect();
    segment.text = new.join(" ");
    let old = std::mem::take(&mut segment.words);
    if old.is_empty() {
        return;
    }
    let same = |a: &Word, b: &&str| a.text == **b;
    let mut prefix = old.iter().zip(&new).take_while(|(a, b)| same(a, b)).count();
    let mut suffix = old[prefix..].iter().rev().zip(new[prefix..].iter().rev()).take_while(|(a, b)| same(a, b)).count();
    // Inserted words share a neighbour's time rather than taking none.
    if prefix + suffix == old.len() && new.len() > old.len() {
        if suffix > 0 {
            suffix -= 1;
        } else {
            prefix -= 1;
        }
    }
    let (old_middle, new_middle) = (&old[prefix..old.len() - suffix], &new[prefix..new.len() - suffix]);
    let mut words: Vec<Word> = old[..prefix].to_vec();
    if old_middle.len() == new_middle.len() {
        words.extend(old_middle.iter().zip(new_middle).map(|(w, text)| Word { text: (*text).to_owned(), ..w.clone() }));
    } else {
        let start = old_middle.first().map_or(segment.start_ms, |w| w.start_ms);
        let end = old_middle.last().map_or(segment.end_ms, |w| w.end_ms);
        let speaker = old_middle.first().and_then(|w| w.speaker.clone());
        let chars: usize = new_middle.iter().map(|w| w.chars().count()).sum();
        let span = end.saturating_sub(start);
        let mut done = 0;
        for text in new_middle {
            let at = |chars_before: usize| start + span * chars_before as u64 / chars.max(1) as u64;
            let (from, to) = (at(done), at(done + text.chars().count()));
            done += text.chars().count();
            words.push(Word {
                start_ms: from,
                end_ms: to,
                text: (*text).to_owned(),
                probability: 1.0,
                speaker: speaker.clone(),
            });
        }
    }
    words.extend_from_slice(&old[old.len() - suffix..]);
    segment.words = words;
}

/// A correction's text: one line of printable text, 1 to 2000 characters.
fn clean_text(text: &str) -> Result<String, ApiError> {
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(ApiError::invalid("text", "must not hold control characters"));
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() || text.chars().count() > MAX_SEGMENT_CHARS {
        return Err(ApiError::invalid("text", format!("must be 1 to {MAX_SEGMENT_CHARS} characters of text")));
    }
    Ok(text)
}

fn view(transcript: &Transcript, edits: &Edits) -> TranscriptView {
    let name = |id: &str| steno_export::render::speaker_display_name(transcript, id);
    let speakers = transcript.speakers.iter().map(|s| SpeakerView { id: s.id.clone(), name: name(&s.id) }).collect();
    let segments = transcript
        .segments
        .iter()
        .enumerate()
        .map(|(index, s)| SegmentView {
            index,
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            speaker: s.speaker.clone(),
            text: s.text.clone(),
            original_text: edits.segments.get(&index).filter(|e| e.original != s.text).map(|e| e.original.clone()),
            words: s
                .words
                .iter()
                .map(|w| WordView {
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                    text: w.text.clone(),
                    speaker: w.speaker.clone(),
                })
                .collect(),
        })
        .collect();
    TranscriptView { language: transcript.language.clone(), duration_ms: transcript.duration_ms, speakers, segments }
}

/// `GET /v1/jobs/{id}/transcript`
#[utoipa::path(get, path = "/v1/jobs/{id}/transcript", tag = "transcripts", params(("id" = String, Path, description = "the job id")),
    responses((status = 200, body = TranscriptView), (status = 404, description = "no such job", body = crate::openapi::ErrorBody),
        (status = 409, description = "the job has not completed", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
pub(crate) async fn transcript(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<TranscriptView>, ApiError> {
    let id = ApiError::job_id(&id)?;
    Ok(Json(jobs.transcript_view(&caller, &id).await?))
}

/// `PATCH /v1/jobs/{id}/segments/{index}` with `{"text": "..."}`: answers
/// with the whole transcript as `GET /v1/jobs/{id}/transcript`.
#[utoipa::path(patch, path = "/v1/jobs/{id}/segments/{index}", tag = "transcripts",
    params(("id" = String, Path, description = "the job id"), ("index" = usize, Path, description = "the segment's index")),
    request_body = SegmentText,
    responses((status = 200, body = TranscriptView), (status = 400, description = "a malformed body", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such job or segment", body = crate::openapi::ErrorBody),
        (status = 409, description = "the job has not completed", body = crate::openapi::ErrorBody),
        (status = 422, description = "an invalid text", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
pub(crate) async fn edit_segment(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    body: Result<Json<SegmentText>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<TranscriptView>, ApiError> {
    let Path((id, index)) = path.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let id = ApiError::job_id(&id)?;
    let index: usize = index.parse().map_err(|_| ApiError::NotFound(format!("job {id} has no segment {index:?}")))?;
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("request body: {}", e.body_text())))?;
    Ok(Json(jobs.edit_segment(&caller, &id, index, &body.text).await?))
}

/// `GET /v1/jobs/{id}/audio`: the completed job's audio as 16 kHz mono
/// 16-bit WAV; a `Range: bytes=` header gets that part (206).
#[utoipa::path(get, path = "/v1/jobs/{id}/audio", tag = "transcripts", params(("id" = String, Path, description = "the job id")),
    responses((status = 200, description = "the audio", content_type = "audio/wav", body = Vec<u8>),
        (status = 404, description = "no such job", body = crate::openapi::ErrorBody),
        (status = 409, description = "the job has not completed", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid API key", body = crate::openapi::ErrorBody),
        (status = 503, description = "the ledger or NATS is not answering", body = crate::openapi::ErrorBody)))]
pub(crate) async fn audio(
    State(jobs): State<Jobs>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = ApiError::job_id(&id)?;
    jobs.completed(&caller, &id).await?;
    let reader = jobs.artifacts.audio_reader(&id, artifacts::AUDIO).await.map_err(|e| match e {
        artifacts::ArtifactError::NotFound(_) => ApiError::NotFound(format!("job {id} has no audio")),
        e => ApiError::Internal(e.into()),
    })?;
    let total = WAV_HEADER_BYTES + reader.total_samples * 2;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(|v| byte_range(v, total));
    let (status, from, to) = match range {
        None => (StatusCode::OK, 0, total),
        Some(Some((from, to))) => (StatusCode::PARTIAL_CONTENT, from, to),
        Some(None) => {
            let headers = [(header::CONTENT_RANGE, format!("bytes */{total}"))];
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response());
        }
    };
    let mut response = Response::new(Body::from_stream(wav_bytes(reader, from, to)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("audio/wav"));
    headers.insert(header::ACCEPT_RANGES, header::HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(to - from));
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {from}-{}/{total}", to - 1);
        headers.insert(
            header::CONTENT_RANGE,
            header::HeaderValue::try_from(value).map_err(|e| ApiError::Internal(e.into()))?,
        );
    }
    Ok(response)
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` → the half-open byte span it
/// names within `total`; `None` when it names none (one range only).
fn byte_range(value: &str, total: u64) -> Option<(u64, u64)> {
    let (first, last) = value.trim().strip_prefix("bytes=")?.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let (from, to) = if first.is_empty() {
        let n: u64 = last.parse().ok()?;
        (total.saturating_sub(n), total)
    } else {
        let from: u64 = first.parse().ok()?;
        let to = if last.is_empty() { total } else { last.parse::<u64>().ok()?.saturating_add(1).min(total) };
        (from, to)
    };
    (from < to).then_some((from, to))
}

/// The 44-byte header of a WAV holding `data_bytes` of 16 kHz mono s16le.
fn wav_header(data_bytes: u64) -> Vec<u8> {
    let data = u32::try_from(data_bytes).unwrap_or(u32::MAX);
    let mut h = Vec::with_capacity(WAV_HEADER_BYTES as usize);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&data.saturating_add(36).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    h.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // bytes a second
    h.extend_from_slice(&2u16.to_le_bytes()); // bytes a frame
    h.extend_from_slice(&16u16.to_le_bytes()); // bits a sample
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data.to_le_bytes());
    h
}

/// Bytes `from..to` of the WAV file of `reader`'s audio, read a block at a
/// time (what comes before `from` is read and dropped).
fn wav_bytes(
    reader: artifacts::AudioReader,
    from: u64,
    to: u64,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let header = wav_header(reader.total_samples * 2);
    futures::stream::unfold((reader, 0u64, Some(header)), move |(mut reader, position, header)| async move {
        if position >= to {
            return None;
        }
        let bytes = match header {
            Some(header) => header,
            None => match reader.read_pcm(AUDIO_BLOCK_SAMPLES).await {
                Ok(bytes) if bytes.is_empty() => return None,
                Ok(bytes) => bytes,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), (reader, to, None))),
            },
        };
        let end = position + bytes.len() as u64;
        let (skip, take) = (from.saturating_sub(position), end.min(to).saturating_sub(position));
        let part = bytes.get(skip.min(take) as usize..take as usize).unwrap_or_default().to_vec();
        Some((Ok(part), (reader, end, None)))
    })
    .filter(|part| std::future::ready(!matches!(part, Ok(bytes) if bytes.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start_ms: u64, end_ms: u64) -> Word {
        Word { start_ms, end_ms, text: text.into(), probability: 0.9, speaker: Some("S1".into()) }
    }

    fn segment() -> Segment {
        let words = vec![word("Buy", 0, 300), word("milk", 300, 700), word("and", 700, 900), word("bread.", 900, 1500)];
        Segment { start_ms: 0, end_ms: 1500, text: "Buy milk and bread.".into(), words, ..Segment::default() }
    }

    fn times(segment: &Segment) -> Vec<(&str, u64, u64)> {
        segment.words.iter().map(|w| (w.text.as_str(), w.start_ms, w.end_ms)).collect()
    }

    #[test]
    fn a_replaced_word_keeps_its_time() {
        let mut s = segment();
        retext(&mut s, "Buy silk  and bread.");
        assert_eq!(s.text, "Buy silk and bread.");
        assert_eq!(times(&s), [("Buy", 0, 300), ("silk", 300, 700), ("and", 700, 900), ("bread.", 900, 1500)]);
    }

    #[test]
    fn more_words_share_the_changed_span_by_length() {
        let mut s = segment();
        retext(&mut s, "Buy oat milk and bread.");
        assert_eq!(s.words.len(), 5);
        // "milk" became "oat milk": 7 characters over 300..700.
        assert_eq!(times(&s)[1..3], [("oat", 300, 471), ("milk", 471, 700)]);
        assert_eq!(s.words[1].speaker.as_deref(), Some("S1"));
        let mut s = segment();
        retext(&mut s, "Buy bread.");
        assert_eq!(times(&s), [("Buy", 0, 300), ("bread.", 900, 1500)]);
    }

    #[test]
    fn corrections_apply_and_show_the_original() {
        let transcript = Transcript { segments: vec![segment(), segment()], ..Transcript::default() };
        let edit = SegmentEdit {
            text: "Buy milk.".into(),
            original: "Buy milk and bread.".into(),
            edited_at: chrono::Utc::now(),
        };
        let edits = Edits {
            segments: BTreeMap::from([
                (1, edit),
                (7, SegmentEdit { text: "x".into(), original: "y".into(), edited_at: chrono::Utc::now() }),
            ]),
        };
        let edited = apply(transcript, &edits);
        let view = view(&edited, &edits);
        assert_eq!(view.segments[0].text, "Buy milk and bread.");
        assert_eq!(view.segments[0].original_text, None);
        assert_eq!(view.segments[1].text, "Buy milk.");
        assert_eq!(view.segments[1].original_text.as_deref(), Some("Buy milk and bread."));
    }

    #[test]
    fn correction_text_is_one_line_of_text() {
        assert_eq!(clean_text("  Hello\n  there ").ok().as_deref(), Some("Hello there"));
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(2001)] {
            assert!(clean_text(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(byte_range("bytes=0-", 100), Some((0, 100)));
        assert_eq!(byte_range("bytes=10-19", 100), Some((10, 20)));
        assert_eq!(byte_range("bytes=90-500", 100), Some((90, 100)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 100)));
        for bad in ["bytes=100-", "bytes=5-2", "items=0-1", "bytes=a-b", "bytes=0-1,3-4"] {
            assert_eq!(byte_range(bad, 100), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn wav_ranges_cut_across_header_and_samples() {
        let artifacts = artifacts::Artifacts::in_memory();
        let id = JobId::parse("job-wav").expect("id");
        let pcm: Vec<u8> = (0..200u8).collect();
        artifacts.put_bytes(&id, artifacts::AUDIO, &pcm).await.expect("put");
        let whole = [wav_header(200), pcm.clone()].concat();
        for (from, to) in [(0, 244), (0, 10), (40, 50), (44, 244), (100, 101), (243, 244)] {
            let reader = artifacts.audio_reader(&id, artifacts::AUDIO).await.expect("reader");
            let parts: Vec<Vec<u8>> = wav_bytes(reader, from, to).map(|p| p.expect("part")).collect().await;
            assert_eq!(parts.concat(), whole[from as usize..to as usize], "{from}..{to}");
        }
        assert_eq!(&whole[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes([whole[40], whole[41], whole[42], whole[43]]), 200);
    }
}
