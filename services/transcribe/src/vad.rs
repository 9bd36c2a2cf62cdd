//! Voice activity from Silero VAD, run by whisper.cpp's detector
//! (`steno models import-silero` writes the model). The pieces keep audio
//! that is both louder than silence and speech to Silero, so music, noise
//! and room sound (where whisper invents text) are not decoded either.

use std::sync::Mutex;

use whisper_rs::{WhisperVadContext, WhisperVadContextParams};

/// Samples per probability (32 ms at 16 kHz).
pub const FRAME: usize = 512;
/// Probability above which a frame is speech (whisper.cpp's default).
pub const THRESHOLD: f32 = 0.5;

pub struct Vad(Mutex<WhisperVadContext>);

impl Vad {
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        // Its graphs are tiny: more threads only add their start-up.
        let mut params = WhisperVadContextParams::new();
        params.set_n_threads(1);
        let context = WhisperVadContext::new(&path.to_string_lossy(), params)
            .map_err(|e| format!("VAD model at {} could not be loaded: {e}", path.display()))?;
        Ok(Self(Mutex::new(context)))
    }

    /// Whether each [`FRAME`] of `samples` (the last may be short) is speech.
    pub fn speech(&self, samples: &[f32]) -> Result<Vec<bool>, String> {
        let mut context = self.0.lock().map_err(|_| "VAD poisoned")?;
        context.detect_speech(samples).map_err(|e| format!("voice activity detection failed: {e}"))?;
        Ok(context.probabilities().iter().map(|p| *p > THRESHOLD).collect())
    }
}
