//! A small counting semaphore.
//!
//! usearch keeps one search context per "thread slot" reserved in the index; a search or
//! insertion that finds every slot busy fails ("Reserve capacity ahead of searches!") instead
//! of waiting. The server may run many more searches at once than there are slots (tokio's
//! blocking pool has hundreds of threads), so callers take a permit first and wait here.

use std::sync::{Condvar, Mutex, PoisonError};

pub(crate) struct Semaphore {
    available: Mutex<usize>,
    freed: Condvar,
}

pub(crate) struct Permit<'a>(&'a Semaphore);

impl Semaphore {
    pub(crate) fn new(permits: usize) -> Self {
        Semaphore { available: Mutex::new(permits.max(1)), freed: Condvar::new() }
    }

    pub(crate) fn acquire(&self) -> Permit<'_> {
        // The guarded value is a plain counter, always valid, so poisoning is harmless.
        let mut available = self.available.lock().unwrap_or_else(PoisonError::into_inner);
        while *available == 0 {
            available = self.freed.wait(available).unwrap_or_else(PoisonError::into_inner);
        }
        *available -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut available = self.0.available.lock().unwrap_or_else(PoisonError::into_inner);
        *available += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn never_more_than_the_permits_at_once() {
        let semaphore = Semaphore::new(2);
        let inside = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        let _permit = semaphore.acquire();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2);
    }
}
