//! Model management: conversion from CTranslate2 and of Silero VAD, and
//! download of official ggml models.

pub mod ct2;
pub mod fetch;
pub mod silero;

use std::path::Path;

use serde::Serialize;

/// A model file in the models directory, and what uses it.
#[derive(Debug, Serialize)]
pub struct Installed {
    /// What a job asks for (`--model NAME`), or the file name for other models.
    pub name: String,
    pub file: String,
    pub bytes: u64,
    /// `default` (jobs that name no model), `vad`, `speakers` (the speaker
    /// encoder) or `overlaps` (the segmentation model); empty otherwise.
    pub role: &'static str,
}

/// The models in `dir`: whisper models (`ggml-<name>.bin`), the VAD model,
/// the speaker encoder and the segmentation model; sorted by name.
pub fn installed(
    dir: &Path,
    default: &str,
    vad: &Path,
    diarize: &steno_runtime::config::DiarizeConfig,
) -> anyhow::Result<Vec<Installed>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => anyhow::bail!("read {}: {e}", dir.display()),
    };
    let mut models = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let role = match () {
            _ if path == dir.join(vad) => "vad",
            _ if path == diarize.model_path => "speakers",
            _ if path == diarize.segmentation_path => "overlaps",
            _ if file == fetch::model_file_name(default) => "default",
            _ => "",
        };
        let name = file.strip_prefix("ggml-").and_then(|f| f.strip_suffix(".bin")).filter(|_| role != "vad");
        if name.is_none() && role.is_empty() {
            continue;
        }
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        models.push(Installed { name: name.unwrap_or(&file).to_owned(), file, bytes, role });
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(models)
}

/// [`installed`] as a table for people.
pub fn table(dir: &Path, models: &[Installed]) -> String {
    if models.is_empty() {
        return format!(
            "no models in {} (scripts/setup.sh installs the defaults; `steno models fetch NAME`)",
            dir.display()
        );
    }
    let mut lines = vec![format!("{:<30} {:>9}  ROLE", "NAME", "SIZE")];
    for model in models {
        lines.push(format!("{:<30} {:>6.1} MB  {}", model.name, model.bytes as f64 / 1e6, model.role));
    }
    lines.push(format!("(in {})", dir.display()));
    lines.join("\n")
}
