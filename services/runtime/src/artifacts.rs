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
}
