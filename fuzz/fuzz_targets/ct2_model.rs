//! `steno models import-ct2`'s reader of a CTranslate2 `model.bin`: any
//! bytes give the model's shape or an error; never a panic or a huge
//! allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = steno_cli::models::ct2::check_model_bin(data);
});
