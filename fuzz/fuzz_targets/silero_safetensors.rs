//! `steno models import-silero`: any bytes convert or give an error; never
//! a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = steno_cli::models::silero::convert_silero(data);
});
