//! Convert a CTranslate2 Whisper model directory (as used by faster-whisper)
//! into whisper.cpp's legacy `ggml` model format.
//!
//! Input directory: `model.bin` (CTranslate2 binary, version 6, `WhisperSpec`),
//! plus `vocabulary.txt` (one token per line) or `vocabulary.json` (a JSON
//! list of tokens). `config.json` and `tokenizer.json` are not needed.
//!
//! Output layout, as written by whisper.cpp's `models/convert-pt-to-ggml.py`
//! (all integers little-endian i32):
//!
//! 1. magic `0x67676d6c`;
//! 2. hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head,
//!    n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer,
//!    n_mels, ftype (1 = f16);
//! 3. mel filters: n_mel, n_fft (= 201 frequency bins), then n_mel * n_fft f32;
//! 4. tokens: count, then for each token its byte length and bytes;
//! 5. tensors: n_dims, name length, ftype (0 f32, 1 f16), dims in reverse
//!    (ggml) order, name, raw data.
//!
//! CTranslate2 stores linear weights as `[out, in]` and conv weights as
//! `[out, in, k]`, exactly like PyTorch, so no transposes are needed. The
//! fused attention projections are split by rows. The key projection biases
//! are dropped: whisper.cpp has none, and a bias on the keys only adds the
//! same constant to every attention score of a query, which softmax ignores,
//! so dropping it is exact.
//!
//! Tensor ftypes follow the reference converter: 1-D tensors, the conv biases
//! and the positional embeddings are f32, every other tensor is f16. (Those
//! exact types are what whisper.cpp allocates; it rejects any other size.)

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail, ensure};

const GGML_MAGIC: u32 = 0x6767_6d6c;
const CT2_BINARY_VERSION: u32 = 6;
const SAMPLE_RATE: f64 = 16_000.0;
const N_FFT: usize = 400;
/// First vocabulary size of a multilingual Whisper model (whisper.cpp's rule).
const MULTILINGUAL_N_VOCAB: u32 = 51_865;
/// Elements converted per read/write chunk.
const CHUNK_ELEMS: usize = 1 << 20;

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
/// file at `out`. The file is written next to `out` under a temporary name
/// and renamed into place only once complete.
pub fn import_ct2(ct2_dir: &Path, out: &Path) -> Result<ImportReport> {
    let model_path = ct2_dir.join("model.bin");
    let file = File::open(&model_path)
        .with_context(|| format!("opening CTranslate2 model {}", model_path.display()))?;
    let mut reader = BufReader::new(file);
    let model = read_ct2_index(&mut reader)
        .with_context(|| format!("reading CTranslate2 model {}", model_path.display()))?;

    let hparams = derive_hparams(&model)?;
    let plan = plan_tensors(&model)?;
    check_tensor_set(&plan, &hparams)?;

    let vocab = read_vocabulary(ct2_dir)?;
    let tokens = ggml_tokens(&vocab, hparams.n_vocab)?;
    let filters = mel_filters(SAMPLE_RATE, N_FFT, hparams.n_mels as usize);

    if let Some(parent) = out.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let tmp = temp_path(out);
    let written = (|| -> Result<u64> {
        let f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        write_header(&mut w, &hparams, &filters, hparams.n_mels as usize, &tokens)?;
        for t in &plan {
            write_tensor(&mut w, &mut reader, &model.vars[t.var], t)
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
    std::fs::rename(&tmp, out)
        .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;

    Ok(ImportReport {
        tensor_count: plan.len(),
        n_vocab: hparams.n_vocab,
        n_tokens: tokens.len(),
        output_bytes,
        is_multilingual: hparams.n_vocab >= MULTILINGUAL_N_VOCAB,
        hparams,
    })
}

fn temp_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "model.bin".into());
    name.push(format!(".part-{}", std::process::id()));
    out.with_file_name(name)
}

// ---------------------------------------------------------------------------
// CTranslate2 model.bin index
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl DType {
    fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::Bf16,
            other => bail!("unknown CTranslate2 dtype {other}"),
        })
    }

    fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::Bf16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }

    fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::Bf16)
    }
}

#[derive(Debug, Clone)]
struct Var {
    name: String,
    dims: Vec<usize>,
    dtype: DType,
    /// Absolute offset of the raw data in model.bin.
    offset: u64,
    nbytes: usize,
    /// Raw bytes of rank-0 variables (scalars such as `encoder/num_heads`).
    scalar: Option<Vec<u8>>,
}

impl Var {
    fn scalar_int(&self) -> Option<i64> {
        let b = self.scalar.as_deref()?;
        Some(match self.dtype {
            DType::I8 => i64::from(b[0] as i8),
            DType::I16 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            DType::I32 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => return None,
        })
    }
}

#[derive(Debug)]
struct Ct2Model {
    vars: Vec<Var>,
    by_name: HashMap<String, usize>,
}

impl Ct2Model {
    fn get(&self, name: &str) -> Option<&Var> {
        self.by_name.get(name).map(|&i| &self.vars[i])
    }

    fn require(&self, name: &str) -> Result<&Var> {
        self.get(name)
            .ok_or_else(|| anyhow!("CTranslate2 model has no variable {name}"))
    }
}

fn read_u8(r: &mut impl Read) -> Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn read_u16(r: &mut impl Read) -> Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn read_u32(r: &mut impl Read) -> Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// A CTranslate2 string: u16 length (including the trailing NUL), then bytes.
fn read_string(r: &mut impl Read) -> Result<String> {
    let len = usize::from(read_u16(r)?);
    let mut b = vec![0u8; len];
    r.read_exact(&mut b)?;
    if b.last() == Some(&0) {
        b.pop();
    }
    String::from_utf8(b).context("non UTF-8 name in model.bin")
}

/// Read the variable table of model.bin, skipping over (not loading) the data.
fn read_ct2_index<R: Read + Seek>(r: &mut BufReader<R>) -> Result<Ct2Model> {
    let version = read_u32(r)?;
    ensure!(
        version == CT2_BINARY_VERSION,
        "unsupported CTranslate2 binary version {version} (expected {CT2_BINARY_VERSION})"
    );
    let spec = read_string(r)?;
    ensure!(
        spec == "WhisperSpec",
        "not a Whisper model: CTranslate2 spec is {spec:?}"
    );
    let _revision = read_u32(r)?;
    let count = read_u32(r)? as usize;
    let mut vars = Vec::with_capacity(count);
    let mut by_name = HashMap::with_capacity(count);
    for _ in 0..count {
        let name = read_string(r)?;
        let rank = usize::from(read_u8(r)?);
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(read_u32(r)? as usize);
        }
        let dtype = DType::from_u8(read_u8(r)?).with_context(|| format!("variable {name}"))?;
        let nbytes = read_u32(r)? as usize;
        let elems: usize = dims.iter().product();
        ensure!(
            elems * dtype.size() == nbytes,
            "variable {name}: {nbytes} bytes do not match shape {dims:?} of {dtype:?}"
        );
        let offset = r.stream_position()?;
        let scalar = if rank == 0 {
            let mut b = vec![0u8; nbytes];
            r.read_exact(&mut b)?;
            Some(b)
        } else {
            r.seek_relative(nbytes as i64)?;
            None
        };
        by_name.insert(name.clone(), vars.len());
        vars.push(Var {
            name,
            dims,
            dtype,
            offset,
            nbytes,
            scalar,
        });
    }
    // Aliases (e.g. decoder/projection/weight -> decoder/embeddings/weight):
    // whisper.cpp ties the output projection to the token embedding itself.
    let aliases = read_u32(r).context("reading alias table")?;
    for _ in 0..aliases {
        read_string(r)?;
        read_string(r)?;
    }
    Ok(Ct2Model { vars, by_name })
}

// ---------------------------------------------------------------------------
// Hyperparameters
// ---------------------------------------------------------------------------

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

fn dims2(v: &Var) -> Result<(u32, u32)> {
    ensure!(
        v.dims.len() == 2,
        "{} should be 2-D, is {:?}",
        v.name,
        v.dims
    );
    Ok((v.dims[0] as u32, v.dims[1] as u32))
}

fn num_heads(model: &Ct2Model, side: &str, state: u32) -> Result<u32> {
    match model.get(&format!("{side}/num_heads")) {
        Some(v) => {
            let n = v
                .scalar_int()
                .ok_or_else(|| anyhow!("{side}/num_heads is not an integer scalar"))?;
            ensure!(n > 0, "{side}/num_heads is {n}");
            Ok(n as u32)
        }
        // Every released Whisper model uses 64-dimensional heads.
        None => Ok(state / 64),
    }
}

fn derive_hparams(model: &Ct2Model) -> Result<Hparams> {
    let (n_vocab, emb_state) = dims2(model.require("decoder/embeddings/weight")?)?;
    let (n_audio_ctx, n_audio_state) =
        dims2(model.require("encoder/position_encodings/encodings")?)?;
    let (n_text_ctx, n_text_state) = dims2(model.require("decoder/position_encodings/encodings")?)?;
    ensure!(
        emb_state == n_text_state,
        "token embedding width {emb_state} != decoder width {n_text_state}"
    );
    let conv1 = model.require("encoder/conv1/weight")?;
    ensure!(
        conv1.dims.len() == 3,
        "encoder/conv1/weight should be 3-D, is {:?}",
        conv1.dims
    );
    let n_mels = conv1.dims[1] as u32;
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
        n_mels,
        ftype: 1,
    };
    ensure!(
        h.n_audio_layer > 0 && h.n_text_layer > 0,
        "model has no encoder or decoder layers"
    );
    Ok(h)
}

// ---------------------------------------------------------------------------
// Name mapping
// ---------------------------------------------------------------------------

/// One ggml tensor produced from (a row slice of) a CTranslate2 variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub name: String,
    /// Which of `parts` equal row blocks of the source to take.
    pub part: usize,
    pub parts: usize,
}

fn whole(name: String) -> Target {
    Target {
        name,
        part: 0,
        parts: 1,
    }
}

fn slice(name: String, part: usize, parts: usize) -> Target {
    Target { name, part, parts }
}

fn norm_param(p: &str) -> Option<&'static str> {
    match p {
        "gamma" => Some("weight"),
        "beta" => Some("bias"),
        _ => None,
    }
}

fn linear_param(p: &str) -> Option<&'static str> {
    match p {
        "weight" => Some("weight"),
        "bias" => Some("bias"),
        _ => None,
    }
}

/// Map a CTranslate2 Whisper variable name to the ggml tensor(s) it becomes.
/// `None` means the name is not a known Whisper weight.
pub(crate) fn map_name(ct2: &str) -> Option<Vec<Target>> {
    let p: Vec<&str> = ct2.split('/').collect();
    let one = |n: String| Some(vec![whole(n)]);
    match p.as_slice() {
        ["encoder", conv @ ("conv1" | "conv2"), param] => {
            one(format!("encoder.{conv}.{}", linear_param(param)?))
        }
        [
            side @ ("encoder" | "decoder"),
            "position_encodings",
            "encodings",
        ] => one(format!("{side}.positional_embedding")),
        ["encoder", "layer_norm", param] => one(format!("encoder.ln_post.{}", norm_param(param)?)),
        ["decoder", "layer_norm", param] => one(format!("decoder.ln.{}", norm_param(param)?)),
        ["decoder", "embeddings", "weight"] => one("decoder.token_embedding.weight".to_string()),
        [side @ ("encoder" | "decoder"), layer, block, module, param] => {
            let n: u32 = layer.strip_prefix("layer_")?.parse().ok()?;
            let pre = format!("{side}.blocks.{n}");
            let is_decoder = *side == "decoder";
            match (*block, *module) {
                ("self_attention", "layer_norm") => {
                    one(format!("{pre}.attn_ln.{}", norm_param(param)?))
                }
                ("self_attention", "linear_0") => {
                    let param = linear_param(param)?;
                    let mut v = vec![slice(format!("{pre}.attn.query.{param}"), 0, 3)];
                    if param == "weight" {
                        v.push(slice(format!("{pre}.attn.key.{param}"), 1, 3));
                    }
                    v.push(slice(format!("{pre}.attn.value.{param}"), 2, 3));
                    Some(v)
                }
                ("self_attention", "linear_1") => {
                    one(format!("{pre}.attn.out.{}", linear_param(param)?))
                }
                ("attention", "layer_norm") if is_decoder => {
                    one(format!("{pre}.cross_attn_ln.{}", norm_param(param)?))
                }
                ("attention", "linear_0") if is_decoder => {
                    one(format!("{pre}.cross_attn.query.{}", linear_param(param)?))
                }
                ("attention", "linear_1") if is_decoder => {
                    let param = linear_param(param)?;
                    let mut v = Vec::new();
                    if param == "weight" {
                        v.push(slice(format!("{pre}.cross_attn.key.{param}"), 0, 2));
                    }
                    v.push(slice(format!("{pre}.cross_attn.value.{param}"), 1, 2));
                    Some(v)
                }
                ("attention", "linear_2") if is_decoder => {
                    one(format!("{pre}.cross_attn.out.{}", linear_param(param)?))
                }
                ("ffn", "layer_norm") => one(format!("{pre}.mlp_ln.{}", norm_param(param)?)),
                ("ffn", "linear_0") => one(format!("{pre}.mlp.0.{}", linear_param(param)?)),
                ("ffn", "linear_1") => one(format!("{pre}.mlp.2.{}", linear_param(param)?)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Every tensor whisper.cpp loads for a model with these layer counts.
pub(crate) fn expected_tensor_names(n_audio_layer: u32, n_text_layer: u32) -> Vec<String> {
    let mut v: Vec<String> = [
        "encoder.positional_embedding",
        "encoder.conv1.weight",
        "encoder.conv1.bias",
        "encoder.conv2.weight",
        "encoder.conv2.bias",
        "encoder.ln_post.weight",
        "encoder.ln_post.bias",
        "decoder.positional_embedding",
        "decoder.token_embedding.weight",
        "decoder.ln.weight",
        "decoder.ln.bias",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let self_attn = [
        "attn_ln.weight",
        "attn_ln.bias",
        "attn.query.weight",
        "attn.query.bias",
        "attn.key.weight",
        "attn.value.weight",
        "attn.value.bias",
        "attn.out.weight",
        "attn.out.bias",
        "mlp_ln.weight",
        "mlp_ln.bias",
        "mlp.0.weight",
        "mlp.0.bias",
        "mlp.2.weight",
        "mlp.2.bias",
    ];
    let cross_attn = [
        "cross_attn_ln.weight",
        "cross_attn_ln.bias",
        "cross_attn.query.weight",
        "cross_attn.query.bias",
        "cross_attn.key.weight",
        "cross_attn.value.weight",
        "cross_attn.value.bias",
        "cross_attn.out.weight",
        "cross_attn.out.bias",
    ];
    for i in 0..n_audio_layer {
        v.extend(self_attn.iter().map(|s| format!("encoder.blocks.{i}.{s}")));
    }
    for i in 0..n_text_layer {
        v.extend(self_attn.iter().map(|s| format!("decoder.blocks.{i}.{s}")));
        v.extend(cross_attn.iter().map(|s| format!("decoder.blocks.{i}.{s}")));
    }
    v
}

/// A tensor to write: which variable, which row block, in which type.
#[derive(Debug, Clone)]
struct PlannedTensor {
    name: String,
    var: usize,
    part: usize,
    parts: usize,
    /// PyTorch-order shape of the output tensor.
    dims: Vec<usize>,
    f16: bool,
}

fn keep_f32(name: &str, rank: usize) -> bool {
    rank < 2
        || name == "encoder.conv1.bias"
        || name == "encoder.conv2.bias"
        || name.ends_with("positional_embedding")
}

fn plan_tensors(model: &Ct2Model) -> Result<Vec<PlannedTensor>> {
    let mut plan = Vec::new();
    for (idx, var) in model.vars.iter().enumerate() {
        if var.dims.is_empty() {
            continue; // scalar options: num_heads, activation, pre_norm, ...
        }
        if var.name == "decoder/projection/weight" {
            continue; // tied to the token embedding in whisper.cpp
        }
        if var.name.ends_with("_scale") || !var.dtype.is_float() {
            bail!(
                "variable {} is quantized ({:?}); only float32/float16/bfloat16 CTranslate2 \
                 models can be imported",
                var.name,
                var.dtype
            );
        }
        let targets = map_name(&var.name)
            .ok_or_else(|| anyhow!("unexpected CTranslate2 variable {}", var.name))?;
        for t in targets {
            ensure!(
                var.dims[0] % t.parts == 0,
                "{}: {} rows cannot be split in {}",
                var.name,
                var.dims[0],
                t.parts
            );
            let mut dims = var.dims.clone();
            dims[0] /= t.parts;
            let f16 = !keep_f32(&t.name, dims.len());
            if t.name.starts_with("encoder.conv") && t.name.ends_with(".bias") {
                dims.push(1); // [n] -> [n, 1], as whisper.cpp expects
            }
            plan.push(PlannedTensor {
                name: t.name,
                var: idx,
                part: t.part,
                parts: t.parts,
                dims,
                f16,
            });
        }
    }
    Ok(plan)
}

fn check_tensor_set(plan: &[PlannedTensor], h: &Hparams) -> Result<()> {
    let have: BTreeSet<&str> = plan.iter().map(|t| t.name.as_str()).collect();
    ensure!(have.len() == plan.len(), "duplicate tensor names in model");
    let expected = expected_tensor_names(h.n_audio_layer, h.n_text_layer);
    let want: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    let missing: Vec<&&str> = want.difference(&have).collect();
    let extra: Vec<&&str> = have.difference(&want).collect();
    ensure!(
        missing.is_empty() && extra.is_empty(),
        "tensor set does not match whisper.cpp's: missing {missing:?}, unexpected {extra:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------

/// GPT-2's reversible byte -> unicode table (`bytes_to_unicode` in
/// openai/gpt-2 `encoder.py`), indexed by byte.
pub(crate) fn bytes_to_unicode() -> [char; 256] {
    let printable = |b: u32| {
        (u32::from(b'!')..=u32::from(b'~')).contains(&b)
            || (0xA1..=0xAC).contains(&b)
            || (0xAE..=0xFF).contains(&b)
    };
    let mut table = ['\0'; 256];
    let mut next_extra = 256u32;
    for b in 0..256u32 {
        let c = if printable(b) {
            b
        } else {
            next_extra += 1;
            next_extra - 1
        };
        // All code points involved are below U+0144, so always valid.
        table[b as usize] = char::from_u32(c).unwrap_or('\0');
    }
    table
}

/// Inverse of [`bytes_to_unicode`].
pub(crate) fn unicode_to_bytes() -> HashMap<char, u8> {
    bytes_to_unicode()
        .iter()
        .enumerate()
        .map(|(b, &c)| (c, b as u8))
        .collect()
}

fn read_vocabulary(dir: &Path) -> Result<Vec<String>> {
    let json = dir.join("vocabulary.json");
    if json.is_file() {
        let text = std::fs::read_to_string(&json)
            .with_context(|| format!("reading {}", json.display()))?;
        return serde_json::from_str(&text).with_context(|| format!("parsing {}", json.display()));
    }
    let txt = dir.join("vocabulary.txt");
    let text =
        std::fs::read_to_string(&txt).with_context(|| format!("reading {}", txt.display()))?;
    let mut v: Vec<String> = text.split('\n').map(str::to_string).collect();
    if v.last().is_some_and(|s| s.is_empty()) {
        v.pop();
    }
    Ok(v)
}

/// The byte strings of the regular tokens (everything before
/// `<|endoftext|>`: 50256 for English-only models, 50257 for multilingual
/// ones), as whisper.cpp's own models carry them.
fn ggml_tokens(vocab: &[String], n_vocab: u32) -> Result<Vec<Vec<u8>>> {
    let eot = vocab.iter().position(|t| t == "<|endoftext|>").unwrap_or(
        if n_vocab >= MULTILINGUAL_N_VOCAB {
            50_257
        } else {
            50_256
        },
    );
    ensure!(
        eot <= vocab.len() && eot <= n_vocab as usize,
        "vocabulary has {} entries, end-of-text at {eot}, model n_vocab {n_vocab}",
        vocab.len()
    );
    let decoder = unicode_to_bytes();
    vocab[..eot]
        .iter()
        .enumerate()
        .map(|(i, tok)| {
            tok.chars()
                .map(|c| {
                    decoder
                        .get(&c)
                        .copied()
                        .ok_or_else(|| anyhow!("token {i} {tok:?}: {c:?} is not a byte symbol"))
                })
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Mel filterbank (librosa.filters.mel, Slaney scale and normalisation)
// ---------------------------------------------------------------------------

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// `librosa.filters.mel(sr, n_fft, n_mels)` (fmin 0, fmax sr/2, htk=False,
/// norm="slaney"), row-major `[n_mels][n_fft / 2 + 1]`. This is what
/// whisper's `mel_filters.npz` holds.
pub(crate) fn mel_filters(sr: f64, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..n_bins).map(|i| i as f64 * sr / n_fft as f64).collect();
    let (mel_min, mel_max) = (hz_to_mel(0.0), hz_to_mel(sr / 2.0));
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut w = vec![0f32; n_mels * n_bins];
    for m in 0..n_mels {
        let (lo, mid, hi) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - lo) / (mid - lo);
            let upper = (hi - f) / (hi - mid);
            // librosa stores the triangle as f32, then scales it in f64.
            let tri = lower.min(upper).max(0.0) as f32;
            w[m * n_bins + k] = (f64::from(tri) * enorm) as f32;
        }
    }
    w
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

fn put_i32(w: &mut impl Write, v: usize) -> Result<()> {
    let v = i32::try_from(v).map_err(|_| anyhow!("{v} does not fit an i32"))?;
    w.write_all(&v.to_le_bytes())?;
    Ok(())
}

fn write_header(
    w: &mut impl Write,
    h: &Hparams,
    filters: &[f32],
    n_mels: usize,
    tokens: &[Vec<u8>],
) -> Result<()> {
    w.write_all(&GGML_MAGIC.to_le_bytes())?;
    for v in [
        h.n_vocab,
        h.n_audio_ctx,
        h.n_audio_state,
        h.n_audio_head,
        h.n_audio_layer,
        h.n_text_ctx,
        h.n_text_state,
        h.n_text_head,
        h.n_text_layer,
        h.n_mels,
        h.ftype,
    ] {
        put_i32(w, v as usize)?;
    }
    put_i32(w, n_mels)?;
    put_i32(w, filters.len() / n_mels)?;
    for x in filters {
        w.write_all(&x.to_le_bytes())?;
    }
    put_i32(w, tokens.len())?;
    for t in tokens {
        put_i32(w, t.len())?;
        w.write_all(t)?;
    }
    Ok(())
}

fn write_tensor<R: Read + Seek>(
    w: &mut impl Write,
    r: &mut R,
    var: &Var,
    t: &PlannedTensor,
) -> Result<()> {
    let name = t.name.as_bytes();
    put_i32(w, t.dims.len())?;
    put_i32(w, name.len())?;
    put_i32(w, usize::from(t.f16))?;
    for &d in t.dims.iter().rev() {
        put_i32(w, d)?;
    }
    w.write_all(name)?;

    let part_bytes = var.nbytes / t.parts;
    r.seek(SeekFrom::Start(var.offset + (t.part * part_bytes) as u64))?;
    let esize = var.dtype.size();
    let mut left = part_bytes / esize;
    let mut inbuf = Vec::new();
    let mut outbuf = Vec::new();
    while left > 0 {
        let n = left.min(CHUNK_ELEMS);
        inbuf.resize(n * esize, 0);
        r.read_exact(&mut inbuf)?;
        outbuf.clear();
        convert(&inbuf, var.dtype, t.f16, &mut outbuf);
        w.write_all(&outbuf)?;
        left -= n;
    }
    Ok(())
}

/// Convert little-endian float data of type `src` to f16 (or f32) bytes.
fn convert(input: &[u8], src: DType, to_f16: bool, out: &mut Vec<u8>) {
    use half::{bf16, f16};
    if src == DType::F16 && to_f16 {
        out.extend_from_slice(input);
        return;
    }
    let values = input.chunks_exact(src.size()).map(|c| match src {
        DType::F16 => f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32(),
        DType::Bf16 => bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32(),
        _ => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
    });
    if to_f16 {
        out.reserve(input.len() / src.size() * 2);
        for x in values {
            out.extend_from_slice(&f16::from_f32(x).to_le_bytes());
        }
    } else {
        out.reserve(input.len() / src.size() * 4);
        for x in values {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_matches_gpt2() {
        let t = bytes_to_unicode();
        assert_eq!(t[usize::from(b'!')], '!');
        assert_eq!(t[usize::from(b'a')], 'a');
        assert_eq!(t[0xFF], 'ÿ');
        assert_eq!(t[0], 'Ā'); // U+0100
        assert_eq!(t[usize::from(b' ')], 'Ġ'); // U+0120
        assert_eq!(t[usize::from(b'\n')], 'Ċ'); // U+010A
        assert_eq!(t[0xAD], '\u{143}'); // soft hyphen, the last remapped byte
    }

    #[test]
    fn byte_table_inverse_is_a_bijection() {
        let inv = unicode_to_bytes();
        assert_eq!(inv.len(), 256);
        for (b, c) in bytes_to_unicode().iter().enumerate() {
            assert_eq!(inv[c], b as u8);
        }
    }

    #[test]
    fn tokens_decode_to_bytes() {
        let vocab: Vec<String> = ["Hello", "Ġworld", "ĊĊ", "Ã©", "<|endoftext|>", "<|sot|>"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let toks = ggml_tokens(&vocab, 51_864).unwrap();
        assert_eq!(toks.len(), 4);
        assert_eq!(toks[0], b"Hello");
        assert_eq!(toks[1], b" world");
        assert_eq!(toks[2], b"\n\n");
        assert_eq!(toks[3], "é".as_bytes());
        let bad = vec!["<|x|>".to_string(), "<|endoftext|>".to_string()];
        assert!(ggml_tokens(&bad, 51_864).is_ok()); // '<', '|', 'x', '>' are byte symbols
        let bad = vec!["\u{2603}".to_string(), "<|endoftext|>".to_string()];
        assert!(ggml_tokens(&bad, 51_864).is_err());
    }

    #[test]
    fn mel_filterbank_shape_and_values() {
        let f = mel_filters(SAMPLE_RATE, N_FFT, 80);
        assert_eq!(f.len(), 80 * 201);
        assert!(f.iter().all(|&x| x >= 0.0 && x.is_finite()));
        for row in f.chunks(201) {
            assert!(row.iter().any(|&x| x > 0.0), "empty filter");
        }
        // Reference values from whisper's assets/mel_filters.npz (mel_80).
        assert!((f[1] - 0.024_862_595).abs() < 1e-6);
        let row10_max = f[10 * 201..11 * 201].iter().cloned().fold(0f32, f32::max);
        assert!((row10_max - 0.019_908_218).abs() < 1e-6);
        // Slaney normalisation: each triangle has unit area in Hz (bins are
        // 40 Hz apart, so the sampled area is only close to 1).
        for row in f.chunks(201) {
            let area: f32 = row.iter().sum::<f32>() * 40.0;
            assert!((area - 1.0).abs() < 0.1, "area {area}");
        }
        let f128 = mel_filters(SAMPLE_RATE, N_FFT, 128);
        assert_eq!(f128.len(), 128 * 201);
        assert!((f128[1] - 0.012_373_987).abs() < 1e-6);
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 100.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn maps_names() {
        let names = |v: Option<Vec<Target>>| -> Vec<(String, usize, usize)> {
            v.unwrap()
                .into_iter()
                .map(|t| (t.name, t.part, t.parts))
                .collect()
        };
        assert_eq!(
            names(map_name("encoder/conv1/bias")),
            [("encoder.conv1.bias".into(), 0, 1)]
        );
        assert_eq!(
            names(map_name("decoder/position_encodings/encodings")),
            [("decoder.positional_embedding".into(), 0, 1)]
        );
        assert_eq!(
            names(map_name("encoder/layer_norm/gamma")),
            [("encoder.ln_post.weight".into(), 0, 1)]
        );
        assert_eq!(
            names(map_name("decoder/layer_norm/beta")),
            [("decoder.ln.bias".into(), 0, 1)]
        );
        assert_eq!(
            names(map_name("decoder/embeddings/weight")),
            [("decoder.token_embedding.weight".into(), 0, 1)]
        );
        assert_eq!(
            names(map_name("encoder/layer_2/self_attention/linear_0/weight")),
            [
                ("encoder.blocks.2.attn.query.weight".into(), 0, 3),
                ("encoder.blocks.2.attn.key.weight".into(), 1, 3),
                ("encoder.blocks.2.attn.value.weight".into(), 2, 3),
            ]
        );
        assert_eq!(
            names(map_name("decoder/layer_0/self_attention/linear_0/bias")),
            [
                ("decoder.blocks.0.attn.query.bias".into(), 0, 3),
                ("decoder.blocks.0.attn.value.bias".into(), 2, 3),
            ]
        );
        assert_eq!(
            names(map_name("decoder/layer_3/attention/linear_1/weight")),
            [
                ("decoder.blocks.3.cross_attn.key.weight".into(), 0, 2),
                ("decoder.blocks.3.cross_attn.value.weight".into(), 1, 2),
            ]
        );
        assert_eq!(
            names(map_name("decoder/layer_3/attention/linear_1/bias")),
            [("decoder.blocks.3.cross_attn.value.bias".into(), 1, 2)]
        );
        assert_eq!(
            names(map_name("decoder/layer_1/attention/layer_norm/gamma")),
            [("decoder.blocks.1.cross_attn_ln.weight".into(), 0, 1)]
        );
        assert_eq!(
            names(map_name("decoder/layer_1/attention/linear_2/bias")),
            [("decoder.blocks.1.cross_attn.out.bias".into(), 0, 1)]
        );
        assert_eq!(
            names(map_name("encoder/layer_0/ffn/linear_1/weight")),
            [("encoder.blocks.0.mlp.2.weight".into(), 0, 1)]
        );
        assert_eq!(
            names(map_name("encoder/layer_0/self_attention/layer_norm/beta")),
            [("encoder.blocks.0.attn_ln.bias".into(), 0, 1)]
        );
        // Encoders have no cross attention; unknown names are rejected.
        assert!(map_name("encoder/layer_0/attention/linear_0/weight").is_none());
        assert!(map_name("decoder/num_heads").is_none());
        assert!(map_name("decoder/layer_x/ffn/linear_0/weight").is_none());
    }

    #[test]
    fn expected_tensor_count_for_tiny() {
        let names = expected_tensor_names(4, 4);
        assert_eq!(names.len(), 167);
        let unique: BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), 167);
    }

    #[test]
    fn f32_kept_for_small_tensors() {
        assert!(keep_f32("encoder.blocks.0.attn.query.bias", 1));
        assert!(keep_f32("encoder.conv1.bias", 1));
        assert!(keep_f32("decoder.positional_embedding", 2));
        assert!(!keep_f32("encoder.conv1.weight", 3));
        assert!(!keep_f32("decoder.token_embedding.weight", 2));
    }

    #[test]
    fn converts_floats() {
        let mut out = Vec::new();
        convert(&1.5f32.to_le_bytes(), DType::F32, true, &mut out);
        assert_eq!(out, half::f16::from_f32(1.5).to_le_bytes());
        out.clear();
        let h = half::f16::from_f32(-2.25).to_le_bytes();
        convert(&h, DType::F16, false, &mut out);
        assert_eq!(out, (-2.25f32).to_le_bytes());
        out.clear();
        let b = half::bf16::from_f32(3.0).to_le_bytes();
        convert(&b, DType::Bf16, true, &mut out);
        assert_eq!(out, half::f16::from_f32(3.0).to_le_bytes());
    }
}
