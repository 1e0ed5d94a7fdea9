//! Fault injection: seeded, reproducible decisions to break things on purpose,
//! each kind switched on with a rate, and a count of every fault injected.
//! Every fault is injected from outside the pipeline, by decorators of the
//! queues ([`super::queue_faults`]) and of the store ([`FaultyStore`]), and
//! by the sim's connection killer.
//!
//! The seed fixes the sequence of decisions; which batch meets which decision
//! still depends on thread scheduling, as in any concurrent system.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::events::OrderCreated;
use crate::store::{Applied, OrderStore, StoreDecorator, StoreError};

/// Declares [`FaultKind`] and its list [`FaultKind::ALL`] from one list of
/// variants, so a new kind is in the list (and the arrays sized from it)
/// by construction: no counter can be indexed out of bounds.
macro_rules! fault_kinds {
    ($($(#[$doc:meta])* $kind:ident,)*) => {
        /// The kinds of fault, in the order reports list them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FaultKind {
            $($(#[$doc])* $kind,)*
        }

        impl FaultKind {
            /// Every kind, in declaration order (`kind as usize` is its index).
            pub const ALL: [FaultKind; [$(FaultKind::$kind),*].len()] = [$(FaultKind::$kind),*];
        }
    };
}

fault_kinds! {
    /// A message is enqueued twice, as SQS may deliver it twice.
    DuplicateDelivery,
    /// The processor dies before the commit: nothing of its batch applied.
    CrashBeforeCommit,
    /// The processor dies after the commit, before it publishes and deletes.
    CrashAfterCommit,
    /// Publishing `OrderProcessed` fails.
    PublishFailure,
    /// A batch's visibility timeout runs out while it is being processed, so
    /// another worker receives the same messages.
    VisibilityExpiry,
    /// An undecodable message lands on the order queue (beside an accepted
    /// order).
    PoisonMessage,
    /// The database server kills one of the pool's connections.
    KilledConnection,
}

/// One value per fault kind.
type PerKind<T> = [T; FaultKind::ALL.len()];

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::DuplicateDelivery => "duplicate-delivery",
            FaultKind::CrashBeforeCommit => "crash-before-commit",
            FaultKind::CrashAfterCommit => "crash-after-commit",
            FaultKind::PublishFailure => "publish-failure",
            FaultKind::VisibilityExpiry => "visibility-expiry",
            FaultKind::PoisonMessage => "poison-message",
            FaultKind::KilledConnection => "kill-connection",
        }
    }

    /// The rate `--faults all` uses.
    pub fn default_rate(self) -> f64 {
        match self {
            FaultKind::DuplicateDelivery => 0.05,
            FaultKind::CrashBeforeCommit => 0.03,
            FaultKind::CrashAfterCommit => 0.03,
            FaultKind::PublishFailure => 0.03,
            FaultKind::VisibilityExpiry => 0.03,
            FaultKind::PoisonMessage => 0.01,
            FaultKind::KilledConnection => 0.2,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Which faults to inject, and how often (a probability per occasion).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    rates: PerKind<f64>,
}

impl FaultPlan {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn all() -> Self {
        let mut plan = Self::none();
        for k in FaultKind::ALL {
            plan.rates[k.index()] = k.default_rate();
        }
        plan
    }

    pub fn with(mut self, kind: FaultKind, rate: f64) -> Self {
        self.rates[kind.index()] = rate.clamp(0.0, 1.0);
        self
    }

    pub fn rate(&self, kind: FaultKind) -> f64 {
        self.rates[kind.index()]
    }

    pub fn is_empty(&self) -> bool {
        self.rates.iter().all(|r| *r == 0.0)
    }
}

/// `none`, `all`, or a comma-separated list of `kind` or `kind=rate`, e.g.
/// `duplicate-delivery=0.1,crash-before-commit`.
/// Why `--faults` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultPlanError {
    #[error("unknown fault {name:?}; known: all, none, {}", FaultKind::ALL.map(FaultKind::name).join(", "))]
    Unknown { name: String },
    #[error("rate of {name} must be a number from 0 to 1, got {rate:?}")]
    Rate { name: String, rate: String },
}

impl FromStr for FaultPlan {
    type Err = FaultPlanError;
    fn from_str(s: &str) -> Result<Self, FaultPlanError> {
        match s.trim() {
            "" | "none" => return Ok(Self::none()),
            "all" => return Ok(Self::all()),
            _ => {}
        }
        let mut plan = Self::none();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, rate) = match part.split_once('=') {
                Some((n, r)) => (n.trim(), Some(r.trim())),
                None => (part, None),
            };
            let kind = FaultKind::ALL
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| FaultPlanError::Unknown {
                    name: name.to_owned(),
                })?;
            let rate = match rate {
                None => kind.default_rate(),
                Some(r) => match r.parse::<f64>() {
                    Ok(r) if (0.0..=1.0).contains(&r) => r,
                    _ => {
                        return Err(FaultPlanError::Rate {
                            name: name.to_owned(),
                            rate: r.to_owned(),
                        })
                    }
                },
            };
            plan = plan.with(kind, rate);
        }
        Ok(plan)
    }
}

/// The injector: a plan, a seeded random source, and counters.
pub struct Faults {
    plan: FaultPlan,
    stopped: std::sync::atomic::AtomicBool,
    rng: Mutex<StdRng>,
    injected: PerKind<AtomicU64>,
}

impl Faults {
    pub fn new(plan: FaultPlan, seed: u64) -> Arc<Self> {
        Arc::new(Faults {
            plan,
            stopped: Default::default(),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            injected: Default::default(),
        })
    }

    /// Injects nothing.
    pub fn none() -> Arc<Self> {
        Self::new(FaultPlan::none(), 0)
    }

    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Ends the injection: every later decision is "no fault" (the outage
    /// is over). Counts are kept.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn rate(&self, kind: FaultKind) -> f64 {
        if self.stopped.load(Ordering::SeqCst) {
            0.0
        } else {
            self.plan.rate(kind)
        }
    }

    /// Decides whether to inject a fault of `kind` now, and counts it if so.
    pub fn roll(&self, kind: FaultKind) -> bool {
        let rate = self.rate(kind);
        if rate <= 0.0 {
            return false;
        }
        let hit = self
            .rng
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .gen_bool(rate);
        if hit {
            self.injected[kind.index()].fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Decides like [`Faults::roll`] without counting: for faults that may
    /// turn out impossible (nothing to kill), counted with [`Faults::count`].
    pub fn chance(&self, kind: FaultKind) -> bool {
        let rate = self.rate(kind);
        rate > 0.0
            && self
                .rng
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .gen_bool(rate)
    }

    /// Counts a fault injected outside [`Faults::roll`].
    pub fn count(&self, kind: FaultKind) {
        self.injected[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn injected(&self, kind: FaultKind) -> u64 {
        self.injected[kind.index()].load(Ordering::Relaxed)
    }

    /// A uniform pick in `0..n` from the same seeded source.
    pub fn pick(&self, n: usize) -> usize {
        self.rng
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .gen_range(0..n.max(1))
    }
}

/// The payload of an injected crash: a panic in the processor's task, which
/// unwinds it as a dying process would end it. The app's supervisor starts
/// the worker again (see `engine::app`); the sim keeps these panics quiet.
#[derive(Debug, Clone, Copy)]
pub struct InjectedCrash(pub FaultKind);

/// A store whose `apply` crashes as its [`Faults`] say: before the commit
/// (nothing of the batch applied), or after it (applied, but the processor
/// dies before it publishes and deletes). Either way its messages come back
/// after their visibility timeout. Everything else passes through.
pub struct FaultyStore {
    inner: Arc<dyn OrderStore>,
    faults: Arc<Faults>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn OrderStore>, faults: Arc<Faults>) -> Arc<Self> {
        Arc::new(FaultyStore { inner, faults })
    }

    fn crash_if(&self, kind: FaultKind) {
        if self.faults.roll(kind) {
            std::panic::panic_any(InjectedCrash(kind));
        }
    }
}

#[async_trait]
impl StoreDecorator for FaultyStore {
    fn inner(&self) -> &dyn OrderStore {
        &*self.inner
    }
    async fn apply(&self, orders: &[OrderCreated]) -> Result<Vec<Applied>, StoreError> {
        self.crash_if(FaultKind::CrashBeforeCommit);
        let applied = self.inner.apply(orders).await?;
        self.crash_if(FaultKind::CrashAfterCommit);
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_from_the_command_line() {
        assert_eq!("none".parse::<FaultPlan>().unwrap(), FaultPlan::none());
        assert_eq!("all".parse::<FaultPlan>().unwrap(), FaultPlan::all());
        let p: FaultPlan = "duplicate-delivery=0.5, crash-before-commit"
            .parse()
            .unwrap();
        assert_eq!(p.rate(FaultKind::DuplicateDelivery), 0.5);
        assert_eq!(p.rate(FaultKind::CrashBeforeCommit), 0.03);
        assert_eq!(p.rate(FaultKind::PublishFailure), 0.0);
        assert!("explode"
            .parse::<FaultPlan>()
            .unwrap_err()
            .to_string()
            .contains("unknown fault"));
        assert!("publish-failure=2".parse::<FaultPlan>().is_err());
    }

    #[test]
    fn the_same_seed_makes_the_same_decisions() {
        let plan = FaultPlan::none().with(FaultKind::PublishFailure, 0.3);
        let a = Faults::new(plan.clone(), 9);
        let b = Faults::new(plan, 9);
        let da: Vec<bool> = (0..200)
            .map(|_| a.roll(FaultKind::PublishFailure))
            .collect();
        let db: Vec<bool> = (0..200)
            .map(|_| b.roll(FaultKind::PublishFailure))
            .collect();
        assert_eq!(da, db);
        let hits = da.iter().filter(|h| **h).count() as u64;
        assert!((30..90).contains(&hits), "about 30% of 200, got {hits}");
        assert_eq!(a.injected(FaultKind::PublishFailure), hits);
        assert!(
            !a.roll(FaultKind::CrashAfterCommit),
            "a kind at rate 0 never fires"
        );
    }
}
