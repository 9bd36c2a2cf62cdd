//! steno's wire types: the `steno.v1` protobuf package (stage tasks, job
//! events, job options) and the gateway's gRPC `JobService`, generated at
//! build time from `proto/steno/v1/steno.proto`.

#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("steno.v1");
}
