//! Per-tenant limits kept by each gateway replica: submissions per minute
//! (a token bucket) and open event streams. Jobs in flight are counted in
//! the ledger, so that limit holds across replicas.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use crate::error::ApiError;

#[derive(Clone)]
pub struct Limits {
    /// Submissions a tenant may make per minute (the bucket holds as many); 0: no limit.
    per_minute: u32,
    /// Event streams a tenant may hold open; 0: no limit.
    max_watches: usize,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
    watches: Arc<Mutex<HashMap<String, usize>>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// An open event stream; closing it (dropping this) frees the slot.
pub struct WatchPermit {
    tenant: String,
    watches: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for WatchPermit {
    fn drop(&mut self) {
        let mut watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = watches.get_mut(&self.tenant) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                watches.remove(&self.tenant);
            }
        }
    }
}

impl Limits {
    pub fn new(per_minute: u32, max_watches: usize) -> Self {
        Self { per_minute, max_watches, buckets: Arc::default(), watches: Arc::default() }
    }

    /// Takes one submission from `tenant`'s bucket, or says when the next
    /// one is due.
    pub fn take_submission(&self, tenant: &str) -> Result<(), ApiError> {
        self.take_submission_at(tenant, Instant::now())
    }

    fn take_submission_at(&self, tenant: &str, now: Instant) -> Result<(), ApiError> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(tenant.to_owned()).or_insert(Bucket { tokens: capacity, at: now });
        bucket.tokens =
            (bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * per_sec).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / per_sec).ceil().max(1.0);
        Err(ApiError::TooManyRequests {
            message: format!("over the limit of {} submissions a minute for this tenant", self.per_minute),
            retry_after_secs: wait as u64,
        })
    }

    /// Opens an event stream for `tenant` if it holds fewer than the limit.
    pub fn open_watch(&self, tenant: &str) -> Result<WatchPermit, ApiError> {
        let mut watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        let open = watches.entry(tenant.to_owned()).or_default();
        if self.max_watches != 0 && *open >= self.max_watches {
            return Err(ApiError::TooManyRequests {
                message: format!("this tenant already has {} event streams open; close one first", self.max_watches),
                retry_after_secs: 5,
            });
        }
        *open += 1;
        Ok(WatchPermit { tenant: tenant.to_owned(), watches: self.watches.clone() })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_bucket_holds_a_minute_and_refills_steadily() {
        let limits = Limits::new(20, 0);
        let start = Instant::now();
        for _ in 0..20 {
            limits.take_submission_at("a", start).expect("within the quota");
        }
        let Err(ApiError::TooManyRequests { retry_after_secs, .. }) = limits.take_submission_at("a", start) else {
            panic!("the 21st submission at once is refused");
        };
        assert_eq!(retry_after_secs, 3, "20 a minute refill one every 3 s");
        limits.take_submission_at("b", start).expect("tenants have their own buckets");
        limits.take_submission_at("a", start + Duration::from_secs(3)).expect("refilled");
        assert!(limits.take_submission_at("a", start + Duration::from_secs(3)).is_err());
    }

    #[test]
    fn event_streams_are_bounded_per_tenant_and_freed_on_close() {
        let limits = Limits::new(0, 2);
        let first = limits.open_watch("a").expect("first");
        let _second = limits.open_watch("a").expect("second");
        assert!(limits.open_watch("a").is_err());
        let _other = limits.open_watch("b").expect("another tenant");
        drop(first);
        let _third = limits.open_watch("a").expect("a slot was freed");
    }
}
