//! pyannote's speaker segmentation model, segmentation-3.0 (PyanNet; MIT,
//! © 2023 CNRS, Hervé Bredin), read from its ONNX export and run here:
//! the waveform normalised, SincNet (80 band-pass filters of 251 samples
//! every 10 samples, then two 5-wide convolutions of 60 channels, each
//! stage max-pooled by 3, instance-normalised and leaky-ReLU'd), four
//! bidirectional LSTM layers of 128, two linear layers of 128 and a
//! 7-way softmax. For every frame (one every 270 samples, seeing 991) it
//! gives the probability of each "powerset" class: nobody; speaker 1, 2
//! or 3 alone; or two at once (1+2, 1+3, 2+3). Its speakers are local to
//! the chunk it is given (it was trained on 10 s), so here it only says
//! where two people talk at once; who they are comes from the clustering.

use std::collections::HashMap;

use anyhow::{Context, bail};

use crate::checkpoint::Tensor;
use crate::gemm::{MatRef, gemm};
use crate::lstm::Lstm;
use crate::onnx::{Graph, read_graph};
use crate::parallel::in_parallel;

/// The samples in one chunk the model is run on (10 s, as trained).
pub const CHUNK_SAMPLES: usize = 160_000;
/// Samples between frames, and the samples one frame sees.
pub const FRAME_STEP: usize = 270;
pub const FRAME_SPAN: usize = 991;
/// Classes a frame is scored on; 4, 5 and 6 are two speakers at once.
pub const CLASSES: usize = 7;
const OVERLAP_CLASSES: std::ops::Range<usize> = 4..7;

const SINC_FILTERS: usize = 80;
const SINC_WIDTH: usize = 251;
const SINC_STRIDE: usize = 10;
const CONV_WIDTH: usize = 5;
const CHANNELS: usize = 60;
const POOL: usize = 3;
const HIDDEN: usize = 128;
const LSTM_LAYERS: usize = 4;
const LINEAR: usize = 128;
const LEAK: f32 = 0.01;
const NORM_EPSILON: f32 = 1e-5;
/// Chunks whose LSTM steps are one matrix product.
const BATCH: usize = 8;

/// Looks up an initializer by name, checking its shape.
type Take<'a> = &'a dyn Fn(&str, &[usize]) -> anyhow::Result<Vec<f32>>;

/// Per-channel scale and shift after instance normalisation.
struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// A 1-D convolution, its weight laid out `(CONV_WIDTH · inputs) × outputs`
/// so that a run of input frames (`frames × inputs`, row-major) is one row.
struct Conv {
    inputs: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// `x · weight + bias` (`weight` is `inputs × outputs`).
struct Linear {
    inputs: usize,
    outputs: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

pub struct Segmenter {
    wav_norm: Norm,
    /// `SINC_FILTERS × SINC_WIDTH`.
    sinc: Vec<f32>,
    norms: [Norm; 3],
    convs: [Conv; 2],
    /// Forward and backward layer of each level.
    lstm: Vec<[Lstm; 2]>,
    linear: [Linear; 3],
}

/// Frames the model gives for `samples` samples.
pub fn frames_of(samples: usize) -> usize {
    let first = frames_of_sinc(samples) / POOL;
    let second = first.saturating_sub(CONV_WIDTH - 1) / POOL;
    second.saturating_sub(CONV_WIDTH - 1) / POOL
}

/// The probability that frame `frame` of a chunk's output (`CLASSES` a
/// frame) holds two voices at once.
pub fn overlap_probability(frame: &[f32]) -> f32 {
    frame[OVERLAP_CLASSES].iter().sum()
}

impl Segmenter {
    /// Builds the model from the bytes of segmentation-3.0's ONNX export,
    /// checking every weight's shape.
    pub fn from_onnx(bytes: &[u8]) -> anyhow::Result<Self> {
        let graph = read_graph(bytes)?;
        let take = |name: &str, shape: &[usize]| -> anyhow::Result<Vec<f32>> {
            match graph.initializers.get(name) {
                Some(t) if t.shape == shape => Ok(t.data.clone()),
                Some(t) => bail!("segmentation weight `{name}`: expected shape {shape:?}, found {:?}", t.shape),
                None => bail!("segmentation weight `{name}` is missing"),
            }
        };
        let norm = |name: &str, channels: usize| -> anyhow::Result<Norm> {
            Ok(Norm {
                weight: take(&format!("{name}.weight"), &[channels])?,
                bias: take(&format!("{name}.bias"), &[channels])?,
            })
        };
        let conv = |name: &str, inputs: usize| -> anyhow::Result<Conv> {
            let w = take(&format!("{name}.weight"), &[CHANNELS, inputs, CONV_WIDTH])?;
            let mut weight = vec![0.0; CONV_WIDTH * inputs * CHANNELS];
            for o in 0..CHANNELS {
                for c in 0..inputs {
                    for k in 0..CONV_WIDTH {
                        weight[(k * inputs + c) * CHANNELS + o] = w[(o * inputs + c) * CONV_WIDTH + k];
                    }
                }
            }
            Ok(Conv { inputs, weight, bias: take(&format!("{name}.bias"), &[CHANNELS])? })
        };
        let lstm = lstm_layers(&graph, &take)?;
        let linear = linear_layers(&graph, &take)?;
        Ok(Segmenter {
            wav_norm: norm("sincnet.wav_norm1d", 1)?,
            sinc: sinc_filters(&graph.initializers)?,
            norms: [
                norm("sincnet.norm1d.0", SINC_FILTERS)?,
                norm("sincnet.norm1d.1", CHANNELS)?,
                norm("sincnet.norm1d.2", CHANNELS)?,
            ],
            convs: [conv("sincnet.conv1d.1", SINC_FILTERS)?, conv("sincnet.conv1d.2", CHANNELS)?],
            lstm,
            linear,
        })
    }

    /// Reads the model from an ONNX file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("read segmentation model {}", path.display()))?;
        Self::from_onnx(&bytes).with_context(|| format!("segmentation model {}", path.display()))
    }

    /// Class probabilities for `chunks` (each `CHUNK_SAMPLES` long, one
    /// after another), on up to `threads` threads: `chunks × frames ×
    /// CLASSES`, with `frames_of(CHUNK_SAMPLES)` frames a chunk.
    pub fn run(&self, chunks: &[f32], threads: usize) -> Vec<f32> {
        assert_eq!(chunks.len() % CHUNK_SAMPLES, 0, "chunks must be {CHUNK_SAMPLES} samples each");
        let batches: Vec<&[f32]> = chunks.chunks(BATCH * CHUNK_SAMPLES).collect();
        in_parallel(batches.len(), threads, |i| self.run_batch(batches[i], CHUNK_SAMPLES)).concat()
    }

    /// Class probabilities for one stretch of audio of any length:
    /// `frames_of(samples.len()) × CLASSES`.
    pub fn probabilities(&self, samples: &[f32]) -> Vec<f32> {
        self.run_batch(samples, samples.len())
    }

    /// Class probabilities for `batch` chunks of `len` samples each.
    fn run_batch(&self, chunks: &[f32], len: usize) -> Vec<f32> {
        let batch = chunks.len() / len;
        let frames = frames_of(len);
        let mut input: Vec<f32> = chunks.chunks_exact(len).flat_map(|chunk| self.features(chunk)).collect();
        for [forward, backward] in &self.lstm {
            let (ahead, _) = forward.run(&input, batch, frames, true, false);
            let (behind, _) = backward.run(&input, batch, frames, true, true);
            input = ahead
                .chunks_exact(HIDDEN)
                .zip(behind.chunks_exact(HIDDEN))
                .flat_map(|(a, b)| [a, b].concat())
                .collect();
        }
        let rows = batch * frames;
        for (i, layer) in self.linear.iter().enumerate() {
            input = layer.apply(&input, rows);
            if i + 1 < self.linear.len() {
                leaky_relu(&mut input);
            }
        }
        input.chunks_exact_mut(CLASSES).for_each(softmax);
        input
    }

    /// SincNet's output for one chunk: `frames × CHANNELS`.
    fn features(&self, chunk: &[f32]) -> Vec<f32> {
        let mut wav = chunk.to_vec();
        instance_norm(&mut wav, 1, &self.wav_norm);
        let steps = frames_of_sinc(wav.len());
        let mut x = vec![0.0; steps * SINC_FILTERS];
        let windows = MatRef { data: &wav, rows: steps, cols: SINC_WIDTH, row_stride: SINC_STRIDE, col_stride: 1 };
        gemm(windows, MatRef::transposed(&self.sinc, SINC_FILTERS, SINC_WIDTH), 0.0, &mut x);
        x.iter_mut().for_each(|v| *v = v.abs());
        let mut x = max_pool(&x, SINC_FILTERS);
        instance_norm(&mut x, SINC_FILTERS, &self.norms[0]);
        leaky_relu(&mut x);
        for (conv, norm) in self.convs.iter().zip(&self.norms[1..]) {
            x = max_pool(&conv.apply(&x), CHANNELS);
            instance_norm(&mut x, CHANNELS, norm);
            leaky_relu(&mut x);
        }
        x
    }
}

impl Conv {
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        let frames = (x.len() / self.inputs).saturating_sub(CONV_WIDTH - 1);
        let mut out: Vec<f32> = self.bias.iter().copied().cycle().take(frames * CHANNELS).collect();
        let runs =
            MatRef { data: x, rows: frames, cols: CONV_WIDTH * self.inputs, row_stride: self.inputs, col_stride: 1 };
        gemm(runs, MatRef::rows(&self.weight, CONV_WIDTH * self.inputs, CHANNELS), 1.0, &mut out);
        out
    }
}

impl Linear {
    fn apply(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut out: Vec<f32> = self.bias.iter().copied().cycle().take(rows * self.outputs).collect();
        gemm(MatRef::rows(x, rows, self.inputs), MatRef::rows(&self.weight, self.inputs, self.outputs), 1.0, &mut out);
        out
    }
}

/// Steps of the sinc filters over `samples` (none under one filter's width).
fn frames_of_sinc(samples: usize) -> usize {
    if samples < SINC_WIDTH { 0 } else { (samples - SINC_WIDTH) / SINC_STRIDE + 1 }
}

/// The sinc filters: the one `SINC_FILTERS × 1 × SINC_WIDTH` initializer
/// (the export computes them from the learned band edges and stores the
/// result).
fn sinc_filters(initializers: &HashMap<String, Tensor>) -> anyhow::Result<Vec<f32>> {
    let shape = [SINC_FILTERS, 1, SINC_WIDTH];
    let mut found = initializers.values().filter(|t| t.shape == shape);
    match (found.next(), found.next()) {
        (Some(t), None) => Ok(t.data.clone()),
        _ => bail!("segmentation model: expected one {shape:?} sinc filter bank"),
    }
}

/// The four bidirectional LSTM levels, from the graph's LSTM nodes in order
/// (inputs: X, W `[2, 4·128, in]`, R `[2, 4·128, 128]`, B `[2, 8·128]`), their
/// gates moved from ONNX's order (i, o, f, c) to PyTorch's (i, f, g, o).
fn lstm_layers(graph: &Graph, take: Take<'_>) -> anyhow::Result<Vec<[Lstm; 2]>> {
    let nodes: Vec<_> = graph.nodes.iter().filter(|n| n.op_type == "LSTM").collect();
    if nodes.len() != LSTM_LAYERS {
        bail!("segmentation model: expected {LSTM_LAYERS} LSTM layers, found {}", nodes.len());
    }
    let gates = 4 * HIDDEN;
    let reorder = |rows: &[f32], width: usize| -> Vec<f32> {
        // ONNX blocks i, o, f, c → PyTorch blocks i, f, g (= c), o.
        [0, 2, 3, 1]
            .iter()
            .flat_map(|&block| rows[block * HIDDEN * width..][..HIDDEN * width].iter().copied())
            .collect()
    };
    let mut levels = Vec::new();
    for (l, node) in nodes.iter().enumerate() {
        let inputs = if l == 0 { CHANNELS } else { 2 * HIDDEN };
        let name = |i: usize| node.inputs.get(i).map(String::as_str).unwrap_or_default();
        let w = take(name(1), &[2, gates, inputs])?;
        let r = take(name(2), &[2, gates, HIDDEN])?;
        let b = take(name(3), &[2, 2 * gates])?;
        let direction = |d: usize| {
            let bias: Vec<f32> = (0..gates).map(|j| b[d * 2 * gates + j] + b[d * 2 * gates + gates + j]).collect();
            Lstm {
                inputs,
                hidden: HIDDEN,
                w_ih: reorder(&w[d * gates * inputs..][..gates * inputs], inputs),
                w_hh: reorder(&r[d * gates * HIDDEN..][..gates * HIDDEN], HIDDEN),
                bias: reorder(&bias, 1),
            }
        };
        levels.push([direction(0), direction(1)]);
    }
    Ok(levels)
}

/// The two hidden linear layers and the classifier, from the graph's
/// MatMul nodes in order, each with the bias the Add after it adds.
fn linear_layers(graph: &Graph, take: Take<'_>) -> anyhow::Result<[Linear; 3]> {
    let sizes = [(2 * HIDDEN, LINEAR), (LINEAR, LINEAR), (LINEAR, CLASSES)];
    let matmuls: Vec<_> = graph.nodes.iter().filter(|n| n.op_type == "MatMul").collect();
    if matmuls.len() != sizes.len() {
        bail!("segmentation model: expected {} linear layers, found {}", sizes.len(), matmuls.len());
    }
    let layer = |i: usize| -> anyhow::Result<Linear> {
        let (inputs, outputs) = sizes[i];
        let node = matmuls[i];
        let out = node.outputs.first().context("a MatMul without output")?;
        let add = graph.nodes.iter().find(|n| n.op_type == "Add" && n.inputs.contains(out));
        let bias =
            add.and_then(|a| a.inputs.iter().find(|name| *name != out)).context("a linear layer without bias")?;
        Ok(Linear {
            inputs,
            outputs,
            weight: take(node.inputs.get(1).map(String::as_str).unwrap_or_default(), &[inputs, outputs])?,
            bias: take(bias, &[outputs])?,
        })
    };
    Ok([layer(0)?, layer(1)?, layer(2)?])
}

/// Normalises each channel of `frames × channels` (row-major) over time,
/// then scales and shifts it.
fn instance_norm(x: &mut [f32], channels: usize, norm: &Norm) {
    let frames = x.len() / channels;
    if frames == 0 {
        return;
    }
    for c in 0..channels {
        let column = || x.iter().skip(c).step_by(channels);
        let mean = column().map(|&v| f64::from(v)).sum::<f64>() / frames as f64;
        let var = column().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / frames as f64;
        let scale = norm.weight[c] / (var as f32 + NORM_EPSILON).sqrt();
        let (mean, shift) = (mean as f32, norm.bias[c]);
        x.iter_mut().skip(c).step_by(channels).for_each(|v| *v = (*v - mean) * scale + shift);
    }
}

/// Max over each run of `POOL` frames of `frames × channels`.
fn max_pool(x: &[f32], channels: usize) -> Vec<f32> {
    let frames = x.len() / channels / POOL;
    let mut out = Vec::with_capacity(frames * channels);
    for run in x.chunks_exact(POOL * channels).take(frames) {
        out.extend((0..channels).map(|c| (0..POOL).map(|p| run[p * channels + c]).fold(f32::MIN, f32::max)));
    }
    out
}

fn leaky_relu(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = if *v < 0.0 { *v * LEAK } else { *v });
}

fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::MIN, f32::max);
    row.iter_mut().for_each(|v| *v = (*v - max).exp());
    let sum: f32 = row.iter().sum();
    row.iter_mut().for_each(|v| *v /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ten_second_chunk_has_589_frames() {
        assert_eq!(frames_of(CHUNK_SAMPLES), 589);
        assert_eq!(frames_of(48_000), 175);
        assert_eq!(frames_of(0), 0);
    }

    #[test]
    fn pooling_and_norm_by_channel() {
        let x = [1.0, 10.0, 3.0, 20.0, 2.0, 30.0, 7.0, 0.0];
        assert_eq!(max_pool(&x, 2), [3.0, 30.0]);
        let mut y = [1.0, 5.0, 3.0, 5.0];
        instance_norm(&mut y, 2, &Norm { weight: vec![2.0, 1.0], bias: vec![0.5, -1.0] });
        assert!((y[0] - (0.5 - 2.0 / (1.0f32 + NORM_EPSILON).sqrt())).abs() < 1e-5);
        assert!((y[2] - (0.5 + 2.0 / (1.0f32 + NORM_EPSILON).sqrt())).abs() < 1e-5);
        assert_eq!((y[1], y[3]), (-1.0, -1.0), "a constant channel becomes its shift");
    }
}
