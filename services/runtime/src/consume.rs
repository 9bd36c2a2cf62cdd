//! Durable JetStream consumers of streams other than the stage queues (the
//! gateway's ledger, external submissions and dead-letter advisories;
//! notify's webhooks): one loop that pulls until shutdown, hands each
//! message to its handler and acks as the handler says. A stream error is logged and the loop goes on; the stream ending is
//! an error. Each consumer has a `max_deliver`: what it can never handle
//! reaches the dead letters through JetStream's advisory.

use std::{future::Future, time::Duration};

use crate::bus::Bus;
use async_nats::jetstream::{
    AckKind, Message,
    consumer::{AckPolicy, pull},
};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

/// A durable consumer named `name` with explicit acks, a 30 s ack wait and
/// `max_deliver`.
pub fn durable(name: &str, max_deliver: i64) -> pull::Config {
    pull::Config {
        durable_name: Some(name.into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        max_deliver,
        ..Default::default()
    }
}

pub async fn consume<F, Fut>(
    bus: &Bus,
    stream: &str,
    config: pull::Config,
    shutdown: CancellationToken,
    mut handle: F,
) -> anyhow::Result<()>
where
    F: FnMut(Message) -> Fut,
    Fut: Future<Output = (Message, AckKind)>,
{
    let consumer = bus.ensure_consumer(stream, config).await?;
    let mut messages = consumer.stream().max_messages_per_batch(100).messages().await?;
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            () = shutdown.cancelled() => return Ok(()),
        };
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                tracing::warn!(stream, error = %e, "stream error; continuing");
                continue;
            }
            None => anyhow::bail!("stream {stream} ended"),
        };
        let (message, ack) = handle(message).await;
        if let Err(e) = message.ack_with(ack).await {
            tracing::warn!(stream, error = %e, "ack failed; the message will be redelivered");
        }
    }
}
