//! How an event source mapping scales, as pure rules of the model's
//! numbers: the concurrency after each step ([`next_concurrency`]) and after
//! a failed invocation ([`after_error`]). Apart from the running mapping so
//! that `sim plan`'s screen applies the same rule without running anything.

use std::time::Duration;

use super::super::model::Model;

/// How a mapping scales, from the model: concurrent batches at first, added
/// a minute while messages wait (in steps of `step`), at most, and the
/// share given up at a failed invocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    pub initial: usize,
    pub per_minute: u32,
    pub step: Duration,
    pub max: usize,
    pub error_backoff: f64,
}

impl Scaling {
    /// The fewest concurrent batches AWS keeps a mapping at, with
    /// `maximumConcurrency` `cap`: the initial concurrency, or the cap if
    /// lower. Scaling down, a failed invocation and a throttle all stop
    /// here.
    pub fn floor(&self, cap: usize) -> usize {
        self.initial.min(cap)
    }

    pub fn of(model: &Model) -> Scaling {
        let c = &model.c;
        Scaling {
            initial: model.v(&c.esm_initial_concurrency) as usize,
            per_minute: model.v(&c.esm_scale_per_minute) as u32,
            step: Duration::from_secs_f64(model.v(&c.esm_scale_step_secs).max(0.001)),
            max: model.v(&c.esm_max_concurrency) as usize,
            error_backoff: model.v(&c.esm_error_backoff),
        }
    }

    /// The most concurrent batches: AWS's ceiling, or `maximumConcurrency`.
    pub fn cap(&self, maximum_concurrency: Option<usize>) -> usize {
        maximum_concurrency.unwrap_or(self.max).min(self.max)
    }

    /// How often the concurrency moves.
    pub fn tick(&self) -> Duration {
        self.step
    }

    /// How many concurrent batches step `n` (from 0) adds or takes away:
    /// the rate's share of a minute, its fractions carried to later steps.
    pub fn per_step(&self, n: u64) -> usize {
        let rate = f64::from(self.per_minute) * self.step.as_secs_f64() / 60.0;
        let by = |n: u64| (n as f64 * rate).floor() as usize;
        by(n + 1) - by(n)
    }
}

/// The mapping's concurrency after step `n` from `now`: the step's worth
/// more while messages wait, as many fewer (not below the initial) while
/// none do; never above `cap`.
pub fn next_concurrency(scaling: &Scaling, cap: usize, now: usize, waiting: bool, n: u64) -> usize {
    let floor = scaling.floor(cap);
    let by = scaling.per_step(n);
    if waiting {
        (now + by).min(cap)
    } else {
        now.saturating_sub(by).max(floor)
    }
}

/// The mapping's concurrency after a failed invocation: the model's share
/// of `now` given up (a draw `u` in [0, 1) rounds it, so that on average it
/// is the share), not below the floor AWS keeps a mapping with
/// `maximumConcurrency` at (the initial, or the cap if lower).
pub fn after_error(scaling: &Scaling, cap: usize, now: usize, u: f64) -> usize {
    let floor = scaling.floor(cap);
    let cut = (now as f64 * scaling.error_backoff + u).floor() as usize;
    now.saturating_sub(cut).max(floor)
}
