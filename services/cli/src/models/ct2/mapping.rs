//! Which ggml tensors a CTranslate2 model becomes: name mapping, splitting of
//! the fused attention projections, and the output tensor types.
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

use std::collections::BTreeSet;

use anyhow::{Result, anyhow, bail, ensure};

use super::Hparams;
use super::reader::Ct2Model;

/// One ggml tensor produced from (a row slice of) a CTranslate2 variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub name: String,
    /// Which of `parts` equal row blocks of the source to take.
    pub part: usize,
    pub parts: usize,
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

fn linear_param(p: &str) -> Option<&str> {
    matches!(p, "weight" | "bias").then_some(p)
}

/// Map a CTranslate2 Whisper variable name to the ggml tensor(s) it becomes.
/// `None` means the name is not a known Whisper weight.
pub(super) fn map_name(ct2: &str) -> Option<Vec<Target>> {
    let p: Vec<&str> = ct2.split('/').collect();
    let one = |n: String| Some(vec![slice(n, 0, 1)]);
    match p.as_slice() {
        ["encoder", conv @ ("conv1" | "conv2"), param] => one(format!("encoder.{conv}.{}", linear_param(param)?)),
        [side @ ("encoder" | "decoder"), "position_encodings", "encodings"] => {
            one(format!("{side}.positional_embedding"))
        }
        ["encoder", "layer_norm", param] => one(format!("encoder.ln_post.{}", norm_param(param)?)),
        ["decoder", "layer_norm", param] => one(format!("decoder.ln.{}", norm_param(param)?)),
        ["decoder", "embeddings", "weight"] => one("decoder.token_embedding.weight".to_string()),
        [side @ ("encoder" | "decoder"), layer, block, module, param] => {
            let n: u32 = layer.strip_prefix("layer_")?.parse().ok()?;
            let pre = format!("{side}.blocks.{n}");
            let is_decoder = *side == "decoder";
            match (*block, *module) {
                ("self_attention", "layer_norm") => one(format!("{pre}.attn_ln.{}", norm_param(param)?)),
                ("self_attention", "linear_0") => {
                    let param = linear_param(param)?;
                    let mut v = vec![slice(format!("{pre}.attn.query.{param}"), 0, 3)];
                    if param == "weight" {
                        v.push(slice(format!("{pre}.attn.key.{param}"), 1, 3));
                    }
                    v.push(slice(format!("{pre}.attn.value.{param}"), 2, 3));
                    Some(v)
                }
                ("self_attention", "linear_1") => one(format!("{pre}.attn.out.{}", linear_param(param)?)),
                ("attention", "layer_norm") if is_decoder => one(format!("{pre}.cross_attn_ln.{}", norm_param(param)?)),
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
fn expected_tensor_names(n_audio_layer: u32, n_text_layer: u32) -> Vec<String> {
    const TOP: [&str; 11] = [
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
    ];
    const SELF_ATTN: [&str; 15] = [
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
    const CROSS_ATTN: [&str; 9] = [
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
    let mut v: Vec<String> = TOP.iter().map(|s| s.to_string()).collect();
    for i in 0..n_audio_layer {
        v.extend(SELF_ATTN.iter().map(|s| format!("encoder.blocks.{i}.{s}")));
    }
    for i in 0..n_text_layer {
        v.extend(SELF_ATTN.iter().map(|s| format!("decoder.blocks.{i}.{s}")));
        v.extend(CROSS_ATTN.iter().map(|s| format!("decoder.blocks.{i}.{s}")));
    }
    v
}

/// A tensor to write: which variable, which row block, in which type.
#[derive(Debug, Clone)]
pub(super) struct PlannedTensor {
    pub name: String,
    /// Index into [`Ct2Model::vars`].
    pub var: usize,
    pub part: usize,
    pub parts: usize,
    /// PyTorch-order shape of the output tensor.
    pub dims: Vec<usize>,
    pub encoding: Encoding,
}

/// How a tensor's values are stored in the ggml file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    F32,
    F16,
    /// ggml `Q8_0`: blocks of 32 values, an f16 scale and 32 signed bytes.
    Q8_0,
    /// ggml `Q5_1`: blocks of 32 values, an f16 scale and minimum, and 5-bit
    /// values (4 low bits packed in pairs, the fifth bits in a 32-bit mask).
    Q5_1,
    /// ggml `Q4_0`: blocks of 32 values, an f16 scale and 4-bit values
    /// (packed in pairs, values j and j + 16 in byte j).
    Q4_0,
    /// ggml `IQ4_NL`: blocks of 32 values, an f16 scale and 4-bit indices
    /// into a fixed non-linear table of 16 levels (packed as in `Q4_0`).
    Iq4Nl,
}

impl Encoding {
    /// The quantized encodings `--quantize` accepts, by name.
    pub fn quantized(name: &str) -> Option<Self> {
        match name {
            "q8_0" => Some(Self::Q8_0),
            "q5_1" => Some(Self::Q5_1),
            "q4_0" => Some(Self::Q4_0),
            "iq4_nl" => Some(Self::Iq4Nl),
            _ => None,
        }
    }

    /// ggml's file type for a model whose matrices are in this encoding,
    /// with quantization version 2, as whisper.cpp writes it (`ftype +
    /// version * 1000`): `MOSTLY_Q8_0` is 7, `MOSTLY_Q5_1` is 9, `MOSTLY_Q4_0` is 2,
    /// `MOSTLY_IQ4_NL` 19.
    pub(super) fn file_type(self) -> u32 {
        match self {
            Encoding::F32 => 0,
            Encoding::F16 => 1,
            Encoding::Q8_0 => 7 + 2 * 1000,
            Encoding::Q5_1 => 9 + 2 * 1000,
            Encoding::Q4_0 => 2 + 2 * 1000,
            Encoding::Iq4Nl => 19 + 2 * 1000,
        }
    }

    /// The ggml type id written in the tensor record.
    pub(super) fn ggml_type(self) -> usize {
        match self {
            Encoding::F32 => 0,
            Encoding::F16 => 1,
            Encoding::Q8_0 => 8,
            Encoding::Q5_1 => 7,
            Encoding::Q4_0 => 2,
            Encoding::Iq4Nl => 20,
        }
    }
}

fn keep_f32(name: &str, rank: usize) -> bool {
    rank < 2 || name == "encoder.conv1.bias" || name == "encoder.conv2.bias" || name.ends_with("positional_embedding")
}

/// The ggml tensors to write, in model.bin order.
pub(super) fn plan_tensors(model: &Ct2Model) -> Result<Vec<PlannedTensor>> {
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
        let targets = map_name(&var.name).ok_or_else(|| anyhow!("unexpected CTranslate2 variable {}", var.name))?;
        for t in targets {
            ensure!(var.dims[0] % t.parts == 0, "{}: {} rows cannot be split in {}", var.name, var.dims[0], t.parts);
            let mut dims = var.dims.clone();
            dims[0] /= t.parts;
            let encoding = if keep_f32(&t.name, dims.len()) { Encoding::F32 } else { Encoding::F16 };
            if t.name.starts_with("encoder.conv") && t.name.ends_with(".bias") {
                dims.push(1); // [n] -> [n, 1], as whisper.cpp expects
            }
            plan.push(PlannedTensor { name: t.name, var: idx, part: t.part, parts: t.parts, dims, encoding });
        }
    }
    Ok(plan)
}

/// Fail unless `plan` is exactly the tensor set whisper.cpp loads.
pub(super) fn check_tensor_set(plan: &[PlannedTensor], h: &Hparams) -> Result<()> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn targets(ct2: &str) -> Vec<(String, usize, usize)> {
        map_name(ct2).unwrap().into_iter().map(|t| (t.name, t.part, t.parts)).collect()
    }

    #[test]
    fn maps_names() {
        let whole = |n: &str| vec![(n.to_string(), 0, 1)];
        assert_eq!(targets("encoder/conv1/bias"), whole("encoder.conv1.bias"));
        assert_eq!(targets("decoder/position_encodings/encodings"), whole("decoder.positional_embedding"));
        assert_eq!(targets("encoder/layer_norm/gamma"), whole("encoder.ln_post.weight"));
        assert_eq!(targets("decoder/layer_norm/beta"), whole("decoder.ln.bias"));
        assert_eq!(targets("decoder/embeddings/weight"), whole("decoder.token_embedding.weight"));
        assert_eq!(
            targets("encoder/layer_2/self_attention/linear_0/weight"),
            [
                ("encoder.blocks.2.attn.query.weight".into(), 0, 3),
                ("encoder.blocks.2.attn.key.weight".into(), 1, 3),
                ("encoder.blocks.2.attn.value.weight".into(), 2, 3),
            ]
        );
        assert_eq!(
            targets("decoder/layer_0/self_attention/linear_0/bias"),
            [("decoder.blocks.0.attn.query.bias".into(), 0, 3), ("decoder.blocks.0.attn.value.bias".into(), 2, 3),]
        );
        assert_eq!(
            targets("decoder/layer_3/attention/linear_1/weight"),
            [
                ("decoder.blocks.3.cross_attn.key.weight".into(), 0, 2),
                ("decoder.blocks.3.cross_attn.value.weight".into(), 1, 2),
            ]
        );
        assert_eq!(
            targets("decoder/layer_3/attention/linear_1/bias"),
            [("decoder.blocks.3.cross_attn.value.bias".into(), 1, 2)]
        );
        assert_eq!(
            targets("decoder/layer_1/attention/layer_norm/gamma"),
            whole("decoder.blocks.1.cross_attn_ln.weight")
        );
        assert_eq!(targets("decoder/layer_1/attention/linear_2/bias"), whole("decoder.blocks.1.cross_attn.out.bias"));
        assert_eq!(targets("encoder/layer_0/ffn/linear_1/weight"), whole("encoder.blocks.0.mlp.2.weight"));
        assert_eq!(targets("encoder/layer_0/self_attention/layer_norm/beta"), whole("encoder.blocks.0.attn_ln.bias"));
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
}
