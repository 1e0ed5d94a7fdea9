//! The cheap half of a plan: each candidate judged by arithmetic on the
//! model's per-operation costs (SQS calls, round trips, the CPU share a
//! function's memory buys, the mappings' scaling), the load's shape and
//! the connection budget, and priced by the same bill a run gets. Only the
//! survivors are run in the sim ([`super::confirm`]); an estimate here
//! decides nothing on its own.
//!
//! Here the screen, its verdict and what it caches across candidates; the
//! arithmetic by part: each operation's cost ([`costs`]), the queues over
//! the sale ([`flow`]), the bill ([`price`]).

mod costs;
mod flow;
mod price;

use std::cell::RefCell;
use std::collections::HashMap;

use crate::aws::settings::{Architecture, DeploymentSettings};

use super::space::{Candidate, MappingChoice};
use super::Load;
use crate::aws::bill::Prices;
use crate::aws::model::Model;

/// Step of the queue arithmetic over the sale, seconds.
const STEP: f64 = 0.02;
/// How long after the sale the queues may take to drain before a
/// candidate counts as unable to keep up, seconds.
const DRAIN_SECS: f64 = 60.0;

/// What the arithmetic says of one candidate.
#[derive(Debug, Clone, Default)]
pub struct Estimate {
    /// Ingest environments busy at the throttle's rate (with the margin),
    /// or while the sale's opening starts them cold, whichever is more.
    pub ingest_needed: f64,
    /// Orders a second the processor's mapping can take at its cap.
    pub processor_capacity: f64,
    pub notifier_capacity: f64,
    /// Accept-to-processed at the worst moment of the sale, ms.
    pub p99_ms: f64,
    /// Seconds after the sale's end until the order queue is empty.
    pub drain_secs: f64,
    /// The connection budget: (needed, available).
    pub connections: (u32, u32),
    /// What one sale costs on this shape, and its month idle.
    pub sale_usd: f64,
    pub idle_month_usd: f64,
    /// A month: idle, plus the load's sales.
    pub month_usd: f64,
}

/// Whether a candidate goes on to be confirmed, and if not, why.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Kept,
    Dropped(Reason),
}

/// Why the arithmetic drops a candidate: each is a target or a rule the
/// shape breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// A batch over 10 messages needs a batching window (AWS).
    WindowRequired,
    /// The functions could open more connections than the instance allows.
    ConnectionBudget,
    /// The reservations and what Lambda keeps unreserved exceed the
    /// account's concurrency.
    AccountConcurrency,
    /// The stage throttle refuses the peak.
    Throttle,
    /// Ingest's reserved concurrency is below what the throttle admits.
    IngestConcurrency,
    /// The processor cannot keep up: the queue does not drain in time.
    ProcessorCapacity,
    NotifierCapacity,
    /// The estimated p99 is above the target.
    P99,
}

impl Reason {
    pub fn describe(self) -> &'static str {
        match self {
            Reason::WindowRequired => {
                "a batch over 10 messages without a batching window (AWS refuses it)"
            }
            Reason::ConnectionBudget => {
                "the functions could open more connections than max_connections less the reserve"
            }
            Reason::AccountConcurrency => {
                "the reservations leave the account less than the 100 unreserved Lambda keeps"
            }
            Reason::Throttle => "the stage throttle is below the peak (customers get 429)",
            Reason::IngestConcurrency => {
                "ingest's reserved concurrency is below what the throttle admits (customers get 500)"
            }
            Reason::ProcessorCapacity => {
                "the processor's mapping cannot drain the sale's queue within a minute"
            }
            Reason::NotifierCapacity => {
                "the notifier's mapping cannot drain the processed queue within a minute"
            }
            Reason::P99 => "the estimated p99 accept-to-processed is above the target",
        }
    }
}

/// What the screen needs besides the candidate.
pub struct Screen<'a> {
    pub model: &'a Model,
    pub prices: &'a Prices,
    pub base: &'a DeploymentSettings,
    pub multi_az: bool,
    pub p99_target_ms: f64,
    pub sales_per_month: f64,
    /// What many candidates share, worked out once.
    pub cache: Cache,
}

/// The queues' flow depends on the mappings and the consumers' memory
/// only; the connection budget on the limit and the consumers' caps; the
/// bill on the class, architecture, ingest memory and the flow.
type FlowKey = (MappingChoice, MappingChoice, u32, LoadKey);
/// A load, as a key: its requests, its duration's bits, its profile.
type LoadKey = (usize, u64, String);
type BudgetKey = (u32, u32, u32, u32, u32);
/// The connection budget (needed, available), and whether the account
/// holds the reservations.
type Fits = ((u32, u32), bool);
type BillKey = (String, Architecture, u32, FlowKey);

#[derive(Default)]
pub struct Cache {
    flows: RefCell<HashMap<FlowKey, Flow>>,
    budgets: RefCell<HashMap<BudgetKey, Fits>>,
    bills: RefCell<HashMap<BillKey, (f64, f64, f64)>>,
}

/// One mapping's arithmetic: how long a full batch takes from its first
/// receive to its delete, ms.
struct Cycle {
    gather_ms: f64,
    handler_ms: f64,
    delete_ms: f64,
}

impl Screen<'_> {
    /// The candidate's estimate under `load`, and whether it is kept.
    pub fn judge(&self, c: &Candidate, load: &Load) -> (Verdict, Estimate) {
        let (connections, fits_account) = self.budget(c);
        let mut e = Estimate {
            connections,
            ingest_needed: self.ingest_needed(c, load),
            ..Estimate::default()
        };
        let full = f64::from(c.processor.batch_size);
        e.processor_capacity = (f64::from(c.processor.maximum_concurrency) * full
            / self.turn_ms(&self.processor_cycle(c, full, f64::INFINITY), 0.0))
        .min(full / self.lock_hold_ms(c, full))
            * 1000.0;
        let nfull = f64::from(c.notifier.batch_size);
        e.notifier_capacity = f64::from(c.notifier.maximum_concurrency) * nfull
            / self.turn_ms(&self.notifier_cycle(c, nfull, f64::INFINITY), 0.0)
            * 1000.0;
        let flow = self.cached_flow(c, load);
        e.p99_ms = flow.worst_ms;
        e.drain_secs = flow.drain_secs;
        (e.sale_usd, e.idle_month_usd, e.month_usd) = self.cached_bill(c, load, &flow);
        let reason = match fits_account {
            true => self.reason(c, load, &e, &flow),
            false => Some(Reason::AccountConcurrency),
        };
        (reason.map_or(Verdict::Kept, Verdict::Dropped), e)
    }

    /// The first rule or target the candidate breaks, in the order a
    /// deployment meets them.
    fn reason(&self, c: &Candidate, load: &Load, e: &Estimate, flow: &Flow) -> Option<Reason> {
        let peak = load.peak();
        if [c.processor, c.notifier]
            .iter()
            .any(|m| m.batch_size > 10 && m.window_secs == 0)
        {
            Some(Reason::WindowRequired)
        } else if e.connections.0 > e.connections.1 {
            Some(Reason::ConnectionBudget)
        } else if f64::from(c.throttle.rate) < peak * 1.1 {
            Some(Reason::Throttle)
        } else if f64::from(c.ingest_reserved) < e.ingest_needed {
            Some(Reason::IngestConcurrency)
        } else if flow.drain_secs > DRAIN_SECS {
            Some(Reason::ProcessorCapacity)
        } else if e.notifier_capacity < load.mean() || flow.notifier_drain_secs > DRAIN_SECS {
            Some(Reason::NotifierCapacity)
        } else if e.p99_ms > self.p99_target_ms {
            Some(Reason::P99)
        } else {
            None
        }
    }

    /// The connection budget of the candidate's settings (the engine's
    /// rule, the one Pulumi checks): (needed, available); and whether the
    /// account's concurrency holds its reservations.
    fn budget(&self, c: &Candidate) -> Fits {
        let key = (
            c.max_connections,
            c.processor.maximum_concurrency,
            c.processor_pool,
            c.notifier.maximum_concurrency,
            c.ingest_reserved,
        );
        *self
            .cache
            .budgets
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| {
                let s = c.settings(self.base);
                let b = s.connection_budget();
                ((b.needed(), b.available), s.fits_account())
            })
    }

    fn flow_key(c: &Candidate, load: &Load) -> FlowKey {
        let profile = format!("{:?}{:?}", load.profile.shape, load.profile.burst);
        let load = (load.orders, load.duration.to_bits(), profile);
        (c.processor, c.notifier, c.processor_memory, load)
    }

    fn cached_flow(&self, c: &Candidate, load: &Load) -> Flow {
        let key = Self::flow_key(c, load);
        if let Some(f) = self.cache.flows.borrow().get(&key) {
            return f.clone();
        }
        let f = self.flow(c, load);
        self.cache.flows.borrow_mut().insert(key, f.clone());
        f
    }

    /// (one sale, the month idle, a month with the load's sales), USD.
    fn cached_bill(&self, c: &Candidate, load: &Load, flow: &Flow) -> (f64, f64, f64) {
        let key = (
            c.class.clone(),
            c.architecture,
            c.ingest_memory,
            Self::flow_key(c, load),
        );
        if let Some(b) = self.cache.bills.borrow().get(&key) {
            return *b;
        }
        let b = self.price(&self.usage(c, load, flow));
        self.cache.bills.borrow_mut().insert(key, b);
        b
    }
}

/// The queues over the sale, step by step.
#[derive(Debug, Clone, Default)]
struct Flow {
    /// The longest an order waits from accept to processed, ms.
    worst_ms: f64,
    drain_secs: f64,
    notifier_drain_secs: f64,
    processor_batches: f64,
    notifier_batches: f64,
    /// Most of each mapping's environments at once.
    processor_envs: f64,
    notifier_envs: f64,
}
