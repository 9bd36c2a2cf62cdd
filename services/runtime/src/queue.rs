//! Queue depth read from JetStream state, never counted by hand: for each
//! stage, its consumer's `num_pending` and `num_ack_pending`, and its
//! stream's message count, bytes and oldest message. The gateway samples
//! every stage (so a stage that is down still shows its backlog); each
//! worker samples its own.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream;
use opentelemetry::{KeyValue, global};
use steno_proto::v1::Stage;
use tokio_util::sync::CancellationToken;

use crate::{metrics, subjects};

/// One stage's queue as JetStream reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueState {
    /// Not yet delivered to any replica.
    pub pending: u64,
    /// Delivered, not yet acknowledged (being worked on, or awaiting redelivery).
    pub ack_pending: u64,
    pub stream_messages: u64,
    pub stream_bytes: u64,
    /// Age of the oldest task still in the stream (0 when empty).
    pub oldest_age_seconds: f64,
}

impl QueueState {
    /// Tasks waiting or in flight.
    pub fn depth(&self) -> u64 {
        self.pending + self.ack_pending
    }
}

/// Reads a stage's queue. A consumer not created yet (the stage never ran)
/// counts every stream message as pending.
pub async fn read(js: &jetstream::Context, stage: Stage) -> anyhow::Result<QueueState> {
    let mut stream = js.get_stream(subjects::stage_stream(stage)).await?;
    let info = stream.info().await?;
    let state = &info.state;
    let oldest_age_seconds = if state.messages > 0 {
        let age = time::OffsetDateTime::now_utc() - state.first_timestamp;
        age.as_seconds_f64().max(0.0)
    } else {
        0.0
    };
    let mut queue = QueueState {
        pending: state.messages,
        ack_pending: 0,
        stream_messages: state.messages,
        stream_bytes: state.bytes,
        oldest_age_seconds,
    };
    if let Ok(mut consumer) =
        stream.get_consumer::<jetstream::consumer::pull::Config>(subjects::stage_consumer(stage)).await
    {
        let info = consumer.info().await?;
        queue.pending = info.num_pending;
        queue.ack_pending = info.num_ack_pending as u64;
    }
    Ok(queue)
}

type Shared = Arc<Mutex<BTreeMap<&'static str, QueueState>>>;

/// Samples `stages` every `every` until shutdown, exporting them as gauges.
pub async fn sample(js: jetstream::Context, stages: Vec<Stage>, every: Duration, shutdown: CancellationToken) {
    let states: Shared = Arc::default();
    register_gauges(states.clone());
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        for stage in &stages {
            match read(&js, *stage).await {
                Ok(state) => {
                    if let Ok(mut states) = states.lock() {
                        states.insert(subjects::stage_name(*stage), state);
                    }
                }
                Err(e) => tracing::debug!(stage = subjects::stage_name(*stage), error = %e, "read queue state"),
            }
        }
    }
}

/// Name, unit, description and reading of one queue gauge.
type GaugeSpec = (&'static str, &'static str, &'static str, fn(&QueueState) -> f64);

fn register_gauges(states: Shared) {
    let meter = global::meter("steno");
    let gauges: [GaugeSpec; 6] = [
        (metrics::QUEUE_DEPTH, "", "Stage tasks waiting or in flight (num_pending + num_ack_pending)", |q| {
            q.depth() as f64
        }),
        (metrics::QUEUE_PENDING, "", "Stage tasks not yet delivered (num_pending)", |q| q.pending as f64),
        (metrics::QUEUE_ACK_PENDING, "", "Stage tasks delivered, not yet acknowledged", |q| q.ack_pending as f64),
        (metrics::STREAM_MESSAGES, "", "Messages in the stage's stream", |q| q.stream_messages as f64),
        (metrics::STREAM_BYTES, "By", "Bytes in the stage's stream", |q| q.stream_bytes as f64),
        (metrics::OLDEST_PENDING_AGE, "s", "Age of the oldest task in the stage's stream", |q| q.oldest_age_seconds),
    ];
    for (name, unit, description, value) in gauges {
        let states = states.clone();
        let builder = meter.f64_observable_gauge(name).with_description(description).with_callback(move |observer| {
            let Ok(states) = states.lock() else { return };
            for (stage, state) in states.iter() {
                observer.observe(value(state), &[KeyValue::new("stage", *stage)]);
            }
        });
        let _gauge = if unit.is_empty() { builder.build() } else { builder.with_unit(unit).build() };
    }
}
