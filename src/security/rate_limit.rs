//! Per-IP login limiter (S7) on governor's keyed GCRA, with bounded memory: stale keys are
//! dropped periodically, and past a hard cap all new keys share one bucket.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Above this many tracked addresses, unknown addresses share one overflow bucket.
const MAX_TRACKED: usize = 50_000;

pub struct LoginLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    overflow: DefaultKeyedRateLimiter<()>,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("tracked", &self.limiter.len())
            .finish()
    }
}

impl LoginLimiter {
    /// `per_minute` attempts per minute per address, all of them usable at once.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(n).allow_burst(n);
        let overflow_n = n.saturating_mul(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::keyed(quota),
            overflow: RateLimiter::keyed(Quota::per_minute(overflow_n).allow_burst(overflow_n)),
        }
    }

    /// Count one attempt; `false` when over the limit.
    pub fn check(&self, ip: IpAddr) -> bool {
        if self.limiter.len() >= MAX_TRACKED {
            self.limiter.retain_recent();
            if self.limiter.len() >= MAX_TRACKED {
                return self.overflow.check_key(&()).is_ok();
            }
        }
        self.limiter.check_key(&ip).is_ok()
    }

    /// Drop addresses whose buckets are full again (call periodically).
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleventh_attempt_is_refused() {
        let l = LoginLimiter::new(10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..10 {
            assert!(l.check(ip), "attempt {i}");
        }
        assert!(!l.check(ip));
        // Another address is unaffected.
        assert!(l.check("192.0.2.2".parse().unwrap()));
    }

    #[test]
    fn memory_stays_bounded_under_a_flood() {
        let l = LoginLimiter::new(10);
        for i in 0..(MAX_TRACKED as u32 + 5_000) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = l.check(ip);
        }
        assert!(l.tracked() <= MAX_TRACKED + 1);
    }
}
