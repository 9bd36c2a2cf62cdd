//! Silero VAD (the 16 kHz model as the `silero-vad` package ships it in
//! safetensors) to the ggml file whisper.cpp's voice-activity detector
//! loads (`whisper_vad_init_from_file_with_params`).
//!
//! Layout (integers little-endian i32): magic `0x67676d6c`; the model type
//! (length, bytes) and version (major, minor, patch); the window and context
//! in samples (512, 64); the encoder's layer count and, per layer, its input
//! and output channels and kernel size; the LSTM's input and hidden sizes;
//! the final convolution's input and output channels; then the tensors as
//! in whisper models (n_dims, name length, type, dims in ggml order, name,
//! data), named as in Silero's TorchScript model. The STFT basis and the
//! convolution kernels are f16, the rest f32, as whisper.cpp expects.

use std::{collections::HashMap, path::Path};

use anyhow::{Context, Result, bail};
use half::f16;
use serde::Deserialize;

const GGML_MAGIC: u32 = 0x6767_6d6c;
const MODEL_TYPE: &str = "silero-16k";
/// The `silero-vad` release whose weights `scripts/fetch-test-model.sh` takes.
const VERSION: [i32; 3] = [6, 2, 3];
const WINDOW: i32 = 512;
const CONTEXT: i32 = 64;
/// (input channels, output channels, kernel) of the four encoder layers.
const ENCODER: [[i32; 3]; 4] = [[129, 128, 3], [128, 64, 3], [64, 64, 3], [64, 128, 3]];
const LSTM: i32 = 128;

/// One tensor: its safetensors name, whisper.cpp's name, whether it is
/// written as f16, and its dims in ggml order.
struct Tensor {
    source: String,
    name: String,
    half: bool,
    dims: Vec<usize>,
}

fn tensors() -> Vec<Tensor> {
    let tensor = |source: &str, name: &str, half, dims| Tensor { source: source.into(), name: name.into(), half, dims };
    let mut list = vec![tensor("stft_conv.weight", "_model.stft.forward_basis_buffer", true, vec![256, 1, 258])];
    for (i, [input, output, kernel]) in ENCODER.iter().map(|l| l.map(|v| v as usize)).enumerate() {
        let (conv, reparam) = (format!("conv{}", i + 1), format!("_model.encoder.{i}.reparam_conv"));
        list.push(tensor(&format!("{conv}.weight"), &format!("{reparam}.weight"), true, vec![kernel, input, output]));
        list.push(tensor(&format!("{conv}.bias"), &format!("{reparam}.bias"), false, vec![output]));
    }
    let (hidden, gates) = (LSTM as usize, 4 * LSTM as usize);
    list.extend([
        tensor("lstm_cell.weight_ih", "_model.decoder.rnn.weight_ih", false, vec![hidden, gates]),
        tensor("lstm_cell.weight_hh", "_model.decoder.rnn.weight_hh", false, vec![hidden, gates]),
        tensor("lstm_cell.bias_ih", "_model.decoder.rnn.bias_ih", false, vec![gates]),
        tensor("lstm_cell.bias_hh", "_model.decoder.rnn.bias_hh", false, vec![gates]),
        tensor("final_conv.weight", "_model.decoder.decoder.2.weight", true, vec![hidden, 1]),
        tensor("final_conv.bias", "_model.decoder.decoder.2.bias", false, vec![1]),
    ]);
    list
}

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// Converts `safetensors` (Silero VAD 16 kHz, f32) to whisper.cpp's ggml VAD
/// model at `out`.
pub fn import_silero(safetensors: &Path, out: &Path) -> Result<()> {
    let bytes = std::fs::read(safetensors).with_context(|| format!("read {}", safetensors.display()))?;
    let file = convert_silero(&bytes).with_context(|| safetensors.display().to_string())?;
    std::fs::write(out, &file).with_context(|| format!("write {}", out.display()))
}

/// The conversion itself, in memory: safetensors bytes → ggml VAD model
/// bytes. A malformed input is an error naming what is wrong (fuzzed).
pub fn convert_silero(bytes: &[u8]) -> Result<Vec<u8>> {
    let header_len = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
    let header_len = header_len.and_then(|n| usize::try_from(n).ok());
    let Some(header) = header_len.and_then(|n| bytes.get(8..8usize.checked_add(n)?)) else {
        bail!("not a safetensors file");
    };
    let data = &bytes[8 + header.len()..];
    let mut entries: HashMap<String, serde_json::Value> =
        serde_json::from_slice(header).context("safetensors header")?;
    entries.remove("__metadata__");

    let mut file = Vec::new();
    for v in [GGML_MAGIC as i32, MODEL_TYPE.len() as i32] {
        file.extend(v.to_le_bytes());
    }
    file.extend(MODEL_TYPE.as_bytes());
    let layers = ENCODER.iter().flatten().copied();
    let hparams =
        VERSION.into_iter().chain([WINDOW, CONTEXT, ENCODER.len() as i32]).chain(layers).chain([LSTM, LSTM, LSTM, 1]);
    for v in hparams {
        file.extend(v.to_le_bytes());
    }
    for Tensor { source, name, half, dims } in tensors() {
        let entry = entries.remove(&source).with_context(|| format!("no tensor {source}"))?;
        let entry: Entry = serde_json::from_value(entry).with_context(|| format!("tensor {source}"))?;
        let count: usize = dims.iter().product();
        if entry.dtype != "F32" || entry.shape.iter().product::<usize>() != count {
            bail!(
                "tensor {source} is {} {:?}; expected F32 with {count} values (Silero VAD 16 kHz)",
                entry.dtype,
                entry.shape
            );
        }
        let [start, end] = entry.data_offsets;
        let values = data
            .get(start..end)
            .filter(|v| v.len() == count * 4)
            .with_context(|| format!("tensor {source}: data out of bounds"))?;
        for v in [dims.len(), name.len(), usize::from(half)] {
            file.extend((v as i32).to_le_bytes());
        }
        for d in &dims {
            file.extend((*d as i32).to_le_bytes());
        }
        file.extend(name.as_bytes());
        for value in values.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])) {
            if half {
                file.extend(f16::from_f32(value).to_le_bytes());
            } else {
                file.extend(value.to_le_bytes());
            }
        }
    }
    if let Some(extra) = entries.keys().next() {
        bail!("unexpected tensor {extra} (not Silero VAD 16 kHz)");
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file with Silero's tensor names and shapes, all zeros.
    fn zeros_safetensors(skip: &str) -> Vec<u8> {
        let (mut header, mut offset) = (serde_json::Map::new(), 0);
        for t in tensors().into_iter().filter(|t| t.source != skip) {
            let len = t.dims.iter().product::<usize>() * 4;
            let shape: Vec<usize> = t.dims.iter().rev().copied().collect();
            header.insert(
                t.source,
                serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len]}),
            );
            offset += len;
        }
        let header = serde_json::to_vec(&header).expect("header");
        [&(header.len() as u64).to_le_bytes()[..], &header, &vec![0; offset]].concat()
    }

    #[test]
    fn writes_whisper_cpp_s_layout() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (input, out) = (dir.path().join("vad.safetensors"), dir.path().join("vad.bin"));
        std::fs::write(&input, zeros_safetensors("")).expect("write input");
        import_silero(&input, &out).expect("convert");
        let bytes = std::fs::read(&out).expect("read output");
        assert_eq!(&bytes[..4], &GGML_MAGIC.to_le_bytes());
        assert_eq!(&bytes[8..18], MODEL_TYPE.as_bytes());
        // The size of the file converted from silero-vad 6.2.3's weights.
        assert_eq!(bytes.len(), 885_106);
    }

    #[test]
    fn names_a_missing_tensor_and_a_file_that_is_not_safetensors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (input, out) = (dir.path().join("vad.safetensors"), dir.path().join("vad.bin"));
        std::fs::write(&input, zeros_safetensors("lstm_cell.bias_hh")).expect("write input");
        let error = format!("{:#}", import_silero(&input, &out).expect_err("refused"));
        assert!(error.contains("vad.safetensors: no tensor lstm_cell.bias_hh"), "{error}");
        std::fs::write(&input, b"not a model").expect("write input");
        let error = format!("{:#}", import_silero(&input, &out).expect_err("refused"));
        assert!(error.contains("vad.safetensors: not a safetensors file"), "{error}");
    }
}
