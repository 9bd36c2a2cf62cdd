//! The library half of the `steno` CLI, also the dev kit the integration
//! tests use: model conversion and download ([`models`], shared with the
//! fuzz targets in `fuzz/`), API keys ([`keys`]), and starting a whole
//! system ([`kit`], [`processes`], [`system`]).

pub mod keys;
pub mod kit;
pub mod models;
pub mod processes;
pub mod system;
