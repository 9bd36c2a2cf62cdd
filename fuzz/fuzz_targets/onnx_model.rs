//! The diarize stage's reader of the segmentation model's ONNX file
//! (protocol buffers) and the model built from it: any bytes give a model
//! or an error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = steno_diarize::onnx::read_graph(data);
    let _ = steno_diarize::segmentation::Segmenter::from_onnx(data);
});
