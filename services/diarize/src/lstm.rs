//! One LSTM layer, as both networks use it: the GE2E speaker encoder's
//! (forward only) and the segmentation model's (both directions). Gates are
//! in PyTorch's order (i, f, g, o); the input projection of every frame of
//! every sequence is one matrix product, and each time step one
//! `batch × hidden` by `hidden × 4·hidden` product.

use crate::gemm::{MatRef, gemm};

pub struct Lstm {
    pub inputs: usize,
    pub hidden: usize,
    /// `4·hidden × inputs`, row-major (PyTorch's layout).
    pub w_ih: Vec<f32>,
    /// `4·hidden × hidden`.
    pub w_hh: Vec<f32>,
    /// `bias_ih + bias_hh`.
    pub bias: Vec<f32>,
}

impl Lstm {
    /// Runs the layer over `batch × frames × inputs` (row-major) from zero
    /// state, last frame first when `reverse`. Returns the hidden sequence
    /// (`batch × frames × hidden`, in the input's frame order; empty unless
    /// `keep_sequence`) and the hidden state after the last step
    /// (`batch × hidden`).
    pub fn run(
        &self,
        input: &[f32],
        batch: usize,
        frames: usize,
        keep_sequence: bool,
        reverse: bool,
    ) -> (Vec<f32>, Vec<f32>) {
        let (hidden, gates_len) = (self.hidden, 4 * self.hidden);
        // Input projections and biases for every frame at once: row b*frames + t.
        let rows = batch * frames;
        let mut projected = vec![0.0f32; rows * gates_len];
        for row in projected.chunks_exact_mut(gates_len) {
            row.copy_from_slice(&self.bias);
        }
        gemm(
            MatRef::rows(input, rows, self.inputs),
            MatRef::transposed(&self.w_ih, gates_len, self.inputs),
            1.0,
            &mut projected,
        );
        let mut h = vec![0.0f32; batch * hidden];
        let mut c = vec![0.0f32; batch * hidden];
        let mut gates = vec![0.0f32; batch * gates_len];
        let mut sequence = if keep_sequence { vec![0.0f32; rows * hidden] } else { Vec::new() };
        for step in 0..frames {
            let t = if reverse { frames - 1 - step } else { step };
            if step == 0 {
                gates.fill(0.0);
            } else {
                gemm(
                    MatRef::rows(&h, batch, hidden),
                    MatRef::transposed(&self.w_hh, gates_len, hidden),
                    0.0,
                    &mut gates,
                );
            }
            for b in 0..batch {
                let pre = &projected[(b * frames + t) * gates_len..][..gates_len];
                let rec = &gates[b * gates_len..][..gates_len];
                let hb = &mut h[b * hidden..][..hidden];
                let cb = &mut c[b * hidden..][..hidden];
                for j in 0..hidden {
                    let i_gate = sigmoid(pre[j] + rec[j]);
                    let f_gate = sigmoid(pre[hidden + j] + rec[hidden + j]);
                    let g_gate = tanh(pre[2 * hidden + j] + rec[2 * hidden + j]);
                    let o_gate = sigmoid(pre[3 * hidden + j] + rec[3 * hidden + j]);
                    cb[j] = f_gate * cb[j] + i_gate * g_gate;
                    hb[j] = o_gate * tanh(cb[j]);
                }
                if keep_sequence {
                    sequence[(b * frames + t) * hidden..][..hidden].copy_from_slice(hb);
                }
            }
        }
        (sequence, h)
    }
}

// The gate functions run 5 × hidden times a frame a layer a sequence: they
// are written without branches or library calls so that the gate loop
// vectorises (the library's `expf` and `tanhf` took about a third of the
// speaker encoder's time).

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

pub fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// `e^x` to within 2e-7 relative: `x = n ln 2 + r` with `|r| ≤ ln 2 / 2`,
/// `e^r` by Cephes' `expf` polynomial, `2^n` written into the exponent
/// bits. `x` is first clamped to ±87, where `e^x` is a normal f32.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4-unit layer where only unit 0 and input 0 have weights.
    fn one_unit(wi: f32, wf: f32, wg: f32, wo: f32) -> Lstm {
        let hidden = 4;
        let mut layer = Lstm {
            inputs: 2,
            hidden,
            w_ih: vec![0.0; 4 * hidden * 2],
            w_hh: vec![0.0; 4 * hidden * hidden],
            bias: vec![0.0; 4 * hidden],
        };
        for (gate, w) in [wi, wf, wg, wo].into_iter().enumerate() {
            layer.w_ih[gate * hidden * 2] = w;
            layer.bias[gate * hidden] = 0.25;
        }
        layer.w_hh[0] = 1.0; // recurrent weight of gate i, unit 0, from h[0]
        layer
    }

    /// Two steps by hand: with h = c = 0 at first and gate pre-activations
    /// (i, f, g, o) = (w_i, w_f, w_g, w_o) · x + biases.
    #[test]
    fn steps_match_hand_computation_both_ways() {
        let (wi, wf, wg, wo) = (0.5f32, -1.0f32, 2.0f32, 1.5f32);
        let layer = one_unit(wi, wf, wg, wo);
        let s = |x: f32| 1.0 / (1.0 + (-x).exp());
        // x = (1, 0) then (-1, 0): the first step sees 1, the second -1.
        let c1 = s(wi + 0.25) * (wg + 0.25).tanh();
        let h1 = s(wo + 0.25) * c1.tanh();
        let c2 = s(-wf + 0.25) * c1 + s(-wi + 0.25 + h1) * (-wg + 0.25).tanh();
        let h2 = s(-wo + 0.25) * c2.tanh();
        let (seq, h) = layer.run(&[1.0, 0.0, -1.0, 0.0], 1, 2, true, false);
        assert!((seq[0] - h1).abs() < 1e-6, "{} vs {h1}", seq[0]);
        assert!((seq[4] - h2).abs() < 1e-6, "{} vs {h2}", seq[4]);
        assert!((h[0] - h2).abs() < 1e-6);
        // Units with zero weights see only sigmoid(0)·tanh(...) of zero cells.
        assert!(h[1..].iter().all(|&v| v.abs() < 1e-7));
        // Reversed, the last frame is the first step; outputs stay in frame order.
        let (seq, h) = layer.run(&[-1.0, 0.0, 1.0, 0.0], 1, 2, true, true);
        assert!((seq[4] - h1).abs() < 1e-6 && (seq[0] - h2).abs() < 1e-6 && (h[0] - h2).abs() < 1e-6);
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
}
