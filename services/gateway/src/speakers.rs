//! Speakers of a finished, diarized job: list them, give them names, and
//! read the turns as RTTM. A
//! rename rewrites the diarized transcript and renders the job's exports
//! again with the export stage's own renderers ([`Jobs::render_exports`])
//! and its corrections, so every download uses the names at once.

use std::collections::BTreeMap;

use steno_export::render::{self, Document, ExportFormat};
use steno_runtime::{
    JobId, artifacts,
    transcript::{Speaker, Transcript},
};

use crate::{auth::Caller, error::ApiError, jobs::Jobs, store::JobRow, views};

/// Longest speaker name, in characters.
const MAX_NAME_CHARS: usize = 64;

impl Jobs {
    /// The speakers of a completed job, in order of first appearance.
    pub async fn speakers(&self, caller: &Caller, id: &JobId) -> Result<Vec<Speaker>, ApiError> {
        let (_, transcript) = self.diarized_transcript(caller, id).await?;
        Ok(transcript.speakers)
    }

    /// Applies `names` (speaker id → display name; empty restores the
    /// default) and re-renders the exports. Returns every speaker.
    pub async fn rename_speakers(
        &self,
        caller: &Caller,
        id: &JobId,
        names: &BTreeMap<String, String>,
    ) -> Result<Vec<Speaker>, ApiError> {
        let (job, mut transcript) = self.diarized_transcript(caller, id).await?;
        apply_names(&mut transcript.speakers, names)?;
        let internal = |e: anyhow::Error| ApiError::unavailable("cannot store the renamed transcript", &e);
        self.artifacts.put_json(id, artifacts::DIARIZED, &transcript).await.map_err(internal)?;
        // Exports and search (renamed speakers are found by their new
        // names) keep the transcript's corrections.
        let edited = crate::transcripts::apply(transcript.clone(), &self.edits(id).await?);
        self.publish_transcript(&job, &edited).await?;
        tracing::info!(job_id = %id, renamed = names.len(), "speakers renamed");
        Ok(transcript.speakers)
    }

    /// Renders `transcript` again as every export `job` has (each
    /// `transcript.<ext>` in its `exports`), headed as the export stage
    /// heads them.
    pub async fn render_exports(&self, job: &JobRow, transcript: &Transcript) -> Result<(), ApiError> {
        let id = ApiError::job_id(&job.id)?;
        let document = Document::new(&views::source_name(job), job.created_at.timestamp_millis());
        for name in job.exports.0.iter() {
            let Some(format) = name.strip_prefix("transcript.").and_then(|ext| ext.parse::<ExportFormat>().ok()) else {
                continue;
            };
            let body = render::render(transcript, format, &self.cues, &document)
                .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context(format!("render {name}"))))?;
            self.artifacts
                .put_bytes(&id, name, &body)
                .await
                .map_err(|e| ApiError::unavailable("cannot store the rendered transcript", &e))?;
        }
        Ok(())
    }

    /// The job's speaker turns as RTTM.
    pub async fn speaker_turns(&self, caller: &Caller, id: &JobId) -> Result<Vec<u8>, ApiError> {
        self.diarized_transcript(caller, id).await?;
        self.artifacts.get_bytes(id, artifacts::SPEAKERS_RTTM).await.map_err(|e| ApiError::Internal(e.into()))
    }

    /// The completed job and its diarized transcript (409 for a job that
    /// was not diarized).
    async fn diarized_transcript(&self, caller: &Caller, id: &JobId) -> Result<(JobRow, Transcript), ApiError> {
        let job = self.completed(caller, id).await?;
        match self.artifacts.get_json(id, artifacts::DIARIZED).await {
            Ok(transcript) => Ok((job, transcript)),
            Err(artifacts::ArtifactError::NotFound(_)) => {
                Err(ApiError::Conflict(format!("job {id} was not diarized (it was submitted with diarize: false)")))
            }
            Err(e) => Err(ApiError::Internal(e.into())),
        }
    }
}

/// A speaker name as subtitles can show it: trimmed, at most 64
/// characters, no line breaks or angle brackets (may be empty).
pub fn printable_name(name: &str) -> Option<&str> {
    let name = name.trim();
    let printable =
        name.chars().count() <= MAX_NAME_CHARS && !name.chars().any(|c| c.is_control() || c == '<' || c == '>');
    printable.then_some(name)
}

/// Sets display names; every id must exist and every name be printable in
/// subtitles (no line breaks or angle brackets, at most 64 characters).
fn apply_names(speakers: &mut [Speaker], names: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if names.is_empty() {
        return Err(ApiError::invalid("speakers", "give at least one speaker id and its name, e.g. {\"S1\": \"Ann\"}"));
    }
    for (id, name) in names {
        let Some(position) = speakers.iter().position(|s| &s.id == id) else {
            let known: Vec<&str> = speakers.iter().map(|s| s.id.as_str()).collect();
            return Err(ApiError::invalid(
                "speakers",
                format!("no speaker {id:?} in this job (it has {})", known.join(", ")),
            ));
        };
        let name = printable_name(name).ok_or_else(|| {
            ApiError::invalid(
                "speakers",
                format!("name for {id} must be at most {MAX_NAME_CHARS} characters, without line breaks or < >"),
            )
        })?;
        speakers[position].name = if name.is_empty() { format!("Speaker {}", position + 1) } else { name.to_owned() };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speakers() -> Vec<Speaker> {
        (1..=2).map(|n| Speaker { id: format!("S{n}"), name: format!("Speaker {n}") }).collect()
    }

    #[test]
    fn names_apply_and_an_empty_name_restores_the_default() {
        let mut s = speakers();
        apply_names(&mut s, &BTreeMap::from([("S2".into(), " Ann ".into())])).expect("rename");
        assert_eq!(s[1].name, "Ann");
        apply_names(&mut s, &BTreeMap::from([("S2".into(), String::new())])).expect("reset");
        assert_eq!(s[1].name, "Speaker 2");
    }

    #[test]
    fn unknown_ids_and_unprintable_names_are_refused() {
        let mut s = speakers();
        for names in [
            BTreeMap::from([("S9".to_owned(), "Ann".to_owned())]),
            BTreeMap::from([("S1".to_owned(), "Ann\nBob".to_owned())]),
            BTreeMap::from([("S1".to_owned(), "<v Ann>".to_owned())]),
            BTreeMap::new(),
        ] {
            assert!(matches!(apply_names(&mut s, &names), Err(ApiError::Invalid { field: "speakers", .. })));
        }
        assert_eq!(s, speakers());
    }
}
