//! Work spread over the cores.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `job(0)`, …, `job(jobs - 1)` on up to `threads` threads (the caller's
/// among them), each thread taking the next job as it finishes one; the
/// results in job order.
pub fn in_parallel<T: Send>(jobs: usize, threads: usize, job: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= jobs {
                return done;
            }
            done.push((i, job(i)));
        }
    };
    let threads = threads.clamp(1, jobs.max(1));
    let mut results: Vec<(usize, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(worker)).collect();
        let mut all = worker();
        for h in handles {
            all.extend(h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        all
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_job_order() {
        for threads in [1, 2, 5] {
            assert_eq!(in_parallel(7, threads, |i| i * i), [0, 1, 4, 9, 16, 25, 36]);
        }
        assert!(in_parallel(0, 3, |i| i).is_empty());
    }
}
