//! Sign-in throttling (S7), two layers with bounded memory:
//! - per client network on governor's keyed GCRA: an IPv4 address, or the /64 an IPv6 address
//!   belongs to (one subscriber usually holds a whole /64, so keying by full address would give
//!   them 2^64 budgets);
//! - per account, a failure budget that a guesser spread over many networks still hits: after
//!   too many failures in a window the account is paused for a while, then opens again by itself,
//!   so the owner is never locked out for good.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Above this many tracked networks, unknown networks share one overflow bucket.
const MAX_TRACKED: usize = 50_000;

/// The key the per-network limiter counts under: IPv4 as is (an IPv4-mapped IPv6 address as the
/// IPv4 address it carries), IPv6 by its /64 prefix.
pub fn network_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

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

    /// Count one attempt from `ip`'s network; `false` when over the limit.
    pub fn check(&self, ip: IpAddr) -> bool {
        let key = network_key(ip);
        if self.limiter.len() >= MAX_TRACKED {
            self.limiter.retain_recent();
            if self.limiter.len() >= MAX_TRACKED {
                return self.overflow.check_key(&()).is_ok();
            }
        }
        self.limiter.check_key(&key).is_ok()
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

/// How many failed sign-ins an account may collect in `window` before it is paused for `pause`.
#[derive(Debug, Clone, Copy)]
pub struct AccountPolicy {
    pub max_failures: u32,
    pub window: Duration,
    pub pause: Duration,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        Self {
            max_failures: 20,
            window: Duration::from_secs(15 * 60),
            pause: Duration::from_secs(15 * 60),
        }
    }
}

/// At most this many accounts are tracked; past it, new names share one budget.
const MAX_ACCOUNTS: usize = 10_000;
/// Not a valid username (control character), so it never collides with a real account.
const OVERFLOW_ACCOUNT: &str = "\u{0}overflow";

#[derive(Debug)]
struct AccountState {
    window_start: Instant,
    failures: u32,
    paused_until: Option<Instant>,
    refusal_reported: bool,
}

/// What the account budget says about one more attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountCheck {
    Open,
    /// Refused until the pause ends; `first_refusal` is set once per pause, so the audit log gets
    /// one row per pause rather than one per guess.
    Paused {
        retry_after: Duration,
        first_refusal: bool,
    },
}

/// The per-account failure budget.
pub struct AccountGuard {
    policy: AccountPolicy,
    accounts: Mutex<HashMap<String, AccountState>>,
}

impl std::fmt::Debug for AccountGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountGuard")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl AccountGuard {
    pub fn new(policy: AccountPolicy) -> Self {
        Self {
            policy,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, AccountState>> {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn key(
        map: &mut HashMap<String, AccountState>,
        username: &str,
        now: Instant,
        policy: &AccountPolicy,
    ) -> String {
        let key = username.to_lowercase();
        if map.contains_key(&key) || map.len() < MAX_ACCOUNTS {
            return key;
        }
        Self::prune_map(map, now, policy);
        if map.len() < MAX_ACCOUNTS {
            key
        } else {
            OVERFLOW_ACCOUNT.to_owned()
        }
    }

    fn prune_map(map: &mut HashMap<String, AccountState>, now: Instant, policy: &AccountPolicy) {
        map.retain(|_, s| {
            s.paused_until.is_some_and(|t| t > now)
                || now.duration_since(s.window_start) < policy.window
        });
    }

    /// May `username` try to sign in now?
    pub fn check(&self, username: &str, now: Instant) -> AccountCheck {
        let mut map = self.lock();
        let key = Self::key(&mut map, username, now, &self.policy);
        let Some(state) = map.get_mut(&key) else {
            return AccountCheck::Open;
        };
        match state.paused_until {
            Some(until) if until > now => {
                let first_refusal = !state.refusal_reported;
                state.refusal_reported = true;
                AccountCheck::Paused {
                    retry_after: until - now,
                    first_refusal,
                }
            }
            Some(_) => {
                map.remove(&key);
                AccountCheck::Open
            }
            None => AccountCheck::Open,
        }
    }

    /// Count a failed attempt; `true` when it used up the budget and paused the account.
    pub fn record_failure(&self, username: &str, now: Instant) -> bool {
        let policy = self.policy;
        let mut map = self.lock();
        let key = Self::key(&mut map, username, now, &policy);
        let state = map.entry(key).or_insert(AccountState {
            window_start: now,
            failures: 0,
            paused_until: None,
            refusal_reported: false,
        });
        if now.duration_since(state.window_start) >= policy.window {
            state.window_start = now;
            state.failures = 0;
        }
        state.failures = state.failures.saturating_add(1);
        if state.failures >= policy.max_failures && state.paused_until.is_none() {
            state.paused_until = Some(now + policy.pause);
            return true;
        }
        false
    }

    /// A successful sign-in clears the account's count.
    pub fn record_success(&self, username: &str) {
        self.lock().remove(&username.to_lowercase());
    }

    /// Forget accounts whose window and pause are over (call periodically).
    pub fn prune(&self, now: Instant) {
        let mut map = self.lock();
        Self::prune_map(&mut map, now, &self.policy);
        map.shrink_to_fit();
    }

    pub fn tracked(&self) -> usize {
        self.lock().len()
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

    #[test]
    fn ipv6_addresses_of_one_slash_64_share_a_budget() {
        let l = LoginLimiter::new(10);
        let ips: Vec<IpAddr> = ["2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:1::3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let allowed = (0..30).filter(|i| l.check(ips[i % 3])).count();
        assert_eq!(allowed, 10, "three addresses of one /64 get one budget");
        assert!(
            l.check("2001:db8:1:2::1".parse().unwrap()),
            "another /64 is unaffected"
        );
    }

    #[test]
    fn mapped_ipv4_counts_as_the_ipv4_address() {
        assert_eq!(
            network_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            network_key("2001:db8:1:1:aaaa:bbbb:cccc:dddd".parse().unwrap()),
            "2001:db8:1:1::".parse::<IpAddr>().unwrap()
        );
    }

    fn small_policy() -> AccountPolicy {
        AccountPolicy {
            max_failures: 3,
            window: Duration::from_secs(60),
            pause: Duration::from_secs(120),
        }
    }

    #[test]
    fn an_account_pauses_after_its_budget_and_reopens_after_the_pause() {
        let g = AccountGuard::new(small_policy());
        let t0 = Instant::now();
        assert!(!g.record_failure("Owner", t0));
        assert!(!g.record_failure("owner", t0));
        assert!(g.record_failure("owner", t0), "third failure pauses");
        match g.check("OWNER", t0 + Duration::from_secs(1)) {
            AccountCheck::Paused {
                first_refusal,
                retry_after,
            } => {
                assert!(first_refusal);
                assert_eq!(retry_after, Duration::from_secs(119));
            }
            AccountCheck::Open => panic!("paused account was open"),
        }
        assert!(matches!(
            g.check("owner", t0 + Duration::from_secs(2)),
            AccountCheck::Paused {
                first_refusal: false,
                ..
            }
        ));
        assert_eq!(g.check("someone-else", t0), AccountCheck::Open);
        assert_eq!(
            g.check("owner", t0 + Duration::from_secs(121)),
            AccountCheck::Open
        );
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let g = AccountGuard::new(small_policy());
        let t0 = Instant::now();
        g.record_failure("owner", t0);
        g.record_failure("owner", t0);
        assert!(!g.record_failure("owner", t0 + Duration::from_secs(61)));
        assert_eq!(
            g.check("owner", t0 + Duration::from_secs(61)),
            AccountCheck::Open
        );
    }

    #[test]
    fn success_clears_the_count() {
        let g = AccountGuard::new(small_policy());
        let t0 = Instant::now();
        g.record_failure("owner", t0);
        g.record_failure("owner", t0);
        g.record_success("owner");
        assert!(!g.record_failure("owner", t0));
    }

    #[test]
    fn account_memory_stays_bounded() {
        let g = AccountGuard::new(small_policy());
        let t0 = Instant::now();
        for i in 0..(MAX_ACCOUNTS + 500) {
            g.record_failure(&format!("user{i}"), t0);
        }
        assert!(g.tracked() <= MAX_ACCOUNTS + 1);
        g.prune(t0 + Duration::from_secs(3600));
        assert_eq!(g.tracked(), 0);
    }
}
