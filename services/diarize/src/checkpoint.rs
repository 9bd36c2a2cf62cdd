//! Reader for PyTorch's legacy (pre-1.6, non-zip) checkpoint format, enough
//! for the GE2E weights Resemblyzer ships. The file is a sequence of pickles:
//! magic number, protocol version, system info, the object (tensors appear as
//! persistent ids `('storage', type, key, location, numel, view)`), the list
//! of storage keys; then, for each key in that order, a little-endian `u64`
//! element count and the raw little-endian data.
//!
//! The pickle machine knows only the opcodes such files use. Memo entries are
//! copies, not shared references: a container mutated after `BINPUT` reads
//! back as it was when stored. Torch checkpoints only memoize before filling
//! containers they never fetch back, so this does not change the result.

use std::collections::HashMap;

/// The magic number torch writes first: 0x1950a86a20f9469cfc6c, little-endian.
const MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a legacy torch checkpoint (bad magic number)")]
    BadMagic,
    #[error("truncated checkpoint at byte {0}")]
    Truncated(usize),
    #[error("unsupported pickle opcode 0x{op:02x} at byte {at}")]
    Opcode { op: u8, at: usize },
    #[error("malformed pickle at byte {at}: {what}")]
    Malformed { at: usize, what: &'static str },
    #[error("storage of unknown type ({0})")]
    UnknownStorage(String),
    #[error("checkpoint has no `{0}`")]
    Missing(&'static str),
    #[error("tensor `{name}`: {what}")]
    Tensor { name: String, what: String },
}

/// A float tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

#[derive(Debug, Clone)]
enum Value {
    None,
    Int(i64),
    BigInt(Vec<u8>),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String, String),
    Storage {
        key: String,
    },
    TensorRef {
        key: String,
        offset: usize,
        size: Vec<usize>,
        stride: Vec<usize>,
    },
    /// Values the loader never needs: booleans, floats, unknown objects.
    Opaque,
}

impl Value {
    fn as_usize(&self) -> Option<usize> {
        match self {
            Value::Int(i) => usize::try_from(*i).ok(),
            _ => None,
        }
    }
    fn as_usizes(&self) -> Option<Vec<usize>> {
        match self {
            Value::Tuple(items) => items.iter().map(Value::as_usize).collect(),
            _ => None,
        }
    }
}

/// Reads `model_state` (a `name → tensor` map) from a legacy checkpoint.
/// Only float32 storages are materialised; others are skipped.
pub fn read_model_state(bytes: &[u8]) -> Result<HashMap<String, Tensor>, CheckpointError> {
    let mut r = Reader { bytes, pos: 0, storage_types: HashMap::new() };
    match r.unpickle()? {
        Value::BigInt(b) if b == MAGIC => {}
        _ => return Err(CheckpointError::BadMagic),
    }
    r.unpickle()?; // protocol version
    r.unpickle()?; // system info
    let object = r.unpickle()?;
    let Value::List(keys) = r.unpickle()? else {
        return Err(CheckpointError::Malformed { at: r.pos, what: "storage key list" });
    };
    let mut storages = HashMap::new();
    for key in keys {
        let Value::Str(key) = key else {
            return Err(CheckpointError::Malformed { at: r.pos, what: "storage key" });
        };
        let numel = usize::try_from(u64::from_le_bytes(r.array()?)).map_err(|_| CheckpointError::Truncated(r.pos))?;
        let ty = r.storage_types.get(&key).cloned().unwrap_or_default();
        let size = element_size(&ty).ok_or_else(|| CheckpointError::UnknownStorage(format!("{key}: {ty:?}")))?;
        let raw = r.take(numel.saturating_mul(size))?;
        if ty == "FloatStorage" {
            let data = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            storages.insert(key, data.collect::<Vec<f32>>());
        }
    }
    let Value::Dict(top) = object else { return Err(CheckpointError::Missing("top-level dict")) };
    let state = top
        .into_iter()
        .find_map(|(k, v)| matches!(&k, Value::Str(s) if s == "model_state").then_some(v))
        .ok_or(CheckpointError::Missing("model_state"))?;
    let Value::Dict(entries) = state else { return Err(CheckpointError::Missing("model_state dict")) };
    let mut out = HashMap::new();
    for (name, value) in entries {
        let (Value::Str(name), Value::TensorRef { key, offset, size, stride }) = (name, value) else {
            continue;
        };
        let Some(storage) = storages.get(&key) else {
            if r.storage_types.get(&key).is_some_and(|ty| ty != "FloatStorage") {
                continue; // not float32: nothing the encoder uses
            }
            return Err(CheckpointError::Tensor { name, what: format!("storage {key} is missing") });
        };
        let data = gather(storage, offset, &size, &stride)
            .ok_or_else(|| CheckpointError::Tensor { name: name.clone(), what: "view outside its storage".into() })?;
        out.insert(name, Tensor { shape: size, data });
    }
    Ok(out)
}

fn element_size(storage_type: &str) -> Option<usize> {
    Some(match storage_type {
        "DoubleStorage" | "LongStorage" => 8,
        "FloatStorage" | "IntStorage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "ByteStorage" | "CharStorage" | "BoolStorage" => 1,
        _ => return None,
    })
}

/// Copies a strided view into a row-major vector.
fn gather(storage: &[f32], offset: usize, size: &[usize], stride: &[usize]) -> Option<Vec<f32>> {
    if size.len() != stride.len() {
        return None;
    }
    let numel: usize = size.iter().product();
    if numel == 0 {
        return Some(Vec::new());
    }
    let last = offset + size.iter().zip(stride).map(|(n, s)| (n - 1) * s).sum::<usize>();
    if last >= storage.len() {
        return None;
    }
    let mut out = Vec::with_capacity(numel);
    let mut index = vec![0usize; size.len()];
    for _ in 0..numel {
        let at = offset + index.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>();
        out.push(storage[at]);
        for d in (0..size.len()).rev() {
            index[d] += 1;
            if index[d] < size[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Some(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Storage key → torch storage class name, from the persistent ids seen.
    storage_types: HashMap<String, String>,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CheckpointError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(CheckpointError::Truncated(self.pos))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CheckpointError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, CheckpointError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, CheckpointError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn line(&mut self) -> Result<String, CheckpointError> {
        let rest = &self.bytes[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or(CheckpointError::Truncated(self.pos))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    /// Runs one pickle up to its STOP and returns the value left on the stack.
    fn unpickle(&mut self) -> Result<Value, CheckpointError> {
        let mut stack: Vec<Value> = Vec::new();
        let mut marks: Vec<usize> = Vec::new();
        let mut memo: HashMap<u32, Value> = HashMap::new();
        loop {
            let at = self.pos;
            let bad = |what| CheckpointError::Malformed { at, what };
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO
                }
                b'.' => return stack.pop().ok_or(bad("empty stack at STOP")),
                b'(' => marks.push(stack.len()),
                b'N' => stack.push(Value::None),
                0x88 | 0x89 => stack.push(Value::Opaque), // NEWTRUE, NEWFALSE
                b'K' => stack.push(Value::Int(i64::from(self.u8()?))),
                b'M' => stack.push(Value::Int(i64::from(u16::from_le_bytes(self.array()?)))),
                b'J' => stack.push(Value::Int(i64::from(self.u32()? as i32))),
                0x8a => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?;
                    stack.push(if n <= 8 { Value::Int(signed_le(b)) } else { Value::BigInt(b.to_vec()) });
                }
                b'G' => {
                    self.take(8)?; // BINFLOAT
                    stack.push(Value::Opaque);
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    stack.push(Value::Str(String::from_utf8_lossy(self.take(n)?).into_owned()));
                }
                0x8c => {
                    let n = usize::from(self.u8()?);
                    stack.push(Value::Str(String::from_utf8_lossy(self.take(n)?).into_owned()));
                }
                b'q' | b'r' => {
                    let id = if op == b'q' { u32::from(self.u8()?) } else { self.u32()? };
                    memo.insert(id, stack.last().cloned().ok_or(bad("PUT on empty stack"))?);
                }
                b'h' | b'j' => {
                    let id = if op == b'h' { u32::from(self.u8()?) } else { self.u32()? };
                    stack.push(memo.get(&id).cloned().ok_or(bad("GET of unknown memo"))?);
                }
                b'}' => stack.push(Value::Dict(Vec::new())),
                b']' => stack.push(Value::List(Vec::new())),
                b')' => stack.push(Value::Tuple(Vec::new())),
                b't' | b'u' | b'e' => {
                    let mark = marks.pop().ok_or(bad("no MARK"))?;
                    if mark > stack.len() {
                        return Err(bad("MARK past stack"));
                    }
                    let items = stack.split_off(mark);
                    match op {
                        b't' => stack.push(Value::Tuple(items)),
                        b'u' => set_items(stack.last_mut().ok_or(bad("SETITEMS without dict"))?, items)
                            .ok_or(bad("SETITEMS target"))?,
                        _ => match stack.last_mut() {
                            Some(Value::List(list)) => list.extend(items),
                            _ => return Err(bad("APPENDS target")),
                        },
                    }
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if stack.len() < n {
                        return Err(bad("TUPLEn on short stack"));
                    }
                    let items = stack.split_off(stack.len() - n);
                    stack.push(Value::Tuple(items));
                }
                b's' => {
                    let v = stack.pop().ok_or(bad("SETITEM value"))?;
                    let k = stack.pop().ok_or(bad("SETITEM key"))?;
                    set_items(stack.last_mut().ok_or(bad("SETITEM target"))?, vec![k, v])
                        .ok_or(bad("SETITEM target"))?;
                }
                b'a' => {
                    let v = stack.pop().ok_or(bad("APPEND value"))?;
                    match stack.last_mut() {
                        Some(Value::List(list)) => list.push(v),
                        _ => return Err(bad("APPEND target")),
                    }
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    stack.push(Value::Global(module, name));
                }
                b'R' => {
                    let args = stack.pop().ok_or(bad("REDUCE args"))?;
                    let callable = stack.pop().ok_or(bad("REDUCE callable"))?;
                    stack.push(reduce(callable, args));
                }
                b'b' => {
                    stack.pop().ok_or(bad("BUILD state"))?; // object attributes: not needed
                }
                b'Q' => {
                    let pid = stack.pop().ok_or(bad("BINPERSID id"))?;
                    stack.push(self.persistent_load(pid).ok_or(bad("persistent id"))?);
                }
                _ => return Err(CheckpointError::Opcode { op, at }),
            }
        }
    }

    fn persistent_load(&mut self, pid: Value) -> Option<Value> {
        let Value::Tuple(items) = pid else { return None };
        match items.as_slice() {
            [Value::Str(kind), Value::Global(_, ty), Value::Str(key), ..] if kind == "storage" => {
                self.storage_types.insert(key.clone(), ty.clone());
                Some(Value::Storage { key: key.clone() })
            }
            _ => None,
        }
    }
}

fn signed_le(b: &[u8]) -> i64 {
    let mut buf = if b.last().is_some_and(|&x| x & 0x80 != 0) { [0xff; 8] } else { [0; 8] };
    buf[..b.len()].copy_from_slice(b);
    i64::from_le_bytes(buf)
}

fn set_items(target: &mut Value, items: Vec<Value>) -> Option<()> {
    let Value::Dict(dict) = target else { return None };
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        dict.push((k, v));
    }
    Some(())
}

/// The few callables torch checkpoints use; anything else becomes opaque.
fn reduce(callable: Value, args: Value) -> Value {
    let Value::Global(module, name) = callable else { return Value::Opaque };
    match (module.as_str(), name.as_str(), args) {
        ("collections", "OrderedDict", _) => Value::Dict(Vec::new()),
        ("torch._utils", "_rebuild_tensor_v2", Value::Tuple(a)) if a.len() >= 4 => {
            let (Value::Storage { key }, Some(offset), Some(size), Some(stride)) =
                (&a[0], a[1].as_usize(), a[2].as_usizes(), a[3].as_usizes())
            else {
                return Value::Opaque;
            };
            Value::TensorRef { key: key.clone(), offset, size, stride }
        }
        _ => Value::Opaque,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a tiny legacy checkpoint by hand: one 2×3 tensor stored
    /// transposed (stride (1, 2)) at offset 1 of a 7-element storage, plus an
    /// int64 storage that must be skipped.
    fn tiny_checkpoint() -> Vec<u8> {
        let mut p = Vec::new();
        let s = |p: &mut Vec<u8>, text: &str| {
            p.push(b'X');
            p.extend((text.len() as u32).to_le_bytes());
            p.extend(text.as_bytes());
        };
        // magic, protocol, sys info
        p.extend([0x80, 2, 0x8a, 10]);
        p.extend(MAGIC);
        p.push(b'.');
        p.extend([0x80, 2, b'M', 0xe9, 0x03, b'.']);
        p.extend([0x80, 2, b'}', b'(']);
        s(&mut p, "little_endian");
        p.extend([0x88, b'u', b'.']);
        // object: {'step': 5, 'model_state': OrderedDict(w=tensor, n=long tensor)}
        p.extend([0x80, 2, b'}', b'q', 0, b'(']);
        s(&mut p, "step");
        p.extend([b'K', 5]);
        s(&mut p, "model_state");
        p.extend(b"ccollections\nOrderedDict\nq\x01)R(");
        for (name, key, ty, off, size, stride) in
            [("w", "k1", "FloatStorage", 1u8, [2u8, 3], [1u8, 2]), ("n", "k2", "LongStorage", 0, [1, 1], [1, 1])]
        {
            s(&mut p, name);
            p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
            s(&mut p, "storage");
            p.extend(format!("ctorch\n{ty}\n").as_bytes());
            s(&mut p, key);
            s(&mut p, "cpu");
            p.extend([b'K', 7, b'N', b't', b'Q', b'K', off, b'K', size[0], b'K', size[1], 0x86]);
            p.extend([b'K', stride[0], b'K', stride[1], 0x86, 0x89, b'h', 1, b')', b'R', b't', b'R']);
        }
        p.extend([b'u', b'u', b'.']);
        // storage keys, then data
        p.extend([0x80, 2, b']', b'(']);
        s(&mut p, "k1");
        s(&mut p, "k2");
        p.extend([b'e', b'.']);
        p.extend(7u64.to_le_bytes());
        for v in 0..7 {
            p.extend((v as f32).to_le_bytes());
        }
        p.extend(7u64.to_le_bytes());
        p.extend([0u8; 56]);
        p
    }

    #[test]
    fn reads_strided_float_tensor_and_skips_other_storages() {
        let state = read_model_state(&tiny_checkpoint()).expect("parse");
        let w = &state["w"];
        assert_eq!(w.shape, vec![2, 3]);
        // element (i, j) = storage[1 + i + 2j]
        assert_eq!(w.data, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        assert!(!state.contains_key("n"), "int64 tensors are not materialised");
    }

    #[test]
    fn rejects_other_files() {
        assert!(matches!(read_model_state(b"PK\x03\x04 zip"), Err(CheckpointError::Opcode { .. })));
        let mut bytes = tiny_checkpoint();
        bytes[4] ^= 1;
        assert!(matches!(read_model_state(&bytes), Err(CheckpointError::BadMagic)));
        let cut = tiny_checkpoint();
        assert!(matches!(read_model_state(&cut[..cut.len() - 3]), Err(CheckpointError::Truncated(_))));
    }
}
