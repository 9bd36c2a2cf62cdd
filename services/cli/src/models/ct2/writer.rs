//! Writing the ggml file: header, tables and tensor records.
//!
//! Layout, as written by whisper.cpp's `models/convert-pt-to-ggml.py` (all
//! integers little-endian i32):
//!
//! 1. magic `0x67676d6c`;
//! 2. hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head,
//!    n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer,
//!    n_mels, ftype (1 = f16; 2007 = q8_0: ggml's `MOSTLY_Q8_0` plus
//!    quantization version 2 × 1000);
//! 3. mel filters: n_mel, n_fft (= 201 frequency bins), then n_mel * n_fft f32;
//! 4. tokens: count, then for each token its byte length and bytes;
//! 5. tensors: n_dims, name length, ggml type (0 f32, 1 f16, 2 q4_0, 7 q5_1, 8 q8_0,
//!    20 iq4_nl), dims
//!    in reverse (ggml) order, name, raw data.

use std::io::{Read, Seek, SeekFrom, Write};

use anyhow::{Result, anyhow};
use half::{bf16, f16};

use super::Hparams;
use super::mapping::{Encoding, PlannedTensor};
use super::reader::{DType, Var};

pub(super) const GGML_MAGIC: u32 = 0x6767_6d6c;
/// Elements converted per read/write chunk.
const CHUNK_ELEMS: usize = 1 << 20;

fn put_i32(w: &mut impl Write, v: usize) -> Result<()> {
    let v = i32::try_from(v).map_err(|_| anyhow!("{v} does not fit an i32"))?;
    w.write_all(&v.to_le_bytes())?;
    Ok(())
}

/// Sections 1 to 4: magic, hparams, mel filters (`[h.n_mels][n_fft]`, row
/// major) and tokens.
pub(super) fn write_header(w: &mut impl Write, h: &Hparams, filters: &[f32], tokens: &[Vec<u8>]) -> Result<()> {
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
    let n_mels = h.n_mels as usize;
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

/// One tensor record, its data streamed from `r` (model.bin) in chunks.
pub(super) fn write_tensor<R: Read + Seek>(w: &mut impl Write, r: &mut R, var: &Var, t: &PlannedTensor) -> Result<()> {
    let ggml_dims: Vec<usize> = t.dims.iter().rev().copied().collect();
    write_tensor_head(w, t.name.as_bytes(), t.encoding.ggml_type(), &ggml_dims)?;
    let part_bytes = var.nbytes / t.parts;
    r.seek(SeekFrom::Start(var.offset + (t.part * part_bytes) as u64))?;
    copy_converted(r, w, part_bytes / var.dtype.size(), var.dtype, t.encoding)
}

/// A tensor record's head: dimension count, name length, ggml type,
/// dimensions in ggml order, name.
pub(super) fn write_tensor_head(w: &mut impl Write, name: &[u8], ggml_type: usize, ggml_dims: &[usize]) -> Result<()> {
    put_i32(w, ggml_dims.len())?;
    put_i32(w, name.len())?;
    put_i32(w, ggml_type)?;
    for &d in ggml_dims {
        put_i32(w, d)?;
    }
    w.write_all(name)?;
    Ok(())
}

/// `elements` values of type `src` read from `r`, written to `w` in
/// `encoding`, a chunk at a time.
pub(super) fn copy_converted(
    r: &mut impl Read,
    w: &mut impl Write,
    elements: usize,
    src: DType,
    encoding: Encoding,
) -> Result<()> {
    let (mut left, mut inbuf, mut outbuf) = (elements, Vec::new(), Vec::new());
    while left > 0 {
        let n = left.min(CHUNK_ELEMS);
        inbuf.resize(n * src.size(), 0);
        r.read_exact(&mut inbuf)?;
        outbuf.clear();
        convert(&inbuf, src, encoding, &mut outbuf);
        w.write_all(&outbuf)?;
        left -= n;
    }
    Ok(())
}

/// Convert little-endian float data of type `src` to `encoding`'s bytes.
/// Q8_0 blocks never straddle rows: every quantized row holds a multiple
/// of 32 values, and chunks are whole multiples of 32.
pub(super) fn convert(input: &[u8], src: DType, encoding: Encoding, out: &mut Vec<u8>) {
    if src == DType::F16 && encoding == Encoding::F16 {
        out.extend_from_slice(input);
        return;
    }
    let values = input.chunks_exact(src.size()).map(|c| match src {
        DType::F16 => f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32(),
        DType::Bf16 => bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32(),
        _ => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
    });
    match encoding {
        Encoding::F16 => out.extend(values.flat_map(|x| f16::from_f32(x).to_le_bytes())),
        Encoding::F32 => out.extend(values.flat_map(f32::to_le_bytes)),
        Encoding::Q8_0 | Encoding::Q5_1 | Encoding::Q4_0 | Encoding::Iq4Nl => {
            let values: Vec<f32> = values.collect();
            let quantize = match encoding {
                Encoding::Q8_0 => quantize_q8_0_block,
                Encoding::Q5_1 => quantize_q5_1_block,
                Encoding::Q4_0 => quantize_q4_0_block,
                _ => quantize_iq4_nl_block,
            };
            for block in values.chunks(QUANT_BLOCK) {
                quantize(block, out);
            }
        }
    }
}

/// Values per quantized block (`Q8_0`, `Q5_1`, `Q4_0`, `IQ4_NL`).
pub(super) const QUANT_BLOCK: usize = 32;

/// ggml's reference `quantize_row_q5_1`: scale = (max - min) / 31, each
/// value as a 5-bit step above the minimum; the low 4 bits of values j and
/// j + 16 share byte j, the fifth bits go to a little-endian 32-bit mask.
fn quantize_q5_1_block(block: &[f32], out: &mut Vec<u8>) {
    let min = block.iter().copied().fold(f32::INFINITY, f32::min);
    let max = block.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let scale = (max - min) / 31.0;
    let inverse = if scale == 0.0 { 0.0 } else { 1.0 / scale };
    let step = |x: f32| ((x - min) * inverse + 0.5) as u8;
    let (mut low, mut high) = ([0u8; 16], 0u32);
    for j in 0..16 {
        let (a, b) = (step(block[j]), step(block[j + 16]));
        low[j] = (a & 0x0f) | ((b & 0x0f) << 4);
        high |= u32::from((a & 0x10) >> 4) << j;
        high |= u32::from((b & 0x10) >> 4) << (j + 16);
    }
    out.extend_from_slice(&f16::from_f32(scale).to_le_bytes());
    out.extend_from_slice(&f16::from_f32(min).to_le_bytes());
    out.extend_from_slice(&high.to_le_bytes());
    out.extend_from_slice(&low);
}

/// ggml's reference `quantize_row_q4_0`: scale = the value of largest
/// magnitude / -8, each value as a step of 0..=15 around 8; values j and
/// j + 16 share byte j (low and high nibble).
fn quantize_q4_0_block(block: &[f32], out: &mut Vec<u8>) {
    let scale = largest_magnitude(block) / -8.0;
    let inverse = if scale == 0.0 { 0.0 } else { 1.0 / scale };
    pack_nibbles(block, scale, |x| ((x * inverse + 8.5) as u8).min(15), out);
}

/// The value of largest magnitude, with its sign.
fn largest_magnitude(block: &[f32]) -> f32 {
    block.iter().copied().fold(0.0f32, |m, x| if x.abs() > m.abs() { x } else { m })
}

/// A 4-bit block as `Q4_0` and `IQ4_NL` store it: the f16 scale, then
/// byte j holding value j's 4 bits low and value j + 16's high.
fn pack_nibbles(block: &[f32], scale: f32, nibble: impl Fn(f32) -> u8, out: &mut Vec<u8>) {
    out.extend_from_slice(&f16::from_f32(scale).to_le_bytes());
    out.extend((0..16).map(|j| nibble(block[j]) | (nibble(block[j + 16]) << 4)));
}

/// The 16 levels of ggml's `IQ4_NL` (`kvalues_iq4nl`), denser near zero.
const IQ4_NL_LEVELS: [i8; 16] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/// The level nearest `x` (ggml's `best_index_int8`).
fn nearest_iq4_nl_level(x: f32) -> u8 {
    let levels = IQ4_NL_LEVELS.map(f32::from);
    let above = levels.partition_point(|&l| l <= x).clamp(1, 15);
    if x - levels[above - 1] < levels[above] - x { above as u8 - 1 } else { above as u8 }
}

/// ggml's `quantize_iq4_nl` without an importance matrix: each value
/// weighted by its square, the least-squares scale for the best of 16
/// mappings of the value of largest magnitude: to 127, and to -127 ± 7.
fn quantize_iq4_nl_block(block: &[f32], out: &mut Vec<u8>) {
    let extreme = largest_magnitude(block);
    let fit = |inverse: f32| {
        block.iter().fold((0.0f32, 0.0f32), |(qx, q2), &x| {
            let q = f32::from(IQ4_NL_LEVELS[nearest_iq4_nl_level(inverse * x) as usize]);
            (qx + x * x * q * x, q2 + x * x * q * q)
        })
    };
    let mut scale = 0.0;
    if extreme.abs() >= 1e-15 {
        let (qx, q2) = fit(127.0 / extreme);
        scale = qx / q2;
        let mut best = scale * qx;
        for step in -7..=7 {
            let (qx, q2) = fit((step as f32 - 127.0) / extreme);
            if q2 > 0.0 && qx * qx > best * q2 {
                scale = qx / q2;
                best = scale * qx;
            }
        }
    }
    let inverse = if scale == 0.0 { 0.0 } else { 1.0 / scale };
    pack_nibbles(block, scale, |x| nearest_iq4_nl_level(inverse * x), out);
}

/// ggml's reference `quantize_row_q8_0`: scale = max |x| / 127, then each
/// value rounded to a signed byte.
fn quantize_q8_0_block(block: &[f32], out: &mut Vec<u8>) {
    let amax = block.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = amax / 127.0;
    let inverse = if scale == 0.0 { 0.0 } else { 1.0 / scale };
    out.extend_from_slice(&f16::from_f32(scale).to_le_bytes());
    out.extend(block.iter().map(|x| ((x * inverse).round() as i8).to_le_bytes()[0]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_floats() {
        let mut out = Vec::new();
        convert(&1.5f32.to_le_bytes(), DType::F32, Encoding::F16, &mut out);
        assert_eq!(out, f16::from_f32(1.5).to_le_bytes());
        out.clear();
        let h = f16::from_f32(-2.25).to_le_bytes();
        convert(&h, DType::F16, Encoding::F32, &mut out);
        assert_eq!(out, (-2.25f32).to_le_bytes());
        out.clear();
        let b = bf16::from_f32(3.0).to_le_bytes();
        convert(&b, DType::Bf16, Encoding::F16, &mut out);
        assert_eq!(out, f16::from_f32(3.0).to_le_bytes());
    }

    /// `values` (f32) converted to `encoding`.
    fn quantized(values: &[f32], encoding: Encoding) -> Vec<u8> {
        let input: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut out = Vec::new();
        convert(&input, DType::F32, encoding, &mut out);
        out
    }

    fn half_at(bytes: &[u8], i: usize) -> f32 {
        f16::from_bits(u16::from_le_bytes([bytes[i], bytes[i + 1]])).to_f32()
    }

    /// Value j's 4 bits from 16 bytes packed as `pack_nibbles` does.
    fn nibble(packed: &[u8], j: usize) -> u8 {
        if j < 16 { packed[j] & 0x0f } else { packed[j - 16] >> 4 }
    }

    #[test]
    fn quantizes_q8_0_blocks_within_half_a_step() {
        let values: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) / 7.0).collect();
        let out = quantized(&values, Encoding::Q8_0);
        assert_eq!(out.len(), 2 * 34, "two blocks of an f16 scale and 32 bytes");
        for (block, originals) in out.chunks(34).zip(values.chunks(32)) {
            let scale = half_at(block, 0);
            for (q, x) in block[2..].iter().zip(originals) {
                let restored = f32::from(*q as i8) * scale;
                assert!((restored - x).abs() <= scale * 0.51, "{x} came back as {restored}");
            }
        }
    }

    #[test]
    fn quantizes_q4_0_blocks_within_half_a_step() {
        let values: Vec<f32> = (0..64).map(|i| ((i * 37 % 64) as f32 - 40.0) / 7.0).collect();
        let out = quantized(&values, Encoding::Q4_0);
        assert_eq!(out.len(), 2 * 18, "two blocks of an f16 scale and 16 bytes");
        for (block, originals) in out.chunks(18).zip(values.chunks(32)) {
            let scale = half_at(block, 0);
            for (j, x) in originals.iter().enumerate() {
                let restored = (f32::from(nibble(&block[2..], j)) - 8.0) * scale;
                assert!((restored - x).abs() <= scale.abs() * 0.51 + 1e-3, "{x} came back as {restored}");
            }
        }
    }

    #[test]
    fn quantizes_iq4_nl_blocks_to_the_nearest_level() {
        let values: Vec<f32> = (0..64).map(|i| ((i * 37 % 64) as f32 - 40.0) / 7.0).collect();
        let out = quantized(&values, Encoding::Iq4Nl);
        assert_eq!(out.len(), 2 * 18, "two blocks of an f16 scale and 16 bytes");
        for (block, originals) in out.chunks(18).zip(values.chunks(32)) {
            let scale = half_at(block, 0);
            let level = |i: u8| f32::from(IQ4_NL_LEVELS[i as usize]) * scale;
            for (j, x) in originals.iter().enumerate() {
                let restored = level(nibble(&block[2..], j));
                let nearest = (0..16).map(level).map(|l| (l - x).abs()).fold(f32::INFINITY, f32::min);
                assert!((restored - x).abs() <= nearest + 1e-2, "{x} came back as {restored}, {nearest} was possible");
            }
        }
    }

    #[test]
    fn quantizes_q5_1_blocks_within_half_a_step() {
        let values: Vec<f32> = (0..64).map(|i| ((i * 37 % 64) as f32 - 20.0) / 7.0).collect();
        let out = quantized(&values, Encoding::Q5_1);
        assert_eq!(out.len(), 2 * 24, "two blocks of f16 scale and minimum, a 32-bit mask and 16 bytes");
        for (block, originals) in out.chunks(24).zip(values.chunks(32)) {
            let (scale, min) = (half_at(block, 0), half_at(block, 2));
            let high = u32::from_le_bytes([block[4], block[5], block[6], block[7]]);
            for (j, x) in originals.iter().enumerate() {
                let q = u32::from(nibble(&block[8..], j)) | ((high >> j) & 1) << 4;
                let restored = min + q as f32 * scale;
                assert!((restored - x).abs() <= scale * 0.51 + 1e-3, "{x} came back as {restored}");
            }
        }
    }
}
