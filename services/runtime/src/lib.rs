//! steno-runtime: everything the services share, written once.
//!
//! - [`config`]: the one config loader (defaults, `config/steno.toml`, `STENO_…`).
//! - [`consume`]: the loop over durable consumers of events, submissions and advisories.
//! - [`subjects`]: every subject, stream, consumer and bucket name.
//! - [`bus`]: NATS connection, provisioning, typed publishing of tasks and events.
//! - [`artifacts`]: job artifacts in the JetStream object store.
//! - [`address_policy`]: which addresses downloads and webhooks may reach.
//! - [`stage`] and [`worker`]: the `Stage` trait and the one worker loop;
//!   [`settle`]: how a delivery is settled (ack, retry, fail, return);
//!   [`parts`]: the exactly-once join of a task split across replicas.
//! - [`ops`], [`telemetry`], [`metrics`]: `/healthz` `/readyz` `/metrics`, logs, every metric.
//! - [`queue`]: queue depth per stage, read from JetStream state.
//! - [`trace`]: W3C trace context in NATS headers.
//! - [`service`]: what every service `main` shares.
//! - [`webhook`]: a job's webhook target and the tenants' signing secrets.
//! - [`voices`]: the tenants' known voices (enrolled speakers).
//! - [`transcript`]: the transcript document stages exchange; [`models`]: the
//!   whisper models a transcriber offers.

pub mod address_policy;
pub mod artifacts;
pub mod bus;
pub mod config;
pub mod consume;
mod job_id;
pub mod metrics;
pub mod models;
pub mod ops;
pub mod parts;
pub mod queue;
pub mod redact;
pub mod service;
pub mod settle;
pub mod stage;
pub mod subjects;
pub mod telemetry;
pub mod trace;
pub mod transcript;
pub mod voices;
pub mod webhook;
pub mod worker;

pub use job_id::{InvalidJobId, JobId};
pub use steno_proto::v1 as proto;
