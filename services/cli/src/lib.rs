//! The library half of the `steno` CLI: model conversion and download
//! ([`models`]), shared by the binary and the fuzz targets (`fuzz/`).

pub mod models;
