//! What the worker loop does with a delivery once its outcome is known: ack
//! it, retry it later, fail it (dead letter, `failed` event, term), or
//! return it at once. A pure function of the outcome, the delivery count and
//! the worker config, so every branch is tested here.

use std::time::Duration;

use crate::config::WorkerConfig;

/// What became of one delivery.
#[derive(Debug)]
pub enum Outcome {
    /// Processed; its successor and events are published.
    Done,
    /// The job was cancelled before or while the task ran.
    Cancelled,
    /// May work later (network, NATS, disk): the error.
    Retry(String),
    /// Will never work: the reason shown to the user.
    Fail(String),
    /// The stage panicked: the panic's message.
    Panicked(String),
    /// The shutdown drain ran out before the task finished.
    Interrupted,
}

/// What to do with the delivery.
#[derive(Debug, PartialEq)]
pub enum Settlement {
    /// Done with it (double ack).
    Ack,
    /// A `retrying` event with `reason`, then nak with `delay`.
    Retry { delay: Duration, reason: String },
    /// Dead-letter the task and publish `failed` with `reason`, then term.
    Fail { reason: String },
    /// Nak at once with no event: another replica takes it.
    Return,
}

/// Decides how to settle delivery number `delivered` (1-based) of a task of
/// `stage` that ended in `outcome`.
pub fn decide(stage: &str, outcome: Outcome, delivered: i64, config: &WorkerConfig) -> Settlement {
    let last = delivered >= config.max_deliver;
    match outcome {
        Outcome::Done | Outcome::Cancelled => Settlement::Ack,
        Outcome::Interrupted => Settlement::Return,
        Outcome::Fail(reason) => Settlement::Fail { reason },
        Outcome::Retry(error) if last => {
            Settlement::Fail { reason: format!("{stage} failed after {delivered} attempts: {error}") }
        }
        Outcome::Panicked(panic) if last => {
            Settlement::Fail { reason: format!("{stage} crashed in each of {delivered} attempts: {panic}") }
        }
        Outcome::Retry(reason) => Settlement::Retry { delay: backoff(delivered, config), reason },
        Outcome::Panicked(panic) => {
            Settlement::Retry { delay: backoff(delivered, config), reason: format!("{stage} crashed: {panic}") }
        }
    }
}

/// The delay before delivery `delivered + 1`: `backoff_secs` by attempt,
/// its last entry once past the end.
pub fn backoff(delivered: i64, config: &WorkerConfig) -> Duration {
    let backoff = &config.backoff_secs;
    let index = usize::try_from(delivered - 1).unwrap_or(0).min(backoff.len().saturating_sub(1));
    Duration::from_secs(backoff.get(index).copied().unwrap_or(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> WorkerConfig {
        WorkerConfig { max_deliver: 3, backoff_secs: vec![1, 5], ..WorkerConfig::default() }
    }

    #[test]
    fn done_and_cancelled_are_acked() {
        assert_eq!(decide("export", Outcome::Done, 1, &config()), Settlement::Ack);
        assert_eq!(decide("export", Outcome::Cancelled, 3, &config()), Settlement::Ack);
    }

    #[test]
    fn interrupted_returns_at_once_even_on_the_last_delivery() {
        assert_eq!(decide("transcribe", Outcome::Interrupted, 1, &config()), Settlement::Return);
        assert_eq!(decide("transcribe", Outcome::Interrupted, 3, &config()), Settlement::Return);
    }

    #[test]
    fn permanent_failure_fails_on_any_delivery() {
        let settled = decide("transcode", Outcome::Fail("no audio stream".into()), 1, &config());
        assert_eq!(settled, Settlement::Fail { reason: "no audio stream".into() });
    }

    #[test]
    fn transient_errors_retry_with_backoff_by_attempt() {
        let retry = |delivered| decide("download", Outcome::Retry("503".into()), delivered, &config());
        assert_eq!(retry(1), Settlement::Retry { delay: Duration::from_secs(1), reason: "503".into() });
        assert_eq!(retry(2), Settlement::Retry { delay: Duration::from_secs(5), reason: "503".into() });
    }

    #[test]
    fn the_last_transient_error_fails_saying_how_many_attempts() {
        let settled = decide("download", Outcome::Retry("503".into()), 3, &config());
        assert_eq!(settled, Settlement::Fail { reason: "download failed after 3 attempts: 503".into() });
    }

    #[test]
    fn panics_retry_then_fail() {
        let settled = decide("diarize", Outcome::Panicked("index out of bounds".into()), 1, &config());
        let reason = "diarize crashed: index out of bounds".to_owned();
        assert_eq!(settled, Settlement::Retry { delay: Duration::from_secs(1), reason });
        let settled = decide("diarize", Outcome::Panicked("index out of bounds".into()), 3, &config());
        let reason = "diarize crashed in each of 3 attempts: index out of bounds".to_owned();
        assert_eq!(settled, Settlement::Fail { reason });
    }

    #[test]
    fn backoff_keeps_its_last_entry_and_has_a_default() {
        assert_eq!(backoff(9, &config()), Duration::from_secs(5));
        let empty = WorkerConfig { backoff_secs: Vec::new(), ..config() };
        assert_eq!(backoff(1, &empty), Duration::from_secs(5));
    }
}
