//! Artifacts of a job in the JetStream object store, named
//! `<job_id>/<artifact>`. Stages pass names in tasks, never bytes.

use std::{future::Future, path::Path};

use async_nats::jetstream::{object_store::ObjectStore, stream::Stream};
use base64::Engine;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::{JobId, subjects};

/// Well-known artifact names.
pub const SOURCE: &str = "source";
pub const AUDIO: &str = "audio.pcm";
pub const TRANSCRIPT: &str = "transcript.json";
/// The transcript with speakers, which diarize writes and export then reads.
pub const DIARIZED: &str = "diarized.json";
/// Speaker turns in RTTM.
pub const SPEAKERS_RTTM: &str = "speakers.rttm";

/// The audio of one part of a split job (`parts/0003.pcm`).
pub fn part_audio(index: u32) -> String {
    format!("parts/{index:04}.pcm")
}

/// The transcript of one part of a split job, in the job's times.
pub fn part_transcript(index: u32) -> String {
    format!("parts/{index:04}.json")
}

/// Name of an export artifact, e.g. `transcript.srt`.
pub fn export_artifact(extension: &str) -> String {
    format!("transcript.{extension}")
}

#[derive(Clone)]
pub struct Artifacts {
    store: ObjectStore,
    /// The store's stream, for reading an object's chunks one at a time.
    chunks: Stream,
}

impl Artifacts {
    /// `chunks` is `store`'s stream ([`subjects::object_store_stream`]).
    pub fn new(store: ObjectStore, chunks: Stream) -> Self {
        Self { store, chunks }
    }

    /// Writes an artifact from a reader, replacing any earlier version;
    /// returns its size in bytes.
    pub async fn put_reader(
        &self,
        job_id: &JobId,
        artifact: &str,
        reader: &mut (impl AsyncRead + Unpin),
    ) -> anyhow::Result<u64> {
        let name = subjects::artifact_name(job_id, artifact);
        let info =
            self.store.put(name.as_str(), reader).await.map_err(|e| anyhow::anyhow!("write artifact {name}: {e}"))?;
        Ok(info.size as u64)
    }

    pub async fn put_bytes(&self, job_id: &JobId, artifact: &str, bytes: &[u8]) -> anyhow::Result<u64> {
        self.put_reader(job_id, artifact, &mut &bytes[..]).await
    }

    pub async fn put_file(&self, job_id: &JobId, artifact: &str, path: &Path) -> anyhow::Result<u64> {
        let mut file = tokio::fs::File::open(path).await?;
        self.put_reader(job_id, artifact, &mut file).await
    }

    /// Reads a whole artifact into memory.
    pub async fn get_bytes(&self, job_id: &JobId, artifact: &str) -> Result<Vec<u8>, ArtifactError> {
        let mut object = self.open(job_id, artifact).await?;
        let mut bytes = Vec::new();
        object.read_to_end(&mut bytes).await.map_err(|e| ArtifactError::Read(artifact.into(), e.into()))?;
        Ok(bytes)
    }

    /// A JSON artifact (such as a transcript) decoded.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        job_id: &JobId,
        artifact: &str,
    ) -> Result<T, ArtifactError> {
        let bytes = self.get_bytes(job_id, artifact).await?;
        serde_json::from_slice(&bytes).map_err(|e| ArtifactError::Malformed(artifact.into(), e.to_string()))
    }

    pub async fn put_json(&self, job_id: &JobId, artifact: &str, value: &impl serde::Serialize) -> anyhow::Result<u64> {
        let bytes = serde_json::to_vec(value).map_err(|e| anyhow::anyhow!("encode {artifact}: {e}"))?;
        self.put_bytes(job_id, artifact, &bytes).await
    }

    /// The job's normalised audio ([`AUDIO`]) as samples in -1..1.
    pub async fn get_audio(&self, job_id: &JobId) -> Result<Vec<f32>, ArtifactError> {
        Ok(pcm_samples(&self.get_bytes(job_id, AUDIO).await?))
    }

    /// Audio in [`AUDIO`]'s format (the job's, or a part's) to read a
    /// block at a time.
    pub async fn audio_reader(&self, job_id: &JobId, artifact: &str) -> Result<AudioReader, ArtifactError> {
        let info = self.open(job_id, artifact).await?.info;
        Ok(AudioReader {
            total_samples: info.size as u64 / 2,
            stream: self.chunks.clone(),
            subject: subjects::object_chunks_subject(&info.bucket, &info.nuid),
            next_sequence: 0,
            chunks_left: info.chunks,
            chunk: bytes::Bytes::new(),
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            expected_digest: info.digest,
            name: artifact.to_owned(),
        })
    }

    /// Streams an artifact into a local file.
    pub async fn get_to_file(&self, job_id: &JobId, artifact: &str, path: &Path) -> Result<u64, ArtifactError> {
        let mut object = self.open(job_id, artifact).await?;
        let read_err = |e: std::io::Error| ArtifactError::Read(artifact.into(), e.into());
        let mut file = tokio::fs::File::create(path).await.map_err(read_err)?;
        let n = tokio::io::copy(&mut object, &mut file).await.map_err(read_err)?;
        file.flush().await.map_err(read_err)?;
        Ok(n)
    }

    pub async fn delete(&self, job_id: &JobId, artifact: &str) -> anyhow::Result<()> {
        let name = subjects::artifact_name(job_id, artifact);
        self.store.delete(name.as_str()).await.map_err(|e| anyhow::anyhow!("delete artifact {name}: {e}"))
    }

    /// Every stored object: its name and age in seconds.
    async fn objects(&self) -> anyhow::Result<Vec<(String, i64, String)>> {
        let now = chrono::Utc::now().timestamp();
        let mut list = self.store.list().await.map_err(|e| anyhow::anyhow!("list artifacts: {e}"))?;
        let mut objects = Vec::new();
        while let Some(info) = list.next().await {
            let info = info.map_err(|e| anyhow::anyhow!("list artifacts: {e}"))?;
            let age = info.modified.map_or(0, |at| now - at.unix_timestamp());
            objects.push((info.name, age, info.nuid));
        }
        Ok(objects)
    }

    /// Removes every artifact of a job; how many there were.
    pub async fn delete_job(&self, job_id: &JobId) -> anyhow::Result<usize> {
        let prefix = subjects::artifact_name(job_id, "");
        let mut removed = 0;
        for (name, _, _) in self.objects().await? {
            if name.starts_with(&prefix) {
                self.store.delete(name.as_str()).await.map_err(|e| anyhow::anyhow!("delete artifact {name}: {e}"))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes what no job owns, once older than `min_age_secs` (younger
    /// ones may be an upload whose job is being recorded): objects of jobs
    /// `is_job` does not know, and chunks no object refers to (left by an
    /// upload or download that failed midway). Returns both counts.
    pub async fn sweep_orphans<F, Fut>(&self, min_age_secs: i64, is_job: F) -> anyhow::Result<(usize, usize)>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = anyhow::Result<bool>>,
    {
        let objects = self.objects().await?;
        let mut objects_removed = 0;
        for (name, age, _) in &objects {
            let job = name.split('/').next().unwrap_or_default();
            if *age >= min_age_secs && !is_job(job.to_owned()).await? {
                self.store.delete(name.as_str()).await.map_err(|e| anyhow::anyhow!("delete artifact {name}: {e}"))?;
                objects_removed += 1;
            }
        }
        let live: std::collections::HashSet<String> = objects
            .iter()
            .map(|(_, _, nuid)| subjects::object_chunks_subject(subjects::ARTIFACTS_BUCKET, nuid))
            .collect();
        let bucket = subjects::ARTIFACTS_BUCKET;
        let mut chunk_subjects = self
            .chunks
            .info_with_subjects(subjects::object_chunks_subject(bucket, ">"))
            .await
            .map_err(|e| anyhow::anyhow!("list artifact chunks: {e}"))?;
        let mut orphans = Vec::new();
        while let Some(entry) = chunk_subjects.next().await {
            let (subject, _) = entry.map_err(|e| anyhow::anyhow!("list artifact chunks: {e}"))?;
            if !live.contains(&subject) {
                orphans.push(subject);
            }
        }
        let now = chrono::Utc::now().timestamp();
        let mut chunks_removed = 0;
        for subject in orphans {
            let Ok(last) = self.chunks.get_last_raw_message_by_subject(&subject).await else { continue };
            if now - last.time.unix_timestamp() >= min_age_secs {
                self.chunks.purge().filter(&subject).await.map_err(|e| anyhow::anyhow!("purge {subject}: {e}"))?;
                chunks_removed += 1;
            }
        }
        Ok((objects_removed, chunks_removed))
    }

    async fn open(
        &self,
        job_id: &JobId,
        artifact: &str,
    ) -> Result<async_nats::jetstream::object_store::Object, ArtifactError> {
        use async_nats::jetstream::object_store::GetErrorKind;
        let name = subjects::artifact_name(job_id, artifact);
        self.store.get(name.as_str()).await.map_err(|e| match e.kind() {
            GetErrorKind::NotFound => ArtifactError::NotFound(artifact.into()),
            _ => ArtifactError::Read(artifact.into(), anyhow::anyhow!("{e}")),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("artifact {0} does not exist")]
    NotFound(String),
    #[error("read artifact {0}: {1}")]
    Read(String, anyhow::Error),
    #[error("artifact {0} is malformed: {1}")]
    Malformed(String, String),
}

/// An audio artifact, read a block at a time. Chunks are fetched one by
/// one as they are wanted (JetStream direct get), so memory holds one block
/// and one chunk whatever the artifact's length; the object store's own
/// reader has the server push every chunk at once and buffers them all.
pub struct AudioReader {
    stream: Stream,
    /// `$O.<bucket>.C.<nuid>`: the object's chunks.
    subject: String,
    next_sequence: u64,
    chunks_left: usize,
    /// What is left of the chunk read last.
    chunk: bytes::Bytes,
    digest: ring::digest::Context,
    /// `SHA-256=<base64url>`, as the object store records it.
    expected_digest: Option<String>,
    name: String,
    pub total_samples: u64,
}

impl AudioReader {
    /// Up to `max` samples; fewer only at the end (empty once it is reached).
    pub async fn read(&mut self, max: usize) -> Result<Vec<f32>, ArtifactError> {
        Ok(pcm_samples(&self.read_pcm(max).await?))
    }

    /// As [`AudioReader::read`], the PCM bytes as stored.
    pub async fn read_pcm(&mut self, max: usize) -> Result<Vec<u8>, ArtifactError> {
        let mut bytes = Vec::with_capacity(max * 2);
        while bytes.len() < max * 2 {
            if self.chunk.is_empty() && !self.next_chunk().await? {
                break;
            }
            let n = self.chunk.len().min(max * 2 - bytes.len());
            bytes.extend_from_slice(&self.chunk.split_to(n));
        }
        Ok(bytes)
    }

    /// Fetches the next chunk; false at the end, once the digest matched.
    async fn next_chunk(&mut self) -> Result<bool, ArtifactError> {
        let failed = |e: anyhow::Error| ArtifactError::Read(self.name.clone(), e);
        if self.chunks_left == 0 {
            let digest = base64::engine::general_purpose::URL_SAFE.encode(self.digest.clone().finish());
            return match &self.expected_digest {
                Some(expected) if *expected != format!("SHA-256={digest}") => {
                    Err(failed(anyhow::anyhow!("its content does not match its SHA-256 digest")))
                }
                _ => Ok(false),
            };
        }
        let message = self
            .stream
            .direct_get_next_for_subject(self.subject.as_str(), Some(self.next_sequence))
            .await
            .map_err(|e| failed(anyhow::anyhow!("chunk after sequence {}: {e}", self.next_sequence)))?;
        self.next_sequence = message.sequence + 1;
        self.chunks_left -= 1;
        self.digest.update(&message.payload);
        self.chunk = message.payload;
        Ok(true)
    }
}

/// Little-endian 16-bit PCM (the [`AUDIO`] artifact) to samples in -1..1.
pub fn pcm_samples(pcm: &[u8]) -> Vec<f32> {
    pcm.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn pcm_scales_to_unit_range() {
        let samples = super::pcm_samples(&[0x00, 0x80, 0xff, 0x7f, 0, 0]);
        assert_eq!(samples[0], -1.0);
        assert!((samples[1] - 1.0).abs() < 1e-4);
        assert_eq!(samples[2], 0.0);
    }
}
