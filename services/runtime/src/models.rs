//! The whisper models a transcriber can load, as it answers
//! [`subjects::MODELS_SUBJECT`](crate::subjects::MODELS_SUBJECT) requests
//! (the gateway's `GET /v1/models`).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A transcriber's answer: its default model and every model installed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WhisperModels {
    pub default: String,
    pub models: Vec<WhisperModel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhisperModel {
    /// What a job asks for (`model`): `tiny.en` for `ggml-tiny.en.bin`.
    pub name: String,
    pub bytes: u64,
    /// When the file was written, in Unix seconds.
    pub created: u64,
}

impl WhisperModels {
    /// The `ggml-<name>.bin` files in `dir` but the VAD model `vad`,
    /// sorted by name.
    pub fn installed(dir: &Path, default: &str, vad: &Path) -> Self {
        let mut models: Vec<WhisperModel> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let file = entry.file_name().into_string().ok()?;
                if Path::new(&file) == vad || dir.join(&file) == vad {
                    return None;
                }
                let name = file.strip_prefix("ggml-")?.strip_suffix(".bin")?.to_owned();
                let metadata = entry.metadata().ok()?;
                let created = metadata
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                Some(WhisperModel { name, bytes: metadata.len(), created })
            })
            .collect();
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Self { default: default.to_owned(), models }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_ggml_files_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        for file in ["ggml-tiny.en.bin", "ggml-base.bin", "ggml-silero-vad.bin", "notes.txt"] {
            std::fs::write(dir.path().join(file), b"x").expect("write");
        }
        let found = WhisperModels::installed(dir.path(), "tiny.en", Path::new("ggml-silero-vad.bin"));
        let names: Vec<&str> = found.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["base", "tiny.en"]);
        assert_eq!(found.default, "tiny.en");
        assert!(WhisperModels::installed(&dir.path().join("missing"), "x", Path::new("")).models.is_empty());
    }
}
