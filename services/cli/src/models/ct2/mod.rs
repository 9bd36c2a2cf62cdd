//! Convert a CTranslate2 Whisper model directory (as used by faster-whisper)
//! into whisper.cpp's legacy `ggml` model format.
//!
//! Input directory: `model.bin` (CTranslate2 binary, version 6, `WhisperSpec`),
//! plus `vocabulary.txt` (one token per line) or `vocabulary.json` (a JSON
//! list of tokens). `config.json` and `tokenizer.json` are not needed.
//!
//! The steps live in submodules: `reader` indexes model.bin, `mapping`
//! decides which ggml tensors to write, `vocab` and `mel` build the
//! header tables, and `writer` lays out the output file. `requantize`
//! quantizes a model already in ggml's format.

mod mapping;
mod mel;
mod reader;
mod requantize;
mod vocab;
mod writer;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, ensure};

pub use mapping::Encoding;
use reader::{Ct2Model, Var};
pub use requantize::{check_ggml, quantize_ggml};

/// Model dimensions written to the ggml header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: u32,
    pub n_audio_ctx: u32,
    pub n_audio_state: u32,
    pub n_audio_head: u32,
    pub n_audio_layer: u32,
    pub n_text_ctx: u32,
    pub n_text_state: u32,
    pub n_text_head: u32,
    pub n_text_layer: u32,
    pub n_mels: u32,
    /// 1 = mostly f16 (the only type this converter writes).
    pub ftype: u32,
}

/// What [`import_ct2`] wrote.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// Number of tensors written (whisper.cpp requires the exact set; 167 for tiny).
    pub tensor_count: usize,
    pub n_vocab: u32,
    /// Number of (non-special) tokens written to the vocabulary section.
    pub n_tokens: usize,
    /// Size of the output file in bytes.
    pub output_bytes: u64,
    pub is_multilingual: bool,
    pub hparams: Hparams,
}

/// Convert the CTranslate2 Whisper model in `ct2_dir` to a whisper.cpp ggml
/// file at `out`: f16 weights, or with `quantize` (`Q8_0`, `Q5_1`, `Q4_0`, `IQ4_NL`) the 2-D
/// weight matrices quantized as whisper.cpp's quantizer does. The file is
/// written next to `out` under a temporary name and renamed into place only
/// once complete.
pub fn import_ct2(ct2_dir: &Path, out: &Path, quantize: Option<Encoding>) -> Result<ImportReport> {
    let model_path = ct2_dir.join("model.bin");
    let file =
        File::open(&model_path).with_context(|| format!("opening CTranslate2 model {}", model_path.display()))?;
    let mut reader = BufReader::new(file);
    let model = reader::read_index(&mut reader)
        .with_context(|| format!("reading CTranslate2 model {}", model_path.display()))?;

    let mut hparams = derive_hparams(&model)?;
    let mut plan = mapping::plan_tensors(&model)?;
    mapping::check_tensor_set(&plan, &hparams)?;
    if let Some(encoding) = quantize {
        hparams.ftype = encoding.file_type();
        for t in plan.iter_mut().filter(|t| t.encoding == Encoding::F16 && t.dims.len() == 2) {
            ensure!(t.dims[1] % writer::QUANT_BLOCK == 0, "{}: rows of {} cannot be quantized", t.name, t.dims[1]);
            t.encoding = encoding;
        }
    }

    let vocab = vocab::read_vocabulary(ct2_dir)?;
    let tokens = vocab::ggml_tokens(&vocab, hparams.n_vocab)?;
    let filters = mel::mel_filters(hparams.n_mels as usize);

    if let Some(parent) = out.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let output_bytes = write_atomically(out, |w| {
        writer::write_header(w, &hparams, &filters, &tokens)?;
        for t in &plan {
            writer::write_tensor(w, &mut reader, &model.vars[t.var], t)
                .with_context(|| format!("writing tensor {}", t.name))?;
        }
        Ok(())
    })?;

    Ok(ImportReport {
        tensor_count: plan.len(),
        n_vocab: hparams.n_vocab,
        n_tokens: tokens.len(),
        output_bytes,
        is_multilingual: vocab::is_multilingual(hparams.n_vocab),
        hparams,
    })
}

/// Reads a `model.bin` held in memory as the importer does before it
/// writes anything: the variable index, the hyper-parameters and the tensor
/// plan. A malformed file is an error, never a panic (fuzzed).
pub fn check_model_bin(bytes: &[u8]) -> Result<Hparams> {
    let mut reader = BufReader::new(std::io::Cursor::new(bytes));
    let model = reader::read_index(&mut reader)?;
    let hparams = derive_hparams(&model)?;
    let plan = mapping::plan_tensors(&model)?;
    mapping::check_tensor_set(&plan, &hparams)?;
    Ok(hparams)
}

/// Writes `out` with `write` under a temporary name next to it, synced, and
/// renames it into place only once complete; its size in bytes.
fn write_atomically(out: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<u64> {
    let tmp = temp_path(out);
    let written = (|| -> Result<u64> {
        let f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(f.metadata()?.len())
    })();
    match written {
        Ok(bytes) => {
            std::fs::rename(&tmp, out).with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
            Ok(bytes)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn temp_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "model.bin".into());
    name.push(format!(".part-{}", std::process::id()));
    out.with_file_name(name)
}

fn derive_hparams(model: &Ct2Model) -> Result<Hparams> {
    let (n_vocab, emb_state) = dims2(model.require("decoder/embeddings/weight")?)?;
    let (n_audio_ctx, n_audio_state) = dims2(model.require("encoder/position_encodings/encodings")?)?;
    let (n_text_ctx, n_text_state) = dims2(model.require("decoder/position_encodings/encodings")?)?;
    ensure!(emb_state == n_text_state, "token embedding width {emb_state} != decoder width {n_text_state}");
    let conv1 = model.require("encoder/conv1/weight")?;
    ensure!(conv1.dims.len() == 3, "encoder/conv1/weight should be 3-D, is {:?}", conv1.dims);
    let h = Hparams {
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_audio_head: num_heads(model, "encoder", n_audio_state)?,
        n_audio_layer: count_layers(model, "encoder"),
        n_text_ctx,
        n_text_state,
        n_text_head: num_heads(model, "decoder", n_text_state)?,
        n_text_layer: count_layers(model, "decoder"),
        n_mels: conv1.dims[1] as u32,
        ftype: 1,
    };
    ensure!(h.n_audio_layer > 0 && h.n_text_layer > 0, "model has no encoder or decoder layers");
    Ok(h)
}

fn dims2(v: &Var) -> Result<(u32, u32)> {
    ensure!(v.dims.len() == 2, "{} should be 2-D, is {:?}", v.name, v.dims);
    Ok((v.dims[0] as u32, v.dims[1] as u32))
}

fn num_heads(model: &Ct2Model, side: &str, state: u32) -> Result<u32> {
    let Some(v) = model.get(&format!("{side}/num_heads")) else {
        // Every released Whisper model uses 64-dimensional heads.
        return Ok(state / 64);
    };
    let n = v.scalar_int().ok_or_else(|| anyhow!("{side}/num_heads is not an integer scalar"))?;
    ensure!(n > 0, "{side}/num_heads is {n}");
    Ok(n as u32)
}

fn count_layers(model: &Ct2Model, side: &str) -> u32 {
    let prefix = format!("{side}/layer_");
    model
        .vars
        .iter()
        .filter_map(|v| v.name.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('/').next()?.parse::<u32>().ok())
        .map(|n| n + 1)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The variables of a CTranslate2 Whisper model of these sizes, shapes
    /// only (no `num_heads` scalars: 64-dimensional heads are assumed).
    fn whisper_shaped(state: usize, layers: u32, n_vocab: usize) -> Ct2Model {
        let mut vars = vec![
            Var::shape_only("encoder/conv1/weight", &[state, 80, 3]),
            Var::shape_only("encoder/conv1/bias", &[state]),
            Var::shape_only("encoder/conv2/weight", &[state, state, 3]),
            Var::shape_only("encoder/conv2/bias", &[state]),
            Var::shape_only("encoder/position_encodings/encodings", &[1500, state]),
            Var::shape_only("decoder/embeddings/weight", &[n_vocab, state]),
            Var::shape_only("decoder/position_encodings/encodings", &[448, state]),
        ];
        for side in ["encoder", "decoder"] {
            vars.push(Var::shape_only(&format!("{side}/layer_norm/gamma"), &[state]));
            vars.push(Var::shape_only(&format!("{side}/layer_norm/beta"), &[state]));
            let mut blocks = vec!["self_attention", "ffn"];
            if side == "decoder" {
                blocks.push("attention");
            }
            for layer in 0..layers {
                for block in &blocks {
                    let linears: &[usize] = match *block {
                        "self_attention" => &[3 * state, state],
                        "ffn" => &[4 * state, state],
                        _ => &[state, 2 * state, state],
                    };
                    let pre = format!("{side}/layer_{layer}/{block}");
                    vars.push(Var::shape_only(&format!("{pre}/layer_norm/gamma"), &[state]));
                    vars.push(Var::shape_only(&format!("{pre}/layer_norm/beta"), &[state]));
                    for (i, &rows) in linears.iter().enumerate() {
                        let cols = if *block == "ffn" && i == 1 { 4 * state } else { state };
                        vars.push(Var::shape_only(&format!("{pre}/linear_{i}/weight"), &[rows, cols]));
                        vars.push(Var::shape_only(&format!("{pre}/linear_{i}/bias"), &[rows]));
                    }
                }
            }
        }
        Ct2Model { vars }
    }

    /// A vocabulary laid out as CTranslate2 writes it: the byte-level BPE
    /// tokens, `<|endoftext|>`, then the special tokens up to `n_vocab`.
    fn vocabulary(n_regular: usize, n_vocab: usize) -> Vec<String> {
        let mut v: Vec<String> = (0..n_regular).map(|i| format!("t{i}")).collect();
        v.push("<|endoftext|>".into());
        v.extend((v.len()..n_vocab).map(|i| format!("<|special{i}|>")));
        v
    }

    /// The header's hparams as written, and the number of tokens in it.
    fn header(model: &Ct2Model, vocab: &[String]) -> (Vec<i32>, usize) {
        let h = derive_hparams(model).unwrap();
        let plan = mapping::plan_tensors(model).unwrap();
        mapping::check_tensor_set(&plan, &h).unwrap();
        let tokens = vocab::ggml_tokens(vocab, h.n_vocab).unwrap();
        let mut out = Vec::new();
        writer::write_header(&mut out, &h, &mel::mel_filters(h.n_mels as usize), &tokens).unwrap();
        let ints = out[4..48].chunks(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        (ints, tokens.len())
    }

    #[test]
    fn multilingual_base_header() {
        // base: 512 wide, 6 + 6 layers, 8 heads; 51865 tokens, of which
        // 50257 regular (the last, 50256, is empty in Hugging Face's list).
        let model = whisper_shaped(512, 6, 51_865);
        let mut vocab = vocabulary(50_256, 51_865);
        vocab.insert(50_256, String::new());
        vocab.pop();
        assert_eq!(vocab.len(), 51_865);
        let (hparams, n_tokens) = header(&model, &vocab);
        assert_eq!(hparams, [51_865, 1500, 512, 8, 6, 448, 512, 8, 6, 80, 1]);
        assert_eq!(n_tokens, 50_257, "regular tokens before <|endoftext|>, as convert-pt-to-ggml writes");
        assert!(vocab::is_multilingual(51_865));
        assert_eq!(mapping::plan_tensors(&model).unwrap().len(), 245);
    }

    #[test]
    fn english_only_tiny_header() {
        let model = whisper_shaped(384, 4, 51_864);
        let (hparams, n_tokens) = header(&model, &vocabulary(50_256, 51_864));
        assert_eq!(hparams, [51_864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1]);
        assert_eq!(n_tokens, 50_256);
        assert!(!vocab::is_multilingual(51_864));
    }
}
