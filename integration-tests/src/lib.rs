//! What the whole-system tests and the benches share: starting the compose
//! topology as processes ([`harness`], on `steno_cli::kit`), a REST client
//! ([`api`]), media fixtures ([`fixtures`]), generated conversations with
//! known speakers ([`conversations`]) and the chaos run ([`chaos`]).

pub mod api;
pub mod chaos;
pub mod conversations;
pub mod der;
pub mod fixtures;
pub mod harness;
/// Also included by the transcribe engines bench, which cannot depend on this crate.
pub mod wer;
