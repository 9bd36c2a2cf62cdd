//! ggml Whisper models from the models directory (`ggml-<name>.bin`),
//! loaded once and kept for later jobs, least recently used first out once
//! more than `transcribe.max_loaded_models` (or `max_loaded_mb`) are held.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use steno_runtime::{config::TranscribeConfig, transcript::is_whisper_language};
use whisper_rs::{DtwMode, DtwModelPreset, DtwParameters, WhisperContext, WhisperContextParameters, WhisperState};

use crate::vad::Vad;

/// A loaded model.
pub struct Model {
    pub name: String,
    pub context: WhisperContext,
    /// Whether word times come from DTW alignment (known alignment heads).
    pub dtw: bool,
    /// Decoding states earlier tasks finished with.
    idle_states: Mutex<Vec<WhisperState>>,
}

impl Model {
    /// A decoding state (whisper.cpp's buffers): one an earlier task left,
    /// else a new one, so a job split into many parts does not allocate
    /// them for each.
    pub fn state(&self) -> anyhow::Result<WhisperState> {
        if let Some(state) = self.idle_states.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(state);
        }
        self.context.create_state().map_err(|e| anyhow::anyhow!("create whisper state: {e}"))
    }

    /// Keeps a state for the next task on this model.
    pub fn keep_state(&self, state: WhisperState) {
        if let Ok(mut idle) = self.idle_states.lock() {
            idle.push(state);
        }
    }

    pub fn english_only(&self) -> bool {
        !self.context.is_multilingual()
    }

    /// English-only models refuse any other language, and translation.
    pub fn check_language(&self, language: &str, translate: bool) -> Result<(), String> {
        if self.english_only() && translate {
            return Err(format!("model {} is English-only and cannot translate; use a multilingual model", self.name));
        }
        if self.english_only() && !language.is_empty() && language != "en" {
            return Err(format!(
                "model {} is English-only and cannot transcribe language {language:?}; use a multilingual model",
                self.name
            ));
        }
        if !language.is_empty() && !is_whisper_language(language) {
            return Err(format!(
                "language {language:?} is not one whisper knows; give an ISO 639-1 code such as \"es\""
            ));
        }
        Ok(())
    }
}

pub struct Models {
    dir: PathBuf,
    default: String,
    use_gpu: bool,
    /// By name and whether it aligns words (DTW).
    loaded: Mutex<HashMap<(String, bool), Loaded>>,
    /// Most models held; 0 = no limit.
    max_models: usize,
    /// Most bytes (of model files) held; 0 = no limit.
    max_bytes: u64,
    vad: Option<Arc<Vad>>,
}

/// A model in the cache: tasks hold their own `Arc`, so one evicted while
/// in use is freed when its last task ends.
struct Loaded {
    model: Arc<Model>,
    bytes: u64,
    last_used: std::time::Instant,
}

impl Models {
    pub fn new(config: &TranscribeConfig) -> Self {
        whisper_rs::install_logging_hooks();
        Self {
            dir: config.models_dir.clone(),
            default: config.default_model.clone(),
            use_gpu: config.use_gpu,
            loaded: Mutex::new(HashMap::new()),
            max_models: config.max_loaded_models,
            max_bytes: config.max_loaded_mb << 20,
            vad: load_vad(&config.models_dir, &config.vad_model),
        }
    }

    /// Silero VAD, when its model is installed.
    pub fn vad(&self) -> Option<Arc<Vad>> {
        self.vad.clone()
    }

    /// The named model (the default when `name` is empty), loading it on
    /// first use; `word_times` asks for DTW word alignment where the model's
    /// alignment heads are known. DTW is fixed when whisper.cpp loads a
    /// model and costs decoding time, so jobs without word times get the
    /// model loaded without it (a second copy, loaded when first asked
    /// for). Errors name the file and how to get it.
    pub fn get(&self, name: &str, word_times: bool) -> Result<Arc<Model>, String> {
        let name = if name.is_empty() { self.default.as_str() } else { name };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid || name.contains("..") {
            return Err(format!("model name {name:?} is not valid"));
        }
        let preset = dtw_preset(name).filter(|_| word_times);
        let key = (name.to_owned(), preset.is_some());
        if let Some(entry) = self.loaded.lock().map_err(|_| "model cache poisoned")?.get_mut(&key) {
            entry.last_used = std::time::Instant::now();
            return Ok(entry.model.clone());
        }
        let path = self.dir.join(format!("ggml-{name}.bin"));
        if !path.exists() {
            return Err(format!(
                "model {name} is not installed: {} does not exist (get it with `steno models fetch {name}`)",
                path.display()
            ));
        }
        let clock = std::time::Instant::now();
        let dtw = preset.is_some();
        let mut params = WhisperContextParameters::new();
        params.use_gpu(self.use_gpu);
        params.flash_attn(flash_attention(self.use_gpu, dtw));
        if let Some(preset) = preset {
            params.dtw_parameters(DtwParameters {
                mode: DtwMode::ModelPreset { model_preset: preset },
                ..Default::default()
            });
        }
        let context = WhisperContext::new_with_params(&path, params)
            .map_err(|e| format!("model {name} at {} could not be loaded: {e}", path.display()))?;
        let seconds = clock.elapsed().as_secs_f64();
        steno_runtime::metrics::model_loaded(name, seconds);
        tracing::info!(model = name, seconds, dtw, "model loaded");
        let model = Arc::new(Model { name: name.to_owned(), context, dtw, idle_states: Mutex::new(Vec::new()) });
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut loaded = self.loaded.lock().map_err(|_| "model cache poisoned")?;
        loaded.insert(key.clone(), Loaded { model: model.clone(), bytes, last_used: std::time::Instant::now() });
        self.evict(&mut loaded, &key);
        steno_runtime::metrics::models_loaded(loaded.len());
        Ok(model)
    }

    /// Drops the least recently used models (never `keep`, the one just
    /// loaded) while more are held than the limits allow.
    fn evict(&self, loaded: &mut HashMap<(String, bool), Loaded>, keep: &(String, bool)) {
        let over = |loaded: &HashMap<_, Loaded>| {
            let bytes: u64 = loaded.values().map(|l| l.bytes).sum();
            (self.max_models > 0 && loaded.len() > self.max_models) || (self.max_bytes > 0 && bytes > self.max_bytes)
        };
        while over(loaded) {
            let oldest = loaded.iter().filter(|(k, _)| *k != keep).min_by_key(|(_, l)| l.last_used);
            let Some(key) = oldest.map(|(k, _)| k.clone()) else { break };
            loaded.remove(&key);
            tracing::info!(model = key.0, dtw = key.1, "model unloaded (least recently used)");
        }
    }

    /// The models held, by name and whether they align words.
    pub fn loaded(&self) -> Vec<(String, bool)> {
        let mut keys: Vec<_> = self.loaded.lock().map(|l| l.keys().cloned().collect()).unwrap_or_default();
        keys.sort();
        keys
    }
}

/// Whether a model is loaded with flash attention: on the GPU, for the
/// copy without DTW (DTW reads the attention weights flash attention never
/// forms). There it made bare whisper.cpp 113× real time against 97×; on
/// the CPU it was slower (a 60 s clip 2.58 s against 2.19 s).
fn flash_attention(use_gpu: bool, dtw: bool) -> bool {
    cfg!(feature = "cuda") && use_gpu && !dtw
}

/// DTW alignment heads for the official model sizes; quantized variants
/// (`tiny.en-q5_1`) share their base model's heads.
fn dtw_preset(name: &str) -> Option<DtwModelPreset> {
    let base = name.split('-').next().unwrap_or(name);
    Some(match base {
        "tiny.en" => DtwModelPreset::TinyEn,
        "tiny" => DtwModelPreset::Tiny,
        "base.en" => DtwModelPreset::BaseEn,
        "base" => DtwModelPreset::Base,
        "small.en" => DtwModelPreset::SmallEn,
        "small" => DtwModelPreset::Small,
        "medium.en" => DtwModelPreset::MediumEn,
        "medium" => DtwModelPreset::Medium,
        _ if name.starts_with("large-v3-turbo") => DtwModelPreset::LargeV3Turbo,
        _ if name.starts_with("large-v3") => DtwModelPreset::LargeV3,
        _ if name.starts_with("large-v2") => DtwModelPreset::LargeV2,
        _ if name.starts_with("large-v1") => DtwModelPreset::LargeV1,
        _ => return None,
    })
}

/// The VAD model `name` in `dir`; without it (none configured, not
/// installed, or not loadable) silence is found by loudness alone, which the
/// log says.
fn load_vad(dir: &std::path::Path, name: &std::path::Path) -> Option<Arc<Vad>> {
    if name.as_os_str().is_empty() {
        tracing::info!("no VAD model configured: silence is found by loudness alone");
        return None;
    }
    let path = &dir.join(name);
    if !path.exists() {
        tracing::warn!(
            path = %path.display(),
            "VAD model not installed: silence is found by loudness alone (scripts/fetch-test-model.sh writes it)"
        );
        return None;
    }
    match Vad::load(path) {
        Ok(vad) => {
            tracing::info!(path = %path.display(), "VAD loaded");
            Some(Arc::new(vad))
        }
        Err(e) => {
            tracing::warn!(error = %e, "silence is found by loudness alone");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use steno_runtime::transcript::{WHISPER_LANGUAGE_NAMES, WHISPER_LANGUAGES};

    use super::*;

    #[test]
    fn the_runtime_knows_the_languages_whisper_has() {
        for (id, code) in WHISPER_LANGUAGES.iter().enumerate() {
            assert_eq!(whisper_rs::get_lang_id(code), Some(id as i32), "{code}");
            assert_eq!(whisper_rs::get_lang_str_full(id as i32), Some(WHISPER_LANGUAGE_NAMES[id]), "{code}");
        }
        assert!(!["xx", "eng", "EN"].iter().any(|c| is_whisper_language(c)));
    }

    #[test]
    fn quantized_models_share_base_heads() {
        assert!(matches!(dtw_preset("tiny.en"), Some(DtwModelPreset::TinyEn)));
        assert!(matches!(dtw_preset("tiny.en-q5_1"), Some(DtwModelPreset::TinyEn)));
        assert!(matches!(dtw_preset("large-v3-turbo-q8_0"), Some(DtwModelPreset::LargeV3Turbo)));
        assert!(dtw_preset("my-finetune").is_none());
    }

    #[test]
    fn flash_attention_only_on_the_gpu_without_dtw() {
        assert_eq!(flash_attention(true, false), cfg!(feature = "cuda"));
        assert!(!flash_attention(true, true), "DTW needs the attention weights");
        assert!(!flash_attention(false, false), "slower on the CPU");
    }
}
