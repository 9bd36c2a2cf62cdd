//! Writing the ggml file: header, tables and tensor records.
//!
//! Layout, as written by whisper.cpp's `models/convert-pt-to-ggml.py` (all
//! integers little-endian i32):
//!
//! 1. magic `0x67676d6c`;
//! 2. hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head,
//!    n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer,
//!    n_mels, ftype (1 = f16);
//! 3. mel filters: n_mel, n_fft (= 201 frequency bins), then n_mel * n_fft f32;
//! 4. tokens: count, then for each token its byte length and bytes;
//! 5. tensors: n_dims, name length, ftype (0 f32, 1 f16), dims in reverse
//!    (ggml) order, name, raw data.

use std::io::{Read, Seek, SeekFrom, Write};

use anyhow::{Result, anyhow};
use half::{bf16, f16};

use super::Hparams;
use super::mapping::PlannedTensor;
use super::reader::{DType, Var};

const GGML_MAGIC: u32 = 0x6767_6d6c;
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
        out.extend(values.flat_map(|x| f16::from_f32(x).to_le_bytes()));
    } else {
        out.extend(values.flat_map(f32::to_le_bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_floats() {
        let mut out = Vec::new();
        convert(&1.5f32.to_le_bytes(), DType::F32, true, &mut out);
        assert_eq!(out, f16::from_f32(1.5).to_le_bytes());
        out.clear();
        let h = f16::from_f32(-2.25).to_le_bytes();
        convert(&h, DType::F16, false, &mut out);
        assert_eq!(out, (-2.25f32).to_le_bytes());
        out.clear();
        let b = bf16::from_f32(3.0).to_le_bytes();
        convert(&b, DType::Bf16, true, &mut out);
        assert_eq!(out, f16::from_f32(3.0).to_le_bytes());
    }
}
