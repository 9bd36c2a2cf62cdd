//! Quantizing a ggml whisper model already in whisper.cpp's format (an
//! official f16 download, `steno models fetch NAME-q8_0`): its 2-D f16
//! weight matrices re-encoded as `import-ct2 --quantize` encodes them, the
//! rest copied. The layout is the one [`super::writer`] describes.

use std::{
    fs::File,
    io::{BufReader, Read, Write},
    path::Path,
};

use anyhow::{Context, Result, bail, ensure};

use super::{
    mapping::Encoding,
    reader::DType,
    writer::{GGML_MAGIC, QUANT_BLOCK, copy_converted, write_tensor_head},
};

/// Most dimensions a tensor record may have, and most bytes a name or token.
const MAX_DIMS: i32 = 4;
const MAX_NAME: i32 = 1 << 16;

/// Writes `out`: the f16 ggml model `src` with its weight matrices in
/// `encoding`. Written under a temporary name and renamed once complete.
pub fn quantize_ggml(src: &Path, out: &Path, encoding: Encoding) -> Result<()> {
    let file = File::open(src).with_context(|| format!("opening {}", src.display()))?;
    super::write_atomically(out, |w| copy_quantized(&mut BufReader::with_capacity(1 << 20, file), w, encoding))
        .with_context(|| format!("quantizing {}", src.display()))?;
    Ok(())
}

/// Reads a ggml model held in memory as [`quantize_ggml`] does, writing
/// nothing: a malformed file is an error, never a panic (fuzzed).
pub fn check_ggml(bytes: &[u8]) -> Result<()> {
    copy_quantized(&mut &bytes[..], &mut std::io::sink(), Encoding::Q8_0)
}

fn copy_quantized(r: &mut impl Read, w: &mut impl Write, encoding: Encoding) -> Result<()> {
    ensure!(read_u32(r)? == GGML_MAGIC, "not a ggml whisper model (no ggml magic)");
    w.write_all(&GGML_MAGIC.to_le_bytes())?;
    // Ten dimensions, then the file type.
    for _ in 0..10 {
        w.write_all(&read_i32(r)?.to_le_bytes())?;
    }
    let ftype = read_i32(r)?;
    ensure!(ftype == 1, "only f16 models can be quantized; this one has file type {ftype}");
    w.write_all(&encoding.file_type().to_le_bytes())?;
    // Mel filters: n_mel × n_fft f32.
    let (n_mel, n_fft) = (read_count(r, i32::MAX)?, read_count(r, i32::MAX)?);
    w.write_all(&(n_mel as i32).to_le_bytes())?;
    w.write_all(&(n_fft as i32).to_le_bytes())?;
    copy_bytes(r, w, n_mel as u64 * n_fft as u64 * 4)?;
    // Tokens: a count, then each one's length and bytes.
    let tokens = read_count(r, i32::MAX)?;
    w.write_all(&(tokens as i32).to_le_bytes())?;
    for _ in 0..tokens {
        let len = read_count(r, MAX_NAME)?;
        w.write_all(&(len as i32).to_le_bytes())?;
        copy_bytes(r, w, len as u64)?;
    }
    while let Some(n_dims) = read_i32_or_end(r)? {
        ensure!((1..=MAX_DIMS).contains(&n_dims), "a tensor with {n_dims} dimensions");
        let name_len = read_count(r, MAX_NAME)?;
        let ggml_type = read_i32(r)?;
        let dims = (0..n_dims).map(|_| read_count(r, i32::MAX)).collect::<Result<Vec<_>>>()?;
        let mut name = vec![0; name_len];
        r.read_exact(&mut name)?;
        let elements = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64)).context("tensor too large")?;
        let (source, kept) = match ggml_type {
            0 => (DType::F32, Encoding::F32),
            1 => (DType::F16, Encoding::F16),
            other => {
                bail!("tensor {} has ggml type {other}; only f32 and f16 are read", String::from_utf8_lossy(&name))
            }
        };
        // As whisper.cpp's quantizer and `import-ct2 --quantize`: the
        // matrices; vectors, convolutions and the f32 tensors stay.
        let quantize = source == DType::F16 && n_dims == 2 && dims[0] % QUANT_BLOCK == 0;
        let written = if quantize { encoding } else { kept };
        write_tensor_head(w, &name, written.ggml_type(), &dims)?;
        copy_converted(r, w, elements as usize, source, written)?;
    }
    Ok(())
}

fn read_u32(r: &mut impl Read) -> Result<u32> {
    let mut b = [0; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_i32(r: &mut impl Read) -> Result<i32> {
    Ok(read_u32(r)? as i32)
}

/// A count or size, refused when negative or over `max`.
fn read_count(r: &mut impl Read, max: i32) -> Result<usize> {
    let v = read_i32(r)?;
    ensure!((0..=max).contains(&v), "a count of {v} in the header");
    Ok(v as usize)
}

/// The next i32, or `None` at the end of the file (a part of one is an error).
fn read_i32_or_end(r: &mut impl Read) -> Result<Option<i32>> {
    let mut b = [0; 4];
    if r.read(&mut b[..1])? == 0 {
        return Ok(None);
    }
    r.read_exact(&mut b[1..])?;
    Ok(Some(i32::from_le_bytes(b)))
}

fn copy_bytes(r: &mut impl Read, w: &mut impl Write, len: u64) -> Result<()> {
    let copied = std::io::copy(&mut r.take(len), w)?;
    ensure!(copied == len, "the file ends early");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::writer::convert;
    use super::*;

    /// A ggml file: header, then `(name, ggml type, ggml dims, data)`.
    fn ggml(ftype: i32, tensors: &[(&str, i32, &[i32], Vec<u8>)]) -> Vec<u8> {
        let mut f = GGML_MAGIC.to_le_bytes().to_vec();
        let put = |v: i32, f: &mut Vec<u8>| f.extend(v.to_le_bytes());
        for v in [51_864, 1500, 384, 6, 4, 448, 384, 6, 4, 80] {
            put(v, &mut f);
        }
        put(ftype, &mut f);
        put(2, &mut f); // mel filters: 2 × 3
        put(3, &mut f);
        f.extend([0.5_f32; 6].iter().flat_map(|x| x.to_le_bytes()));
        put(2, &mut f); // tokens
        for token in [&b"a"[..], b"bc"] {
            put(token.len() as i32, &mut f);
            f.extend(token);
        }
        for (name, ggml_type, dims, data) in tensors {
            put(dims.len() as i32, &mut f);
            put(name.len() as i32, &mut f);
            put(*ggml_type, &mut f);
            dims.iter().for_each(|&d| put(d, &mut f));
            f.extend(name.as_bytes());
            f.extend(data);
        }
        f
    }

    fn f16s(n: usize) -> Vec<u8> {
        (0..n).flat_map(|i| half::f16::from_f32(i as f32 / 7.0 - 3.0).to_le_bytes()).collect()
    }

    fn quantized(input: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        copy_quantized(&mut &input[..], &mut out, Encoding::Q8_0)?;
        Ok(out)
    }

    #[test]
    fn matrices_are_quantized_and_the_rest_copied() {
        let matrix = f16s(64 * 3);
        let bias = vec![1; 4 * 4];
        let conv = f16s(3 * 2 * 2);
        let input = ggml(
            1,
            &[("w", 1, &[64, 3], matrix.clone()), ("b", 0, &[4], bias.clone()), ("conv", 1, &[3, 2, 2], conv.clone())],
        );
        let mut blocks = Vec::new();
        convert(&matrix, DType::F16, Encoding::Q8_0, &mut blocks);
        let expected = ggml(
            Encoding::Q8_0.file_type() as i32,
            &[("w", 8, &[64, 3], blocks), ("b", 0, &[4], bias), ("conv", 1, &[3, 2, 2], conv)],
        );
        assert_eq!(quantized(&input).unwrap(), expected);
    }

    #[test]
    fn only_whole_f16_models_are_taken() {
        let already = ggml(2007, &[]);
        assert!(quantized(&already).unwrap_err().to_string().contains("only f16 models"));
        let whole = ggml(1, &[("w", 1, &[64, 3], f16s(64 * 3))]);
        let error = quantized(&whole[..whole.len() - 10]).unwrap_err();
        assert!(error.to_string().contains("failed to fill whole buffer"), "{error}");
        assert!(quantized(b"not a model").unwrap_err().to_string().contains("no ggml magic"));
    }

    /// An official f16 model quantized here is the file `import-ct2
    /// --quantize q8_0` makes from the same weights (the test models of
    /// `scripts/fetch-test-model.sh`).
    #[test]
    fn tiny_en_quantized_here_is_the_imported_q8_0() {
        let models = steno_runtime::config::data_home().join("models");
        let out = std::env::temp_dir().join(format!("steno-requantize-{}.bin", std::process::id()));
        quantize_ggml(&models.join("ggml-tiny.en.bin"), &out, Encoding::Q8_0).unwrap();
        let (made, imported) =
            (std::fs::read(&out).unwrap(), std::fs::read(models.join("ggml-tiny.en-q8_0.bin")).unwrap());
        std::fs::remove_file(&out).unwrap();
        assert!(made == imported, "{} bytes against {}", made.len(), imported.len());
    }
}
