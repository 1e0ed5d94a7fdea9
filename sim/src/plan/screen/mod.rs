//! The cheap half of a plan: each candidate judged by arithmetic on the
//! model's per-operation costs (SQS calls, round trips, the CPU share a
//! function's memory buys, the mappings' scaling), the load's shape and
//! the connection budget, and priced by the same bill a run gets. Only the
//! survivors are run in the sim ([`super::confirm`]); an estimate here
//! decides nothing on its own.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::aws::settings::{Architecture, DeploymentSettings, FunctionName};

use super::space::{Candidate, MappingChoice};
use super::Load;
use crate::aws::bill::{self, FunctionUsage, Prices, Usage};
use crate::aws::esm::{next_concurrency, Scaling};
use crate::aws::model::{lognormal_max_mean, lognormal_mean, CodeCosts, Cost, Model};
use crate::aws::sqs::mean_messages_per_receive;

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
    /// A cost of the code on the reference host, from the model file.
    fn code(&self, cost: impl Fn(&CodeCosts) -> &Cost) -> f64 {
        cost(&self.model.code).value
    }

    /// One SQS call's mean latency: the mean of the lognormal the sim
    /// draws each call from, above its median.
    fn sqs_ms(&self) -> f64 {
        let c = &self.model.c;
        lognormal_mean(
            self.model.v(&c.sqs_api_p50_ms),
            self.model.v(&c.sqs_api_p99_ms),
        )
    }

    /// What RDS adds to a commit on the candidate's class (its storage
    /// flush, and the standby's write if Multi-AZ), ms; and how much longer
    /// a statement's work takes there than on this machine's server.
    fn server(&self, c: &Candidate) -> (f64, f64) {
        let costs = self.model.server_costs(&c.class, self.multi_az);
        (
            costs.commit_extra.as_secs_f64() * 1000.0,
            costs.statement_stretch.max(1.0),
        )
    }

    fn rtt_ms(&self) -> f64 {
        let c = &self.model.c;
        let far = self.model.v(&c.cross_az_share);
        (1.0 - far) * self.model.v(&c.rtt_same_az_ms) + far * self.model.v(&c.rtt_cross_az_ms)
    }

    /// How often a mapping's slot finishes a batch, ms: its gathering (and
    /// `fill_ms` of its window) beside its invocation and delete where the
    /// model's pollers overlap them, one after the other where not (the
    /// simulated mapping's own structure, `esm_gather_overlaps`).
    fn turn_ms(&self, cycle: &Cycle, fill_ms: f64) -> f64 {
        // The receives wait for arrivals: gathering and filling overlap.
        let gathering = cycle.gather_ms.max(fill_ms);
        let invoking = cycle.handler_ms + cycle.delete_ms;
        match self.model.v(&self.model.c.esm_gather_overlaps) >= 0.5 {
            true => gathering.max(invoking),
            false => gathering + invoking,
        }
    }

    /// A full batch's gathering with messages waiting: one receive, then
    /// rounds of the model's parallel receives until the batch is full
    /// (crate::aws::esm).
    fn gather_ms(&self, batch: u32, depth: f64) -> f64 {
        // A receive from a shallow queue returns fewer than asked, as the
        // simulated mapping's does (`sqs::mean_messages_per_receive`).
        let full = self.model.v(&self.model.c.sqs_full_receive_depth);
        let visible = depth.max(f64::from(batch)).min(1e9) as usize;
        let each = mean_messages_per_receive(10, visible, full);
        let more = ((f64::from(batch) - each).max(0.0) / each).ceil() as u32;
        let parallel = (self.model.v(&self.model.c.esm_parallel_receives).max(1.0)) as u32;
        let rounds = more.div_ceil(parallel);
        self.sqs_ms() + f64::from(rounds) * self.sqs_max_ms(parallel.min(more.max(1)))
    }

    /// The slowest of `k` parallel SQS calls, mean, ms: what the sim waits
    /// for when it makes them at once.
    fn sqs_max_ms(&self, k: u32) -> f64 {
        let c = &self.model.c;
        lognormal_max_mean(
            self.model.v(&c.sqs_api_p50_ms),
            self.model.v(&c.sqs_api_p99_ms),
            k,
        )
    }

    fn processor_cycle(&self, c: &Candidate, batch: f64, depth: f64) -> Cycle {
        let m = self.model;
        Cycle {
            gather_ms: self.gather_ms(batch.ceil() as u32, depth),
            handler_ms: batch
                * self.code(|k| &k.processor_cpu_ms)
                * m.cpu_stretch(c.processor_memory)
                + self.code(|k| &k.processor_round_trips) * self.rtt_ms()
                + self.code(|k| &k.processor_db_ms) * self.server(c).1
                + self.server(c).0
                + self.sqs_max_ms((batch / 10.0).ceil() as u32),
            delete_ms: self.sqs_max_ms((batch / 10.0).ceil() as u32),
        }
    }

    /// How long a batch of `batch` orders holds the hot row's lock, ms.
    fn lock_hold_ms(&self, c: &Candidate, batch: f64) -> f64 {
        let (commit, stretch) = self.server(c);
        self.code(|k| &k.lock_fixed_ms)
            + self.code(|k| &k.lock_db_ms) * (stretch - 1.0)
            + self.code(|k| &k.lock_round_trips) * self.rtt_ms()
            + commit
            + batch
                * self.code(|k| &k.lock_per_order_ms)
                * self.model.cpu_stretch(c.processor_memory)
    }

    fn notifier_cycle(&self, c: &Candidate, batch: f64, depth: f64) -> Cycle {
        Cycle {
            gather_ms: self.gather_ms(batch.ceil() as u32, depth),
            handler_ms: batch
                * self.code(|k| &k.notifier_cpu_ms)
                * self.model.cpu_stretch(c.processor_memory),
            delete_ms: self.sqs_max_ms((batch / 10.0).ceil() as u32),
        }
    }

    fn ingest_ms(&self, c: &Candidate) -> f64 {
        self.code(|k| &k.ingest_cpu_ms) * self.model.cpu_stretch(c.ingest_memory) + self.sqs_ms()
    }

    /// Ingest environments the sale needs: at the throttle's rate, warm
    /// (with the model's `ingest_margin`); and at its opening, when every request the
    /// stage's bucket admits in the first second meets an environment that
    /// is still starting (its init, then its handler), whichever is more.
    fn ingest_needed(&self, c: &Candidate, load: &Load) -> f64 {
        let warm = f64::from(c.throttle.rate) * self.ingest_ms(c) / 1000.0
            * self.code(|k| &k.ingest_margin);
        let opening = load
            .rate_at(0.0)
            .min(f64::from(c.throttle.rate + c.throttle.burst));
        let cold =
            opening * (self.init_ms(FunctionName::Ingest, 1.0, false) + self.ingest_ms(c)) / 1000.0;
        warm.max(cold)
    }

    /// A cold start's init, ms: the runtime, the secrets it reads, and the
    /// connection's round trips if it has a pool.
    fn init_ms(&self, function: FunctionName, secrets: f64, pool: bool) -> f64 {
        let c = &self.model.c;
        let connect = match pool {
            true => self.model.v(&c.connect_round_trips) * self.rtt_ms(),
            false => 0.0,
        };
        // The deployed init's queue checks, as the simulated cold start
        // charges them.
        let checks = f64::from(crate::aws::queue_checks(function));
        self.model.v(&c.runtime_start_ms)
            + secrets * self.model.v(&c.secret_read_ms)
            + connect
            + checks * self.sqs_ms()
    }

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

    fn price(&self, usage: &Usage) -> (f64, f64, f64) {
        let pollers = 2.0 * self.model.v(&self.model.c.esm_initial_concurrency);
        let (Ok(sale), Ok(idle)) = (
            bill::bill(usage, self.prices),
            bill::bill(&bill::idle_month(usage, pollers), self.prices),
        ) else {
            return (f64::INFINITY, f64::INFINITY, f64::INFINITY);
        };
        // The sale's hours of the fixed items are in the idle month
        // already; a month adds what the sales use beyond them.
        let variable: f64 = sale.iter().filter(|l| !l.fixed).map(|l| l.usd).sum();
        let idle = bill::total(&idle);
        (
            bill::total(&sale),
            idle,
            idle + self.sales_per_month * variable,
        )
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

impl Screen<'_> {
    /// A fluid model of the two queues over the sale and after it: orders
    /// arrive at the profile's rate; a mapping's batches run at its scaling
    /// concurrency (the model's initial batches, growing by its rate a
    /// minute, up to `maximumConcurrency`), each taking its cycle; a batch
    /// closes full or at its window.
    fn flow(&self, c: &Candidate, load: &Load) -> Flow {
        // The mappings scale by the simulated AWS's own rule
        // (`esm::next_concurrency`), step by step.
        let scaling = Scaling::of(self.model);
        let cap = |m: &MappingChoice| scaling.cap(Some(m.maximum_concurrency as usize));
        let (p_cap, n_cap) = (cap(&c.processor), cap(&c.notifier));
        let tick = scaling.tick().as_secs_f64();
        let end = load.duration + DRAIN_SECS + 1.0;
        let mut f = Flow::default();
        let (mut orders, mut processed) = (0.0_f64, 0.0_f64);
        let (mut p_conc, mut n_conc) = (scaling.initial.min(p_cap), scaling.initial.min(n_cap));
        let (mut next_step, mut n) = (tick, 0);
        let mut t = 0.0;
        while t < end {
            let arriving = load.rate_at(t) * STEP;
            orders += arriving;
            let (served, batches, wait_ms) =
                self.serve(c, (orders, load.rate_at(t)), p_conc as f64, true);
            orders -= served;
            processed += served;
            f.processor_batches += batches;
            if arriving > 0.0 {
                f.worst_ms = f.worst_ms.max(wait_ms);
            }
            let (n_served, n_batches, _) =
                self.serve(c, (processed, load.rate_at(t)), n_conc as f64, false);
            processed -= n_served;
            f.notifier_batches += n_batches;
            if t >= next_step {
                p_conc = next_concurrency(&scaling, p_cap, p_conc, orders > 0.5, n);
                n_conc = next_concurrency(&scaling, n_cap, n_conc, processed > 0.5, n);
                (next_step, n) = (next_step + tick, n + 1);
            }
            f.processor_envs = f.processor_envs.max(p_conc as f64);
            f.notifier_envs = f.notifier_envs.max(n_conc as f64);
            if t >= load.duration && orders <= 0.5 && processed <= 0.5 {
                break;
            }
            if t >= load.duration {
                if orders > 0.5 {
                    f.drain_secs = t - load.duration;
                }
                if processed > 0.5 {
                    f.notifier_drain_secs = t - load.duration;
                }
            }
            t += STEP;
        }
        if orders > 0.5 {
            f.drain_secs = f64::INFINITY;
        }
        if processed > 0.5 {
            f.notifier_drain_secs = f64::INFINITY;
        }
        f
    }

    /// One step of a mapping: of `waiting` messages arriving at `rate` a
    /// second, what `conc` concurrent batches take in a step, how many
    /// batches that is, and how long a message arriving now waits, ms.
    fn serve(
        &self,
        c: &Candidate,
        (waiting, rate): (f64, f64),
        conc: f64,
        processor: bool,
    ) -> (f64, f64, f64) {
        let (batch, window) = match processor {
            true => (c.processor.batch_size, c.processor.window_secs),
            false => (c.notifier.batch_size, c.notifier.window_secs),
        };
        let full = f64::from(batch);
        // A batch closes at its size or its window, whichever comes first:
        // what is waiting fills it at once, the rest arrives at the rate;
        // with no window, a batch is what one round of receives finds.
        let per_batch_rate = rate / conc.max(1.0);
        let at_once = waiting / conc.max(1.0);
        let fill_ms = match window {
            0 => 0.0,
            w => (f64::from(w) * 1000.0)
                .min((full - at_once).max(0.0) / per_batch_rate.max(1e-9) * 1000.0),
        };
        let mut size = full
            .min(at_once + per_batch_rate * fill_ms / 1000.0)
            .max(1.0);
        let cycle_of = |size: f64| match processor {
            true => self.processor_cycle(c, size, waiting),
            false => self.notifier_cycle(c, size, waiting),
        };
        let mut cycle = cycle_of(size);
        // The window closes a batch whose receives are slower than it (a
        // shallow queue's): it holds what they gathered by then.
        let window_ms = f64::from(window) * 1000.0;
        if window > 0 && cycle.gather_ms > window_ms {
            size = (size * window_ms / cycle.gather_ms).max(1.0);
            cycle = cycle_of(size);
            cycle.gather_ms = cycle.gather_ms.min(window_ms);
        }
        let turn_ms = self.turn_ms(&cycle, fill_ms);
        let mut capacity = conc * size / turn_ms * 1000.0;
        if processor {
            // The batches queue for the hot row one at a time.
            capacity = capacity.min(size / self.lock_hold_ms(c, size) * 1000.0);
        }
        let served = waiting.min(capacity * STEP);
        let batches = served / size;
        let backlog_ms = (waiting - served).max(0.0) / capacity.max(1e-9) * 1000.0;
        let gathering = cycle.gather_ms.max(fill_ms);
        let wait_ms = backlog_ms + gathering + cycle.handler_ms + cycle.delete_ms;
        (served, batches, wait_ms)
    }

    /// The sale's use of the shape, in AWS's units, for its bill.
    fn usage(&self, c: &Candidate, load: &Load, f: &Flow) -> Usage {
        let orders = load.orders as f64;
        let ingest_envs = (load.peak() * self.ingest_ms(c) / 1000.0).ceil();
        let arm64 = c.architecture == Architecture::Arm64;
        let size = |batches: f64| orders / batches.max(1.0);
        let p_cycle = self.processor_cycle(c, size(f.processor_batches), f64::INFINITY);
        let n_cycle = self.notifier_cycle(c, size(f.notifier_batches), f64::INFINITY);
        let function =
            |name: &str, memory_mb, requests: f64, each_ms: f64, inits: f64, init_ms: f64| {
                FunctionUsage {
                    name: name.to_owned(),
                    memory_mb,
                    arm64,
                    requests: requests.round() as u64,
                    billed_ms: (requests * each_ms.ceil() + inits * init_ms.ceil()).round() as u64,
                }
            };
        let receives = |batches: f64, batch: u32| batches * f64::from(batch.div_ceil(10));
        let seconds = load.duration + f.drain_secs.min(DRAIN_SECS) + 5.0;
        let pollers = 2.0 * self.model.v(&self.model.c.esm_initial_concurrency);
        // A batch's publishes and deletes go out in calls of ten, as the
        // engine and the mapping make them.
        let chunks = |batches: f64| batches * (size(batches) / 10.0).ceil();
        let sqs = orders
            + 2.0 * chunks(f.processor_batches)
            + receives(f.processor_batches, c.processor.batch_size)
            + chunks(f.notifier_batches)
            + receives(f.notifier_batches, c.notifier.batch_size)
            + pollers * seconds / bill::IDLE_POLL_SECS;
        let invocations = orders + f.processor_batches + f.notifier_batches;
        let inits = ingest_envs + f.processor_envs + f.notifier_envs;
        Usage {
            seconds,
            api_requests: load.orders as u64,
            functions: vec![
                function(
                    "ingest",
                    c.ingest_memory,
                    orders,
                    self.ingest_ms(c),
                    ingest_envs,
                    self.init_ms(FunctionName::Ingest, 1.0, false),
                ),
                function(
                    "processor",
                    c.processor_memory,
                    f.processor_batches,
                    p_cycle.handler_ms,
                    f.processor_envs,
                    self.init_ms(FunctionName::Processor, 1.0, true),
                ),
                function(
                    "notifier",
                    c.processor_memory,
                    f.notifier_batches,
                    n_cycle.handler_ms,
                    f.notifier_envs,
                    self.init_ms(FunctionName::Notifier, 1.0, true),
                ),
            ],
            sqs_requests: sqs.round() as u64,
            instance_class: c.class.clone(),
            multi_az: self.multi_az,
            storage_gb: bill::STORAGE_GB,
            endpoints: bill::ENDPOINTS,
            zones: bill::ZONES,
            endpoint_bytes: load.orders as u64 * self.code(|k| &k.endpoint_bytes_per_order) as u64,
            log_bytes: invocations as u64 * bill::LOG_BYTES_PER_INVOCATION
                + load.orders as u64 * self.code(|k| &k.notification_log_bytes) as u64
                + (f.processor_batches + f.notifier_batches) as u64 * emf_line_bytes(),
            alarms: bill::ALARMS,
            secrets: bill::SECRETS,
            secret_calls: inits as u64,
        }
    }
}

/// One EMF record's line, as the engine writes it after a queue function's
/// batch (the bill of a run counts the same).
fn emf_line_bytes() -> u64 {
    crate::aws::bill::emf_line_bytes("orderflow-dev-processor")
}
