//! What the transcribe tests share.

use std::{path::Path, process::Command};

/// `text` read by flite, as 16 kHz samples.
pub fn speech(text: &str, dir: &Path) -> Vec<f32> {
    let wav = dir.join("speech.wav");
    let status = Command::new("flite").args(["-voice", "slt", "-t", text, "-o"]).arg(&wav).status().expect("run flite");
    assert!(status.success(), "flite failed");
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(&wav)
        .args(["-ac", "1", "-ar", "16000", "-f", "s16le", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(output.status.success(), "ffmpeg failed");
    output.stdout.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect()
}
