//! The diarize stage's reader of a PyTorch checkpoint (zip + pickle): any
//! bytes give tensors or an error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = steno_diarize::checkpoint::read_model_state(data);
});
