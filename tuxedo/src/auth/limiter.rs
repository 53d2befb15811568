//! Failed-login limit: after `max_failures` failures for one (username, client address)
//! within `window`, further attempts are refused until the window has passed, so a
//! password cannot be guessed at request speed. In memory: a restart forgives.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept before expired ones are swept, bounding memory under a spray of names.
const SWEEP_AT: usize = 10_000;

pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<(String, IpAddr), (u32, Instant)>>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn key(user: &str, ip: IpAddr) -> (String, IpAddr) {
        (bouncer_core::names::canonical(user), ip)
    }

    /// Whether `user` from `ip` is currently locked out.
    pub fn is_blocked(&self, user: &str, ip: IpAddr) -> bool {
        self.blocked_for(user, ip).is_some()
    }

    /// How much longer `user` from `ip` is locked out; `None` when not.
    pub fn blocked_for(&self, user: &str, ip: IpAddr) -> Option<Duration> {
        self.blocked_for_at(user, ip, Instant::now())
    }

    /// Counts a failed login.
    pub fn failed(&self, user: &str, ip: IpAddr) {
        self.failed_at(user, ip, Instant::now())
    }

    /// [`Self::blocked_for`] at `now` (the clock is explicit so the window can be tested).
    fn blocked_for_at(&self, user: &str, ip: IpAddr, now: Instant) -> Option<Duration> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let (n, since) = map.get(&Self::key(user, ip))?;
        let left = self
            .window
            .checked_sub(now.saturating_duration_since(*since))?;
        (*n >= self.max_failures && !left.is_zero()).then_some(left)
    }

    /// [`Self::failed`] at `now`: a failure after the window starts a new count.
    fn failed_at(&self, user: &str, ip: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.window;
        if map.len() >= SWEEP_AT {
            map.retain(|_, (_, since)| now.saturating_duration_since(*since) < window);
        }
        let entry = map.entry(Self::key(user, ip)).or_insert((0, now));
        if now.saturating_duration_since(entry.1) >= window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// Forgets the failures of a successful login.
    pub fn succeeded(&self, user: &str, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Self::key(user, ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_per_user_and_address() {
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(!l.is_blocked("rel", a));
            l.failed("REL", a);
        }
        assert!(l.is_blocked("rel", a));
        let left = l.blocked_for("rel", a).unwrap();
        assert!(left > Duration::from_secs(50) && left <= Duration::from_secs(60));
        assert!(!l.is_blocked("rel", b));
        assert!(!l.is_blocked("other", a));
        l.succeeded("rel", a);
        assert!(!l.is_blocked("rel", a));
    }

    /// A lockout lasts the window from the first failure, not a moment longer; failures
    /// after it start a new count.
    #[test]
    fn window_expiry_forgives() {
        let window = Duration::from_secs(900);
        let l = LoginLimiter::new(2, window);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        l.failed_at("rel", a, t0);
        l.failed_at("rel", a, t0 + Duration::from_secs(1));
        let later = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(
            l.blocked_for_at("rel", a, later(899)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            l.blocked_for_at("rel", a, later(900)),
            None,
            "the window has passed"
        );
        l.failed_at("rel", a, later(901));
        assert_eq!(
            l.blocked_for_at("rel", a, later(902)),
            None,
            "one failure of a new count"
        );
        l.failed_at("rel", a, later(903));
        assert!(l.blocked_for_at("rel", a, later(904)).is_some());
    }
}
