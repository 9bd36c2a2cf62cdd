//! Long files across replicas. [`split`] cuts the job's audio into parts
//! of about `part_secs`, each at a silence (or the quietest moment) near its
//! end, and writes each as its own artifact with a task for it; a part's
//! transcript is stored in the job's times; [`join`] puts the parts'
//! transcripts together in order once the last is done.

use steno_runtime::{
    artifacts::{self, AudioReader},
    proto::{Part, StageTask},
    stage::{JobContext, StageError},
    transcript::Transcript,
};

use crate::pieces::{self, SAMPLE_RATE};

/// Writes the audio of `task`'s job as parts of about `part_samples` (equal
/// shares, each cut a little before its end) and returns a task for each.
pub async fn split(
    task: &StageTask,
    ctx: &JobContext,
    mut audio: AudioReader,
    part_samples: usize,
) -> Result<Vec<StageTask>, StageError> {
    let total = audio.total_samples as usize;
    let count = total.div_ceil(part_samples.max(SAMPLE_RATE)).max(1);
    // Parts of equal length rather than full ones and a short remainder;
    // each ends at a cut a little before its share's end.
    let share = total.div_ceil(count);
    let mut pending: Vec<u8> = Vec::new();
    let mut start = 0; // of `pending`, in samples of the job's audio
    let mut tasks = Vec::with_capacity(count);
    for index in 0..count {
        let last = index + 1 == count;
        let end = if last { total } else { (index + 1) * share };
        pending.extend(audio.read_pcm(end.saturating_sub(start + pending.len() / 2)).await?);
        let samples = pending.len() / 2;
        let cut = if last {
            samples
        } else {
            let from = pieces::cut_search_start(samples);
            from + pieces::cut_point_of(&artifacts::pcm_samples(&pending[from * 2..]))
        };
        let name = artifacts::part_audio(index as u32);
        ctx.artifacts.put_bytes(&ctx.job_id, &name, &pending[..cut * 2]).await?;
        let mut part = task.clone();
        part.part =
            Some(Part { index: index as u32, count: count as u32, start_ms: (start * 1000 / SAMPLE_RATE) as u64 });
        part.artifacts.get_or_insert_default().audio = name;
        tasks.push(part);
        pending.drain(..cut * 2);
        start += cut;
    }
    tracing::info!(parts = count, "split into parts");
    Ok(tasks)
}

/// Moves a part's transcript to the job's times.
pub fn shift(transcript: &mut Transcript, part: &Part) {
    for segment in &mut transcript.segments {
        segment.start_ms += part.start_ms;
        segment.end_ms += part.start_ms;
        for word in &mut segment.words {
            word.start_ms += part.start_ms;
            word.end_ms += part.start_ms;
        }
    }
}

/// The parts' transcripts of a split job, in order, as one.
pub async fn join(count: u32, duration_ms: u64, ctx: &JobContext) -> Result<Transcript, StageError> {
    let mut joined = Transcript { duration_ms, ..Default::default() };
    for index in 0..count {
        let mut part: Transcript = ctx.artifacts.get_json(&ctx.job_id, &artifacts::part_transcript(index)).await?;
        if joined.language.is_empty() {
            joined.language = part.language;
        }
        joined.segments.append(&mut part.segments);
    }
    Ok(joined)
}

/// Removes the parts' audio once the job is joined (best effort: a leftover
/// only costs space).
pub async fn remove_part_audio(count: u32, ctx: &JobContext) {
    for index in 0..count {
        if let Err(e) = ctx.artifacts.delete(&ctx.job_id, &artifacts::part_audio(index)).await {
            tracing::warn!(error = format!("{e:#}"), "could not remove a part's audio");
        }
    }
}
