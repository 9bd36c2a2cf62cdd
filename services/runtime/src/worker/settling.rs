//! Settling a delivery as [`crate::settle::decide`] says: ack, nak with
//! back-off and a `retrying` event, or dead letter + `failed` + term.

use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};
use steno_proto::v1::EventKind;

use super::{Delivery, Worker};
use crate::{
    bus::DeadLetter,
    settle::{self, Outcome, Settlement},
    stage::Stage,
    subjects,
};

impl<S: Stage> Worker<S> {
    /// Settles a delivery as [`settle::decide`] says, counting the outcome.
    pub(super) async fn settle(&self, delivery: &Delivery<'_>, outcome: Outcome) {
        let counted = match &outcome {
            Outcome::Done => Some("ok"),
            Outcome::Cancelled => Some("cancelled"),
            Outcome::Panicked(panic) => {
                tracing::error!(panic, "stage panicked");
                Some("panicked")
            }
            Outcome::Retry(_) | Outcome::Fail(_) | Outcome::Interrupted => None,
        };
        let settlement = settle::decide(self.name(), outcome, delivery.delivered, &self.config);
        if let Some(outcome) = counted {
            self.metrics.outcome(outcome);
        }
        match settlement {
            Settlement::Ack => ack(delivery.message, AckKind::Ack).await,
            Settlement::Return => {
                tracing::info!("shutdown: returning task to the queue");
                ack(delivery.message, AckKind::Nak(None)).await;
            }
            Settlement::Retry { delay, reason } => {
                tracing::warn!(error = reason, delay_secs = delay.as_secs(), "stage task failed; will retry");
                if counted.is_none() {
                    self.metrics.outcome("retried");
                }
                let mut retrying = delivery.event(EventKind::Retrying, S::KIND);
                retrying.message = reason;
                if let Err(e) = self.bus.publish_event(retrying).await {
                    tracing::debug!(error = %e, "publish retrying event");
                }
                ack(delivery.message, AckKind::Nak(Some(delay))).await;
            }
            Settlement::Fail { reason } => self.fail(delivery, reason, counted.is_none()).await,
        }
    }

    /// Keeps the task in the dead letters, publishes `failed` with a
    /// user-facing reason, then terms the task. If either cannot be
    /// published the task is naked, so the failure is not lost (on its last
    /// delivery JetStream's advisory brings it to the dead-letter listener).
    async fn fail(&self, delivery: &Delivery<'_>, reason: String, count: bool) {
        tracing::warn!(reason, "stage task failed permanently");
        let mut failed = delivery.event(EventKind::Failed, S::KIND);
        failed.message = reason.clone();
        let kept = async {
            self.dead_letter(delivery.message, delivery.job_id.as_str(), delivery.delivered, &reason).await?;
            self.bus.publish_event(failed).await
        };
        match kept.await {
            Ok(()) => {
                if count {
                    self.metrics.outcome("failed");
                }
                ack(delivery.message, AckKind::Term).await;
            }
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "cannot record the failure; retrying later");
                ack(delivery.message, AckKind::Nak(Some(Duration::from_secs(5)))).await;
            }
        }
    }

    async fn dead_letter(&self, message: &Message, id: &str, delivered: i64, reason: &str) -> anyhow::Result<()> {
        let info = message.info().map_err(|e| anyhow::anyhow!("message info: {e}"))?;
        let letter = DeadLetter {
            source: self.name(),
            id,
            payload: message.payload.clone(),
            attempts: delivered,
            reason,
            stream: info.stream,
            sequence: info.stream_sequence,
            stranded: false,
        };
        self.bus.dead_letter(letter).await
    }

    pub(super) async fn reject_undecodable(&self, message: &Message, delivered: i64, error: impl std::fmt::Display) {
        let msg_id = message.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.as_str().to_owned());
        tracing::warn!(error = %error, msg_id, "undecodable stage task");
        let reason = format!("{} received a malformed task: {error}", self.name());
        if let Some(job_id) = msg_id.as_deref().and_then(subjects::job_id_from_msg_id) {
            let delivery = Delivery { message, job_id, tenant: String::new(), attempt: 0, delivered };
            return self.fail(&delivery, reason, true).await;
        }
        let sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
        if let Err(e) = self.dead_letter(message, &format!("unreadable-{sequence}"), delivered, &reason).await {
            tracing::warn!(error = format!("{e:#}"), "dead-letter an unreadable task");
        }
        self.metrics.outcome("failed");
        ack(message, AckKind::Term).await;
    }
}

async fn ack(message: &Message, kind: AckKind) {
    let result = match kind {
        AckKind::Ack => message.double_ack().await,
        kind => message.ack_with(kind).await,
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "acknowledging task failed; it will be redelivered");
    }
}
