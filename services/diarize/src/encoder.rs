//! The GE2E speaker encoder (Resemblyzer's `VoiceEncoder`): a 3-layer LSTM
//! (40 → 256 → 256 → 256, PyTorch gate order i, f, g, o), then
//! `L2-normalise(ReLU(linear(last hidden state of layer 3)))`.
//!
//! Windows are encoded in batches: the input projection of a layer is one
//! matrix product over every frame of every window, and each time step is one
//! `batch × 256` by `256 × 1024` product. Batches are spread over the cores.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::checkpoint::Tensor;
use crate::frontend::N_MELS;
use crate::gemm::{MatRef, gemm};

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

struct LstmLayer {
    inputs: usize,
    /// `GATES × inputs`, row-major (PyTorch's layout).
    w_ih: Vec<f32>,
    /// `GATES × HIDDEN`.
    w_hh: Vec<f32>,
    /// `bias_ih + bias_hh`.
    bias: Vec<f32>,
}

pub struct Encoder {
    layers: Vec<LstmLayer>,
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
            layers.push(LstmLayer {
                inputs,
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
        let next = AtomicUsize::new(0);
        let worker = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(i) else { return done };
                done.push((i, self.embed_batch(batch, batch.len() / per_window, frames)));
            }
        };
        let threads = threads.clamp(1, batches.len().max(1));
        let mut results: Vec<(usize, Vec<f32>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (1..threads).map(|_| s.spawn(worker)).collect();
            let mut all = worker();
            for h in handles {
                all.extend(h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
            all
        });
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().flat_map(|(_, e)| e).collect()
    }

    fn embed_batch(&self, mels: &[f32], batch: usize, frames: usize) -> Vec<f32> {
        let mut input = mels.to_vec();
        let mut last = vec![0.0f32; batch * HIDDEN];
        for (l, layer) in self.layers.iter().enumerate() {
            let keep_sequence = l + 1 < self.layers.len();
            let (seq, h) = layer.run(&input, batch, frames, keep_sequence);
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

impl LstmLayer {
    /// Runs the layer over `batch × frames × inputs` (row-major) from zero
    /// state. Returns the hidden sequence (`batch × frames × HIDDEN`, empty
    /// unless `keep_sequence`) and the last hidden state (`batch × HIDDEN`).
    fn run(&self, input: &[f32], batch: usize, frames: usize, keep_sequence: bool) -> (Vec<f32>, Vec<f32>) {
        // Input projections and biases for every frame at once: row b*frames + t.
        let rows = batch * frames;
        let mut projected = vec![0.0f32; rows * GATES];
        for row in projected.chunks_exact_mut(GATES) {
            row.copy_from_slice(&self.bias);
        }
        gemm(
            MatRef::rows(input, rows, self.inputs),
            MatRef::transposed(&self.w_ih, GATES, self.inputs),
            1.0,
            &mut projected,
        );
        let mut h = vec![0.0f32; batch * HIDDEN];
        let mut c = vec![0.0f32; batch * HIDDEN];
        let mut gates = vec![0.0f32; batch * GATES];
        let mut sequence = if keep_sequence { vec![0.0f32; rows * HIDDEN] } else { Vec::new() };
        for t in 0..frames {
            if t == 0 {
                gates.fill(0.0);
            } else {
                gemm(MatRef::rows(&h, batch, HIDDEN), MatRef::transposed(&self.w_hh, GATES, HIDDEN), 0.0, &mut gates);
            }
            for b in 0..batch {
                let pre = &projected[(b * frames + t) * GATES..][..GATES];
                let rec = &gates[b * GATES..][..GATES];
                let hb = &mut h[b * HIDDEN..][..HIDDEN];
                let cb = &mut c[b * HIDDEN..][..HIDDEN];
                for j in 0..HIDDEN {
                    let i_gate = sigmoid(pre[j] + rec[j]);
                    let f_gate = sigmoid(pre[HIDDEN + j] + rec[HIDDEN + j]);
                    let g_gate = tanh(pre[2 * HIDDEN + j] + rec[2 * HIDDEN + j]);
                    let o_gate = sigmoid(pre[3 * HIDDEN + j] + rec[3 * HIDDEN + j]);
                    cb[j] = f_gate * cb[j] + i_gate * g_gate;
                    hb[j] = o_gate * tanh(cb[j]);
                }
                if keep_sequence {
                    sequence[(b * frames + t) * HIDDEN..][..HIDDEN].copy_from_slice(hb);
                }
            }
        }
        (sequence, h)
    }
}

// The gate functions run 5 × 256 times a frame a layer a window: they are
// written without branches or library calls so that the gate loop
// vectorises (the library's `expf` and `tanhf` took about a third of the
// encoder's time).

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// `e^x` to within 2e-7 relative: `x = n ln 2 + r` with `|r| ≤ ln 2 / 2`,
/// `e^r` by Cephes' `expf` polynomial, `2^n` written into the exponent
/// bits. `x` is first clamped to ±87, where `e^x` is a normal f32.
#[inline(always)]
fn exp(x: f32) -> f32 {
    /// 1.5 × 2²³: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 87.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    // ln 2 in two parts (0.693359375 − 2.12194440e-4), so r stays exact.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = (((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 0.5)
        * r
        * r
        + r
        + 1.0;
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
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

    /// A one-unit LSTM step by hand: with x = 1, h = c = 0 and gate
    /// pre-activations (i, f, g, o) = (w_i, w_f, w_g, w_o) · x + biases.
    #[test]
    fn lstm_step_matches_hand_computation() {
        // Embed a 1-unit LSTM into the full-size layer by using only unit 0
        // and input 0; every other weight is zero.
        let mut layer = LstmLayer {
            inputs: 2,
            w_ih: vec![0.0; GATES * 2],
            w_hh: vec![0.0; GATES * HIDDEN],
            bias: vec![0.0; GATES],
        };
        let (wi, wf, wg, wo) = (0.5f32, -1.0f32, 2.0f32, 1.5f32);
        for (gate, w) in [wi, wf, wg, wo].into_iter().enumerate() {
            layer.w_ih[gate * HIDDEN * 2] = w;
            layer.bias[gate * HIDDEN] = 0.25;
        }
        layer.w_hh[0] = 1.0; // recurrent weight of gate i, unit 0, from h[0]
        // Two steps, x = (1, 0) then (-1, 0).
        let input = [1.0, 0.0, -1.0, 0.0];
        let (seq, h) = layer.run(&input, 1, 2, true);

        let s = |x: f32| 1.0 / (1.0 + (-x).exp());
        let c1 = s(wi + 0.25) * (wg + 0.25).tanh();
        let h1 = s(wo + 0.25) * c1.tanh();
        let c2 = s(-wf + 0.25) * c1 + s(-wi + 0.25 + h1) * (-wg + 0.25).tanh();
        let h2 = s(-wo + 0.25) * c2.tanh();
        assert!((seq[0] - h1).abs() < 1e-6, "{} vs {h1}", seq[0]);
        assert!((seq[HIDDEN] - h2).abs() < 1e-6, "{} vs {h2}", seq[HIDDEN]);
        assert!((h[0] - h2).abs() < 1e-6);
        // Units with zero weights see only sigmoid(0)·tanh(...) of zero cells.
        assert!(h[1..].iter().all(|&v| v.abs() < 1e-7));
    }

    #[test]
    fn gate_functions_match_the_library() {
        let mut worst: [f32; 3] = [0.0; 3];
        for i in -200_000..=200_000 {
            let x = i as f32 / 1000.0;
            let relative = (exp(x) - x.exp()).abs() / x.exp().max(f32::MIN_POSITIVE);
            if x.abs() < 87.0 {
                worst[0] = worst[0].max(relative);
            }
            worst[1] = worst[1].max((sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs());
            worst[2] = worst[2].max((tanh(x) - x.tanh()).abs());
        }
        assert!(worst[0] < 3e-7 && worst[1] < 2e-7 && worst[2] < 3e-7, "worst errors {worst:?}");
        // Far outside: saturated, never NaN or infinite.
        assert!(exp(-1000.0) < 1e-37 && exp(1000.0).is_finite());
        assert!(sigmoid(-1000.0) < 1e-37 && sigmoid(1000.0) == 1.0);
        assert!(tanh(-1000.0) == -1.0 && tanh(1000.0) == 1.0);
    }

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
