//! Convert a CTranslate2 Whisper model directory (as used by faster-whisper)
//! into whisper.cpp's legacy `ggml` model format.
//!
//! Input directory: `model.bin` (CTranslate2 binary, version 6, `WhisperSpec`),
//! plus `vocabulary.txt` (one token per line) or `vocabulary.json` (a JSON
//! list of tokens). `config.json` and `tokenizer.json` are not needed.
//!
//! The steps live in submodules: `reader` indexes model.bin, `mapping`
//! decides which ggml tensors to write, `vocab` and `mel` build the
//! header tables, and `writer` lays out the output file.

mod mapping;
mod mel;
mod reader;
mod vocab;
mod writer;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, ensure};

pub use mapping::Encoding;
use reader::{Ct2Model, Var};

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
/// file at `out`: f16 weights, or with `quantize` (`Q8_0` or `Q5_1`) the 2-D
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
    let tmp = temp_path(out);
    let written = (|| -> Result<u64> {
        let f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        writer::write_header(&mut w, &hparams, &filters, &tokens)?;
        for t in &plan {
            writer::write_tensor(&mut w, &mut reader, &model.vars[t.var], t)
                .with_context(|| format!("writing tensor {}", t.name))?;
        }
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(f.metadata()?.len())
    })();
    let output_bytes = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out).with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;

    Ok(ImportReport {
        tensor_count: plan.len(),
        n_vocab: hparams.n_vocab,
        n_tokens: tokens.len(),
        output_bytes,
        is_multilingual: vocab::is_multilingual(hparams.n_vocab),
        hparams,
    })
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
