//! Artifacts of a job in the JetStream object store, named
//! `<job_id>/<artifact>`. Stages pass names in tasks, never bytes. Tests of a
//! stage's `process` use [`Artifacts::in_memory`] instead.

use std::{
    collections::HashMap,
    future::Future,
    path::Path,
    sync::{Arc, Mutex},
};

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
/// Corrections made to a finished transcript (the gateway's).
pub const EDITS: &str = "edits.json";

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
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Nats {
        store: Box<ObjectStore>,
        /// The store's stream, for reading an object's chunks one at a time.
        chunks: Box<Stream>,
    },
    /// Objects by name, in this process only.
    Memory(Arc<Mutex<HashMap<String, bytes::Bytes>>>),
}

impl Artifacts {
    /// `chunks` is `store`'s stream ([`subjects::object_store_stream`]).
    pub fn new(store: ObjectStore, chunks: Stream) -> Self {
        Self { backend: Backend::Nats { store: Box::new(store), chunks: Box::new(chunks) } }
    }

    /// An empty store in memory, for tests of a stage without NATS.
    pub fn in_memory() -> Self {
        Self { backend: Backend::Memory(Arc::default()) }
    }

    fn memory(
        objects: &Mutex<HashMap<String, bytes::Bytes>>,
    ) -> std::sync::MutexGuard<'_, HashMap<String, bytes::Bytes>> {
        objects.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
        match &self.backend {
            Backend::Nats { store, .. } => {
                let info = store
                    .put(name.as_str(), reader)
                    .await
                    .map_err(|e| anyhow::anyhow!("write artifact {name}: {e}"))?;
                Ok(info.size as u64)
            }
            Backend::Memory(objects) => {
                let mut bytes = Vec::new();
                reader.read_to_end(&mut bytes).await?;
                let size = bytes.len() as u64;
                Self::memory(objects).insert(name, bytes.into());
                Ok(size)
            }
        }
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
        if let Backend::Memory(objects) = &self.backend {
            return Ok(Self::in_memory_object(objects, job_id, artifact)?.to_vec());
        }
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

    /// Audio in [`AUDIO`]'s format (the job's, or a part's) to read a
    /// block at a time.
    pub async fn audio_reader(&self, job_id: &JobId, artifact: &str) -> Result<AudioReader, ArtifactError> {
        let chunks = match &self.backend {
            Backend::Nats { chunks, .. } => (**chunks).clone(),
            Backend::Memory(objects) => {
                let bytes = Self::in_memory_object(objects, job_id, artifact)?;
                return Ok(AudioReader {
                    total_samples: bytes.len() as u64 / 2,
                    stream: None,
                    subject: String::new(),
                    next_sequence: 0,
                    chunks_left: 0,
                    chunk: bytes,
                    digest: ring::digest::Context::new(&ring::digest::SHA256),
                    expected_digest: None,
                    name: artifact.to_owned(),
                });
            }
        };
        let info = self.open(job_id, artifact).await?.info;
        Ok(AudioReader {
            total_samples: info.size as u64 / 2,
            stream: Some(chunks),
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
        let read_err = |e: std::io::Error| ArtifactError::Read(artifact.into(), e.into());
        if let Backend::Memory(objects) = &self.backend {
            let bytes = Self::in_memory_object(objects, job_id, artifact)?;
            tokio::fs::write(path, &bytes).await.map_err(read_err)?;
            return Ok(bytes.len() as u64);
        }
        let mut object = self.open(job_id, artifact).await?;
        let mut file = tokio::fs::File::create(path).await.map_err(read_err)?;
        let n = tokio::io::copy(&mut object, &mut file).await.map_err(read_err)?;
        file.flush().await.map_err(read_err)?;
        Ok(n)
    }

    pub async fn delete(&self, job_id: &JobId, artifact: &str) -> anyhow::Result<()> {
        self.delete_object(&subjects::artifact_name(job_id, artifact)).await
    }

    async fn delete_object(&self, name: &str) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Nats { store, .. } => {
                store.delete(name).await.map_err(|e| anyhow::anyhow!("delete artifact {name}: {e}"))
            }
            Backend::Memory(objects) => {
                Self::memory(objects).remove(name);
                Ok(())
            }
        }
    }

    fn in_memory_object(
        objects: &Mutex<HashMap<String, bytes::Bytes>>,
        job_id: &JobId,
        artifact: &str,
    ) -> Result<bytes::Bytes, ArtifactError> {
        let name = subjects::artifact_name(job_id, artifact);
        Self::memory(objects).get(&name).cloned().ok_or_else(|| ArtifactError::NotFound(artifact.into()))
    }

    /// Every stored object: its name, age in seconds and chunk id.
    async fn objects(&self) -> anyhow::Result<Vec<(String, i64, String)>> {
        let store = match &self.backend {
            Backend::Nats { store, .. } => store,
            Backend::Memory(objects) => {
                return Ok(Self::memory(objects).keys().map(|name| (name.clone(), 0, String::new())).collect());
            }
        };
        let now = chrono::Utc::now().timestamp();
        let mut list = store.list().await.map_err(|e| anyhow::anyhow!("list artifacts: {e}"))?;
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
                self.delete_object(&name).await?;
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
                self.delete_object(name).await?;
                objects_removed += 1;
            }
        }
        let Backend::Nats { chunks, .. } = &self.backend else { return Ok((objects_removed, 0)) };
        let live: std::collections::HashSet<String> = objects
            .iter()
            .map(|(_, _, nuid)| subjects::object_chunks_subject(subjects::ARTIFACTS_BUCKET, nuid))
            .collect();
        let bucket = subjects::ARTIFACTS_BUCKET;
        let mut chunk_subjects = chunks
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
            let Ok(last) = chunks.get_last_raw_message_by_subject(&subject).await else { continue };
            if now - last.time.unix_timestamp() >= min_age_secs {
                chunks.purge().filter(&subject).await.map_err(|e| anyhow::anyhow!("purge {subject}: {e}"))?;
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
        let Backend::Nats { store, .. } = &self.backend else {
            return Err(ArtifactError::Read(artifact.into(), anyhow::anyhow!("not an object store")));
        };
        store.get(name.as_str()).await.map_err(|e| match e.kind() {
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
    /// `None` for an artifact in memory: it is all in `chunk`.
    stream: Option<Stream>,
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
        let Some(stream) = &self.stream else { return Ok(false) };
        let message = stream
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
