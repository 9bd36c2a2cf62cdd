//! steno-gateway: the only owner of the job ledger.
//!
//! - [`startup`]: binds ports and runs every part below until shutdown.
//! - [`rest`] (axum) and [`grpc`] (tonic `JobService`) and [`nats_api`]
//!   (`steno.jobs.submit`, the `steno.api.submit` micro endpoint): front
//!   doors over one [`jobs::Jobs`], validating with [`submission`];
//!   [`openai`]: the OpenAI-compatible audio and model routes;
//!   [`openapi`]: the OpenAPI document (`/openapi.json`, `/docs`).
//! - [`auth`]: API keys and the tenant ([`auth::Caller`]) each request acts for.
//! - [`limits`]: per-tenant submission rate and open event streams.
//! - [`events`]: a job's events replayed then live (gRPC `Watch`).
//! - [`web`]: the web app (`/`), its assets and its session cookie.
//! - [`transcripts`]: a job's transcript to read and correct, its audio.
//! - [`voices`]: known voices (`/v1/speakers`): enrolment, list, delete.
//! - [`speakers`]: naming a diarized job's speakers (re-renders its exports).
//! - [`search`]: the search index over finished transcripts, per tenant.
//! - [`webhooks`]: a job's webhook target, tenants' signing secrets, attempts.
//! - [`ledger`]: applies job events from JetStream to [`store`] (Postgres or SQLite).
//! - [`outbox`]: publishes the first task of jobs recorded but not yet queued.
//! - [`janitor`]: retention: removes expired jobs and what no job owns.
//! - [`dead_letters`]: JetStream's advisories about stranded messages →
//!   `STENO_DLQ` and a `failed` event.
//! - [`error`]: one error type for HTTP statuses and gRPC codes.
//! - [`views`]: jobs as REST JSON and gRPC messages.

pub mod auth;
pub mod dead_letters;
pub mod error;
pub mod events;
pub mod grpc;
pub mod janitor;
pub mod jobs;
pub mod ledger;
pub mod limits;
pub mod nats_api;
pub mod openai;
pub mod openapi;
pub mod outbox;
pub mod rest;
pub mod search;
pub mod speakers;
pub mod startup;
pub mod store;
pub mod submission;
pub mod transcripts;
pub mod views;
pub mod voices;
pub mod web;
pub mod webhooks;
