//! Reading the variable index of a CTranslate2 `model.bin`.

use std::io::{BufReader, Read, Seek};

use anyhow::{Context, Result, anyhow, bail, ensure};

const CT2_BINARY_VERSION: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DType {
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

    pub(super) fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::Bf16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }

    pub(super) fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::Bf16)
    }
}

/// One variable of model.bin; its data is left in the file.
#[derive(Debug, Clone)]
pub(super) struct Var {
    pub name: String,
    pub dims: Vec<usize>,
    pub dtype: DType,
    /// Absolute offset of the raw data in model.bin.
    pub offset: u64,
    pub nbytes: usize,
    /// Raw bytes of rank-0 variables (scalars such as `encoder/num_heads`).
    scalar: Option<Vec<u8>>,
}

impl Var {
    /// A float tensor of `dims` whose data is not needed (for tests of what
    /// is derived from shapes alone).
    #[cfg(test)]
    pub(super) fn shape_only(name: &str, dims: &[usize]) -> Self {
        let nbytes = dims.iter().product::<usize>() * DType::F16.size();
        Self { name: name.to_owned(), dims: dims.to_vec(), dtype: DType::F16, offset: 0, nbytes, scalar: None }
    }

    pub(super) fn scalar_int(&self) -> Option<i64> {
        let b = self.scalar.as_deref()?;
        Some(match self.dtype {
            DType::I8 => i64::from(b[0] as i8),
            DType::I16 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            DType::I32 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => return None,
        })
    }
}

/// The variables of model.bin, in file order.
#[derive(Debug)]
pub(super) struct Ct2Model {
    pub vars: Vec<Var>,
}

impl Ct2Model {
    pub(super) fn get(&self, name: &str) -> Option<&Var> {
        self.vars.iter().find(|v| v.name == name)
    }

    pub(super) fn require(&self, name: &str) -> Result<&Var> {
        self.get(name).ok_or_else(|| anyhow!("CTranslate2 model has no variable {name}"))
    }
}

fn read_array<const N: usize>(r: &mut impl Read) -> Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn read_u32(r: &mut impl Read) -> Result<u32> {
    Ok(u32::from_le_bytes(read_array(r)?))
}

/// A CTranslate2 string: u16 length (including the trailing NUL), then bytes.
fn read_string(r: &mut impl Read) -> Result<String> {
    let len = usize::from(u16::from_le_bytes(read_array(r)?));
    let mut b = vec![0u8; len];
    r.read_exact(&mut b)?;
    if b.last() == Some(&0) {
        b.pop();
    }
    String::from_utf8(b).context("non UTF-8 name in model.bin")
}

/// Read the variable table of model.bin, skipping over (not loading) the data.
pub(super) fn read_index<R: Read + Seek>(r: &mut BufReader<R>) -> Result<Ct2Model> {
    let version = read_u32(r)?;
    ensure!(
        version == CT2_BINARY_VERSION,
        "unsupported CTranslate2 binary version {version} (expected {CT2_BINARY_VERSION})"
    );
    let spec = read_string(r)?;
    ensure!(spec == "WhisperSpec", "not a Whisper model: CTranslate2 spec is {spec:?}");
    let _revision = read_u32(r)?;
    let count = read_u32(r)? as usize;
    // The count comes from the file: reserve for a real model's few hundred
    // variables at most, however large it claims to be.
    let mut vars = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let name = read_string(r)?;
        let [rank] = read_array(r)?;
        let dims = (0..rank).map(|_| Ok(read_u32(r)? as usize)).collect::<Result<Vec<_>>>()?;
        let [dtype] = read_array(r)?;
        let dtype = DType::from_u8(dtype).with_context(|| format!("variable {name}"))?;
        let nbytes = read_u32(r)? as usize;
        let size = dims.iter().try_fold(dtype.size(), |n, d| n.checked_mul(*d));
        ensure!(size == Some(nbytes), "variable {name}: {nbytes} bytes do not match shape {dims:?} of {dtype:?}");
        let offset = r.stream_position()?;
        let scalar = if rank == 0 {
            let mut b = vec![0u8; nbytes];
            r.read_exact(&mut b)?;
            Some(b)
        } else {
            r.seek_relative(nbytes as i64)?;
            None
        };
        vars.push(Var { name, dims, dtype, offset, nbytes, scalar });
    }
    // Aliases (e.g. decoder/projection/weight -> decoder/embeddings/weight):
    // whisper.cpp ties the output projection to the token embedding itself.
    let aliases = read_u32(r).context("reading alias table")?;
    for _ in 0..aliases {
        read_string(r)?;
        read_string(r)?;
    }
    Ok(Ct2Model { vars })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn put_str(b: &mut Vec<u8>, s: &str) {
        b.extend_from_slice(&(s.len() as u16 + 1).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
        b.push(0);
    }

    #[test]
    fn reads_index() {
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        put_str(&mut b, "WhisperSpec");
        b.extend_from_slice(&1u32.to_le_bytes()); // revision
        b.extend_from_slice(&2u32.to_le_bytes()); // variables
        put_str(&mut b, "encoder/num_heads");
        b.extend_from_slice(&[0, 3]); // rank 0, i32
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&6i32.to_le_bytes());
        put_str(&mut b, "encoder/conv1/bias");
        b.push(2); // rank
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&3u32.to_le_bytes());
        b.push(4); // f16
        b.extend_from_slice(&12u32.to_le_bytes());
        let data_at = b.len() as u64;
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&1u32.to_le_bytes()); // aliases
        put_str(&mut b, "decoder/projection/weight");
        put_str(&mut b, "decoder/embeddings/weight");

        let m = read_index(&mut BufReader::new(std::io::Cursor::new(b))).unwrap();
        assert_eq!(m.vars.len(), 2);
        assert_eq!(m.require("encoder/num_heads").unwrap().scalar_int(), Some(6));
        let v = m.require("encoder/conv1/bias").unwrap();
        assert_eq!((v.dims.as_slice(), v.dtype), (&[2, 3][..], DType::F16));
        assert_eq!((v.offset, v.nbytes, v.scalar_int()), (data_at, 12, None));
        assert!(m.require("decoder/embeddings/weight").is_err());
    }

    /// Found by the `ct2_model` fuzz target: a count of 2.6 billion
    /// variables reserved 60 GB before reading one; a shape whose size
    /// overflows must be refused, not wrap.
    #[test]
    fn claimed_sizes_are_not_trusted() {
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        put_str(&mut b, "WhisperSpec");
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&0x9c40_0000u32.to_le_bytes());
        assert!(read_index(&mut BufReader::new(std::io::Cursor::new(b.clone()))).is_err(), "truncated");
        b.truncate(b.len() - 4);
        b.extend_from_slice(&1u32.to_le_bytes());
        put_str(&mut b, "encoder/conv1/weight");
        b.push(3);
        for d in [u32::MAX, u32::MAX, 4] {
            b.extend_from_slice(&d.to_le_bytes());
        }
        b.push(0);
        b.extend_from_slice(&0u32.to_le_bytes());
        let error = read_index(&mut BufReader::new(std::io::Cursor::new(b))).expect_err("overflowing shape");
        assert!(error.to_string().contains("do not match shape"), "{error}");
    }
}
