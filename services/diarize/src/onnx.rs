//! Reader for the parts of an ONNX model file the segmentation model needs:
//! the top-level graph's nodes (operator and input names, in order) and its
//! float initializers. ONNX files are protocol buffers (`ModelProto`); this
//! walks the wire format directly, knowing only the fields below, and skips
//! every other field.

use std::collections::HashMap;

use crate::checkpoint::Tensor;

// Field numbers from onnx.proto.
const MODEL_GRAPH: u64 = 7;
const GRAPH_NODE: u64 = 1;
const GRAPH_INITIALIZER: u64 = 5;
const NODE_INPUT: u64 = 1;
const NODE_OUTPUT: u64 = 2;
const NODE_OP_TYPE: u64 = 4;
const TENSOR_DIMS: u64 = 1;
const TENSOR_DATA_TYPE: u64 = 2;
const TENSOR_FLOAT_DATA: u64 = 4;
const TENSOR_NAME: u64 = 8;
const TENSOR_RAW_DATA: u64 = 9;
/// `TensorProto.DataType.FLOAT`.
const FLOAT: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("malformed ONNX file at byte {0}")]
    Malformed(usize),
    #[error("the ONNX file has no graph")]
    NoGraph,
    #[error("ONNX tensor `{0}`: its data does not match its shape")]
    Tensor(String),
}

/// A graph node: its operator and the names of its inputs and outputs.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// The top-level graph: nodes in file order, float initializers by name.
#[derive(Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub initializers: HashMap<String, Tensor>,
}

/// Reads the top-level graph of the ONNX model in `bytes`.
pub fn read_graph(bytes: &[u8]) -> Result<Graph, OnnxError> {
    let mut graph = None;
    for field in Fields::new(bytes, 0) {
        let (number, value) = field?;
        if number == MODEL_GRAPH {
            graph = Some(value.bytes()?);
        }
    }
    let (graph, base) = graph.ok_or(OnnxError::NoGraph)?;
    let mut out = Graph::default();
    for field in Fields::new(graph, base) {
        match field? {
            (GRAPH_NODE, value) => {
                let (node, base) = value.bytes()?;
                out.nodes.push(read_node(node, base)?);
            }
            (GRAPH_INITIALIZER, value) => {
                let (tensor, base) = value.bytes()?;
                if let Some((name, tensor)) = read_tensor(tensor, base)? {
                    out.initializers.insert(name, tensor);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn read_node(bytes: &[u8], base: usize) -> Result<Node, OnnxError> {
    let mut node = Node::default();
    for field in Fields::new(bytes, base) {
        let (number, value) = field?;
        match number {
            NODE_INPUT => node.inputs.push(value.string()?),
            NODE_OUTPUT => node.outputs.push(value.string()?),
            NODE_OP_TYPE => node.op_type = value.string()?,
            _ => {}
        }
    }
    Ok(node)
}

/// A float tensor and its name; `None` for other element types.
fn read_tensor(bytes: &[u8], base: usize) -> Result<Option<(String, Tensor)>, OnnxError> {
    let (mut name, mut shape, mut data_type, mut data) = (String::new(), Vec::new(), 0, Vec::new());
    for field in Fields::new(bytes, base) {
        let (number, value) = field?;
        match (number, value) {
            (TENSOR_DIMS, Value::Varint(d)) => shape.push(d as usize),
            (TENSOR_DIMS, value) => {
                let (packed, at) = value.bytes()?;
                let mut reader = Reader { bytes: packed, at: 0, base: at };
                while reader.at < packed.len() {
                    shape.push(reader.varint()? as usize);
                }
            }
            (TENSOR_DATA_TYPE, Value::Varint(t)) => data_type = t,
            (TENSOR_NAME, value) => name = value.string()?,
            (TENSOR_RAW_DATA | TENSOR_FLOAT_DATA, value) => {
                let (raw, _) = value.bytes()?;
                data.extend(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            }
            _ => {}
        }
    }
    if data_type != FLOAT {
        return Ok(None);
    }
    if Some(data.len()) != shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
        return Err(OnnxError::Tensor(name));
    }
    Ok(Some((name, Tensor { shape, data })))
}

/// A field's value in the wire format.
enum Value<'a> {
    Varint(u64),
    /// Length-delimited, with its offset in the file (for errors).
    Bytes(&'a [u8], usize),
    Fixed,
}

impl<'a> Value<'a> {
    fn bytes(self) -> Result<(&'a [u8], usize), OnnxError> {
        match self {
            Value::Bytes(b, at) => Ok((b, at)),
            _ => Err(OnnxError::Malformed(0)),
        }
    }

    fn string(self) -> Result<String, OnnxError> {
        let (b, at) = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| OnnxError::Malformed(at))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Offset of `bytes` in the file.
    base: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, OnnxError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.at).ok_or(OnnxError::Malformed(self.base + self.at))?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(OnnxError::Malformed(self.base + self.at))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], OnnxError> {
        let bytes = self.bytes;
        let end = self.at.checked_add(n).filter(|&e| e <= bytes.len());
        let end = end.ok_or(OnnxError::Malformed(self.base + self.at))?;
        let slice = &bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
}

/// The fields of one message, in order.
struct Fields<'a>(Reader<'a>);

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Self {
        Fields(Reader { bytes, at: 0, base })
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), OnnxError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = &mut self.0;
        if r.at >= r.bytes.len() {
            return None;
        }
        let field = (|| {
            let key = r.varint()?;
            let value = match key & 7 {
                0 => Value::Varint(r.varint()?),
                1 => {
                    r.take(8)?;
                    Value::Fixed
                }
                2 => {
                    let len = usize::try_from(r.varint()?).map_err(|_| OnnxError::Malformed(r.base + r.at))?;
                    let at = r.base + r.at;
                    Value::Bytes(r.take(len)?, at)
                }
                5 => {
                    r.take(4)?;
                    Value::Fixed
                }
                _ => return Err(OnnxError::Malformed(r.base + r.at)),
            };
            Ok((key >> 3, value))
        })();
        if field.is_err() {
            r.at = r.bytes.len(); // stop after the first error
        }
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn field(number: u64, bytes: &[u8], out: &mut Vec<u8>) {
        varint(number << 3 | 2, out);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }

    /// A model with one node and one 2×2 float initializer, written by hand.
    fn model() -> Vec<u8> {
        let mut node = Vec::new();
        field(NODE_INPUT, b"x", &mut node);
        field(NODE_INPUT, b"w", &mut node);
        field(NODE_OUTPUT, b"y", &mut node);
        field(NODE_OP_TYPE, b"MatMul", &mut node);
        let mut tensor = Vec::new();
        varint(TENSOR_DIMS << 3, &mut tensor);
        varint(2, &mut tensor);
        field(TENSOR_DIMS, &[2], &mut tensor); // packed this time
        varint(TENSOR_DATA_TYPE << 3, &mut tensor);
        varint(FLOAT, &mut tensor);
        field(TENSOR_NAME, b"w", &mut tensor);
        let raw: Vec<u8> = [1.0f32, -2.0, 0.5, 4.0].iter().flat_map(|f| f.to_le_bytes()).collect();
        field(TENSOR_RAW_DATA, &raw, &mut tensor);
        let mut graph = Vec::new();
        field(GRAPH_NODE, &node, &mut graph);
        field(GRAPH_INITIALIZER, &tensor, &mut graph);
        let mut model = Vec::new();
        varint(1 << 3, &mut model); // ir_version, skipped
        varint(8, &mut model);
        field(MODEL_GRAPH, &graph, &mut model);
        model
    }

    #[test]
    fn reads_nodes_and_float_initializers() {
        let graph = read_graph(&model()).expect("parses");
        assert_eq!(graph.nodes.len(), 1);
        assert_eq!(graph.nodes[0].op_type, "MatMul");
        assert_eq!(graph.nodes[0].inputs, ["x", "w"]);
        assert_eq!(graph.nodes[0].outputs, ["y"]);
        let w = &graph.initializers["w"];
        assert_eq!(w.shape, [2, 2]);
        assert_eq!(w.data, [1.0, -2.0, 0.5, 4.0]);
    }

    #[test]
    fn truncated_files_are_errors() {
        let model = model();
        for cut in [1, model.len() / 2, model.len() - 1] {
            assert!(read_graph(&model[..cut]).is_err(), "cut at {cut}");
        }
        assert!(matches!(read_graph(&[]), Err(OnnxError::NoGraph)));
        // A shape whose size overflows is an error too.
        let mut tensor = Vec::new();
        for _ in 0..2 {
            varint(TENSOR_DIMS << 3, &mut tensor);
            varint(1 << 40, &mut tensor);
        }
        varint(TENSOR_DATA_TYPE << 3, &mut tensor);
        varint(FLOAT, &mut tensor);
        let (mut graph, mut model) = (Vec::new(), Vec::new());
        field(GRAPH_INITIALIZER, &tensor, &mut graph);
        field(MODEL_GRAPH, &graph, &mut model);
        assert!(matches!(read_graph(&model), Err(OnnxError::Tensor(_))));
    }
}
