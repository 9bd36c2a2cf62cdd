//! Whole-system tests: the real service binaries against a real nats-server
//! (started per test) and Postgres (a database per test). Build the binaries
//! first: `cargo build --workspace --bins`.

use integration_tests::{api, conversations, fixtures, harness};

mod bad_inputs;
mod cancel;
mod chaos;
mod cli;
mod dead_letters;
mod deployment;
mod diarization;
mod end_to_end;
mod events;
mod fanout;
mod faults;
mod languages;
mod ledger_outage;
mod local_mode;
mod lockdown;
mod newcomer;
mod observability;
mod openai;
mod openapi;
mod restart;
mod retention;
mod scaling;
mod search;
mod supervise;
mod tenants;
mod tracing;
mod voices;
mod web_app;
mod webhooks;
