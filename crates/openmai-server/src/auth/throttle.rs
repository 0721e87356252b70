//! Per-caller request limits (DRF's throttling), kept in memory per process.

use std::hash::Hash;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// A requests-per-minute limit per key; `None` inside means unlimited.
pub struct Throttle<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// `per_minute == 0` turns the limit off. The whole minute's allowance may be used in a
    /// burst, as DRF's rate strings allow.
    pub fn per_minute(per_minute: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Throttle { limiter, clock: DefaultClock::default() }
    }

    /// `Err(seconds)` to wait when `key` is over its limit.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets keys whose allowance is back to full, bounding memory.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_runs_out_and_says_when_it_returns() {
        let throttle = Throttle::per_minute(2);
        assert!(throttle.check(&1).is_ok());
        assert!(throttle.check(&1).is_ok());
        let wait = throttle.check(&1).unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(throttle.check(&2).is_ok(), "limits are per key");
        let unlimited = Throttle::per_minute(0);
        assert!((0..1000).all(|_| unlimited.check(&1).is_ok()));
    }
}
