//! Artifacts of a job in the JetStream object store, named
//! `<job_id>/<artifact>`. Stages pass names in tasks, never bytes.

use std::path::Path;

use async_nats::jetstream::object_store::ObjectStore;
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
}

impl Artifacts {
    pub fn new(store: ObjectStore) -> Self {
        Self { store }
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
        let object = self.open(job_id, artifact).await?;
        Ok(AudioReader { total_samples: object.info.size as u64 / 2, object, name: artifact.to_owned() })
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

/// An audio artifact, read a block at a time.
pub struct AudioReader {
    object: async_nats::jetstream::object_store::Object,
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
        let mut bytes = vec![0u8; max * 2];
        let mut filled = 0;
        while filled < bytes.len() {
            match self.object.read(&mut bytes[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Err(ArtifactError::Read(self.name.clone(), e.into())),
            }
        }
        bytes.truncate(filled);
        Ok(bytes)
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
