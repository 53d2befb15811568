//! Hysteresis, ramp and flapping: pure functions over the previous state and this run's
//! result, so every rule is unit-tested without a database or a network.
//!
//! Two levels:
//! - a (location, mirror) row of the map is taken out of service only after
//!   `failures_to_down` consecutive unhealthy probes and put back only after
//!   `successes_to_up` consecutive healthy ones — a single blip moves nothing. A 404/403
//!   (inactive) takes effect at once: the file is not there, a user sent there gets a 404.
//! - a mirror goes `down` (effective weight 0 %) after `failures_to_down` consecutive failed
//!   runs, comes back after `successes_to_up` good runs as `ramping` at a fraction of its
//!   rating, and reaches 100 % over `ramp_runs` good runs.

use crate::probe::Class;
use bouncer_core::config::SentryConfig;

/// The thresholds, from the `[sentry]` configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub failures_to_down: i32,
    pub successes_to_up: i32,
    pub ramp_runs: i32,
}

impl Policy {
    pub fn from_config(c: &SentryConfig) -> Self {
        let clamp = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        Self {
            failures_to_down: clamp(c.failures_to_down).max(1),
            successes_to_up: clamp(c.successes_to_up).max(1),
            ramp_runs: clamp(c.ramp_runs),
        }
    }

    /// Weight added per good run while ramping (the first step included).
    fn ramp_step(&self) -> i32 {
        if self.ramp_runs <= 1 {
            100
        } else {
            (100 + self.ramp_runs - 1) / self.ramp_runs
        }
    }
}

/// A map row's health as stored (`active`, `healthy` and the streak columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowState {
    pub active: bool,
    pub healthy: bool,
    pub fail_streak: i32,
    pub ok_streak: i32,
}

impl RowState {
    /// Whether bounce sends users to this row.
    pub fn served(&self) -> bool {
        self.active && self.healthy
    }

    fn is_unhealthy(&self) -> bool {
        self.active && !self.healthy
    }
}

/// The next state of a map row given this run's class (`prev` is `None` for a pair that
/// has no row yet: the first result is taken as is).
pub fn row_step(p: &Policy, prev: Option<RowState>, class: Class) -> RowState {
    let row = |active, healthy, fail_streak, ok_streak| RowState {
        active,
        healthy,
        fail_streak,
        ok_streak,
    };
    match (class, prev) {
        (Class::Inactive, _) => row(false, false, 0, 0),
        (Class::Healthy, Some(prev)) if prev.is_unhealthy() => {
            let ok = prev.ok_streak.saturating_add(1);
            if ok >= p.successes_to_up {
                row(true, true, 0, 0)
            } else {
                row(true, false, 0, ok)
            }
        }
        (Class::Healthy, _) => row(true, true, 0, 0),
        (Class::Unhealthy, prev) => {
            let fail = prev.map_or(0, |r| r.fail_streak).saturating_add(1);
            let still_served = prev.is_some_and(|r| r.served()) && fail < p.failures_to_down;
            row(true, still_served, fail, 0)
        }
    }
}

/// A row taken out of service at once (its bytes differ from the reference origin's): as
/// if `failures_to_down` probes had failed, so it comes back by the usual healthy streak.
pub fn row_down(p: &Policy) -> RowState {
    RowState {
        active: true,
        healthy: false,
        fail_streak: p.failures_to_down,
        ok_streak: 0,
    }
}

/// A mirror's state in `bouncer_mirror_health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Up,
    Down,
    Ramping,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Down => "down",
            State::Ramping => "ramping",
        }
    }

    /// Unknown text (an operator's edit) counts as `up`, like a missing row.
    pub fn parse(s: &str) -> Self {
        match s {
            "down" => State::Down,
            "ramping" => State::Ramping,
            _ => State::Up,
        }
    }
}

/// A mirror's hysteresis state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MirrorState {
    pub state: State,
    pub weight_percent: i32,
    pub fail_streak: i32,
    pub ok_streak: i32,
}

impl Default for MirrorState {
    /// A mirror sentry has never seen: up at full weight.
    fn default() -> Self {
        Self {
            state: State::Up,
            weight_percent: 100,
            fail_streak: 0,
            ok_streak: 0,
        }
    }
}

/// What changed for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Marked down: weight 0 %.
    Down,
    /// Back after enough good runs (ramping, or straight up when there is no ramp).
    Up,
    /// One more ramp step (possibly reaching 100 % and `up`).
    Ramp,
}

impl Transition {
    /// The audit action.
    pub fn action(self) -> &'static str {
        match self {
            Transition::Down => "mirror.down",
            Transition::Up => "mirror.up",
            Transition::Ramp => "mirror.ramp",
        }
    }
}

/// The next mirror state after a run that was good (`run_ok`) or failed.
pub fn mirror_step(
    p: &Policy,
    prev: MirrorState,
    run_ok: bool,
) -> (MirrorState, Option<Transition>) {
    let mut next = prev;
    if !run_ok {
        next.fail_streak = prev.fail_streak.saturating_add(1);
        next.ok_streak = 0;
        if prev.state != State::Down && next.fail_streak >= p.failures_to_down {
            next.state = State::Down;
            next.weight_percent = 0;
            return (next, Some(Transition::Down));
        }
        return (next, None);
    }
    next.fail_streak = 0;
    next.ok_streak = prev.ok_streak.saturating_add(1);
    match prev.state {
        State::Up => (next, None),
        State::Down if next.ok_streak >= p.successes_to_up => {
            next.weight_percent = p.ramp_step().min(100);
            next.state = if next.weight_percent >= 100 {
                State::Up
            } else {
                State::Ramping
            };
            (next, Some(Transition::Up))
        }
        State::Down => (next, None),
        State::Ramping => {
            next.weight_percent = prev.weight_percent.saturating_add(p.ramp_step()).min(100);
            if next.weight_percent >= 100 {
                next.state = State::Up;
            }
            (next, Some(Transition::Ramp))
        }
    }
}

/// The original flapping rule: the last four log rows (newest first: `(up, rating)`)
/// alternate between up and down while the rating stayed at `rating`.
pub fn is_flapping(last: &[(bool, i32)], rating: i32) -> bool {
    last.len() >= 4
        && last[..4].iter().all(|&(_, r)| r == rating)
        && last[..4].windows(2).all(|w| w[0].0 != w[1].0)
}

/// The rating after a flapping cut: 10 % less, at least 1 less, never below 0.
pub fn cut_rating(rating: i32) -> i32 {
    if rating <= 0 {
        return rating;
    }
    (rating - (rating + 9) / 10).max(0)
}

#[cfg(test)]
mod tests;
