//! The GE2E speaker encoder (Resemblyzer's `VoiceEncoder`): a 3-layer LSTM
//! (40 → 256 → 256 → 256, PyTorch gate order i, f, g, o), then
//! `L2-normalise(ReLU(linear(last hidden state of layer 3)))`.
//!
//! Windows are encoded in batches: the input projection of a layer is one
//! matrix product over every frame of every window, and each time step is one
//! `batch × 256` by `256 × 1024` product. Batches are spread over the cores.

use std::collections::HashMap;

use crate::checkpoint::Tensor;
use crate::frontend::N_MELS;
use crate::gemm::{MatRef, gemm};
use crate::lstm::Lstm;
use crate::parallel::in_parallel;

pub const HIDDEN: usize = 256;
pub const EMBEDDING: usize = 256;
const GATES: usize = 4 * HIDDEN;
const LAYERS: usize = 3;
/// Windows per batch: bounds the per-thread buffers (about 0.7 MB a window
/// at 160 frames) while keeping the matrix products large enough to be fast.
const BATCH: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("encoder weight `{name}`: expected shape {expected:?}, found {found:?}")]
pub struct ShapeError {
    name: String,
    expected: Vec<usize>,
    found: Option<Vec<usize>>,
}

pub struct Encoder {
    layers: Vec<Lstm>,
    /// `EMBEDDING × HIDDEN`.
    linear_w: Vec<f32>,
    linear_b: Vec<f32>,
}

impl Encoder {
    /// Builds the encoder from a `model_state` map, checking every shape.
    pub fn from_state(state: &HashMap<String, Tensor>) -> Result<Self, ShapeError> {
        let take = |name: String, expected: Vec<usize>| match state.get(&name) {
            Some(t) if t.shape == expected => Ok(t.data.clone()),
            other => Err(ShapeError { name, expected, found: other.map(|t| t.shape.clone()) }),
        };
        let mut layers = Vec::with_capacity(LAYERS);
        for l in 0..LAYERS {
            let inputs = if l == 0 { N_MELS } else { HIDDEN };
            let b_ih = take(format!("lstm.bias_ih_l{l}"), vec![GATES])?;
            let b_hh = take(format!("lstm.bias_hh_l{l}"), vec![GATES])?;
            layers.push(Lstm {
                inputs,
                hidden: HIDDEN,
                w_ih: take(format!("lstm.weight_ih_l{l}"), vec![GATES, inputs])?,
                w_hh: take(format!("lstm.weight_hh_l{l}"), vec![GATES, HIDDEN])?,
                bias: b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
            });
        }
        Ok(Encoder {
            layers,
            linear_w: take("linear.weight".into(), vec![EMBEDDING, HIDDEN])?,
            linear_b: take("linear.bias".into(), vec![EMBEDDING])?,
        })
    }

    /// Embeds `windows` mel sequences of `frames` frames each (`mels` is
    /// `windows × frames × N_MELS`, row-major) on up to `threads` threads.
    /// Returns `windows × EMBEDDING` unit vectors (all zero for a window
    /// the network maps to zero).
    pub fn embed(&self, mels: &[f32], windows: usize, frames: usize, threads: usize) -> Vec<f32> {
        let per_window = frames * N_MELS;
        assert_eq!(mels.len(), windows * per_window, "mel buffer does not hold {windows} windows");
        let batches: Vec<&[f32]> = mels.chunks(BATCH * per_window).collect();
        let embedded = in_parallel(batches.len(), threads, |i| {
            self.embed_batch(batches[i], batches[i].len() / per_window, frames)
        });
        embedded.concat()
    }

    fn embed_batch(&self, mels: &[f32], batch: usize, frames: usize) -> Vec<f32> {
        let mut input = mels.to_vec();
        let mut last = vec![0.0f32; batch * HIDDEN];
        for (l, layer) in self.layers.iter().enumerate() {
            let keep_sequence = l + 1 < self.layers.len();
            let (seq, h) = layer.run(&input, batch, frames, keep_sequence, false);
            input = seq;
            last = h;
        }
        let mut out = vec![0.0f32; batch * EMBEDDING];
        for row in out.chunks_exact_mut(EMBEDDING) {
            row.copy_from_slice(&self.linear_b);
        }
        gemm(MatRef::rows(&last, batch, HIDDEN), MatRef::transposed(&self.linear_w, EMBEDDING, HIDDEN), 1.0, &mut out);
        for row in out.chunks_exact_mut(EMBEDDING) {
            row.iter_mut().for_each(|x| *x = x.max(0.0));
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|x| *x /= norm);
            }
        }
        out
    }
}

/// A `model_state` with the real shapes and small pseudo-random weights.
#[cfg(test)]
pub(crate) fn random_state(seed: u64) -> HashMap<String, Tensor> {
    let mut x = seed;
    let mut rand = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2000) as f32 / 10_000.0 - 0.1
            })
            .collect()
    };
    let mut state = HashMap::new();
    let mut put = |name: String, shape: Vec<usize>| {
        let data = rand(shape.iter().product());
        state.insert(name, Tensor { shape, data });
    };
    for l in 0..LAYERS {
        let inputs = if l == 0 { N_MELS } else { HIDDEN };
        put(format!("lstm.weight_ih_l{l}"), vec![GATES, inputs]);
        put(format!("lstm.weight_hh_l{l}"), vec![GATES, HIDDEN]);
        put(format!("lstm.bias_ih_l{l}"), vec![GATES]);
        put(format!("lstm.bias_hh_l{l}"), vec![GATES]);
    }
    put("linear.weight".into(), vec![EMBEDDING, HIDDEN]);
    put("linear.bias".into(), vec![EMBEDDING]);
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batching_and_threads_do_not_change_embeddings() {
        let encoder = Encoder::from_state(&random_state(7)).expect("shapes");
        let (windows, frames) = (BATCH + 3, 5);
        let mels: Vec<f32> = (0..windows * frames * N_MELS).map(|i| ((i * 37) % 101) as f32 / 50.0).collect();
        let together = encoder.embed(&mels, windows, frames, 2);
        assert_eq!(together.len(), windows * EMBEDDING);
        for w in [0, BATCH - 1, BATCH + 2] {
            let alone = encoder.embed(&mels[w * frames * N_MELS..][..frames * N_MELS], 1, frames, 1);
            let row = &together[w * EMBEDDING..][..EMBEDDING];
            assert!(row.iter().zip(&alone).all(|(a, b)| (a - b).abs() < 1e-5));
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5 || norm == 0.0);
        }
    }

    #[test]
    fn rejects_wrong_shapes() {
        let mut state = random_state(1);
        state.get_mut("lstm.weight_hh_l1").expect("present").shape = vec![GATES, 128];
        let err = Encoder::from_state(&state).err().expect("shape error");
        assert!(err.to_string().contains("lstm.weight_hh_l1"));
        state.remove("linear.bias");
        state.get_mut("lstm.weight_hh_l1").expect("present").shape = vec![GATES, HIDDEN];
        assert!(Encoder::from_state(&state).is_err());
    }
}
