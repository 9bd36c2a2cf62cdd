//! `steno models fetch NAME-q8_0`'s reader of a ggml whisper model, which
//! it quantizes: any bytes are read through or give an error; never a
//! panic or a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = steno_cli::models::ct2::check_ggml(data);
});
