//! A Lambda function's execution environments: created by a cold start that
//! runs the deployed init, reused while warm (one invocation at a time
//! each), reaped after an idle time; concurrency limited by the function's
//! reserved concurrency (or the account's unreserved pool), with a throttle
//! past it, as Lambda does.
//!
//! What the model charges an environment ([`Costs`]): a cold start's
//! runtime start, secret reads and the extra round trips of a TLS connect
//! (in its zone) before the real init; a handler's CPU time stretched to
//! the function's share of a vCPU (measured per invocation, see
//! [`super::cpu`]); the function's timeout, past which the invocation fails
//! and the environment is restarted; and a reaped environment whose
//! connections, with the model's probability, stay open on the server until
//! its `wait_timeout`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use orderflow_lambda::Environment;
use orderflow_lambda::InitError;

use crate::aws::settings::FunctionName;
use tokio::sync::Semaphore;

use super::bill;
use super::cpu::{self, Metered};
use super::model::Model;

/// The availability zone an environment runs in: the database's, or the
/// other one the functions' subnets span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Near,
    Far,
}

/// The init of one execution environment in a zone (what the function's
/// `main` runs before it serves invocations).
pub type Init =
    Box<dyn Fn(Zone) -> BoxFuture<'static, Result<Environment, InitError>> + Send + Sync>;

/// What the model charges the function's environments.
#[derive(Debug, Clone)]
pub struct Costs {
    /// A cold start before the init runs: the runtime's start and the
    /// secret reads.
    pub start: Duration,
    /// The queues the deployed init checks, one SQS call each.
    pub queue_checks: u32,
    /// Round trips a cold start's connect takes beyond those the plain
    /// connection through the modelled network already pays (TLS and full
    /// authentication).
    pub connect_round_trips: f64,
    /// The round trip to the database from each zone.
    pub rtt_near: Duration,
    pub rtt_far: Duration,
    /// The chance an environment lands in the far zone.
    pub far_share: f64,
    /// How much longer CPU work takes in an environment than on this
    /// machine's core (`Model::cpu_stretch`).
    pub cpu_stretch: f64,
    /// The function's timeout.
    pub timeout: Duration,
    /// Idle time before an environment is reaped.
    pub idle: Duration,
    /// The chance a reaped environment's connections linger, and for how
    /// long (the server's `wait_timeout`).
    pub linger_share: f64,
    pub wait_timeout: Duration,
}

impl Costs {
    /// The modelled part of a cold start in `zone`.
    pub fn cold_start(&self, zone: Zone) -> Duration {
        let rtt = match zone {
            Zone::Near => self.rtt_near,
            Zone::Far => self.rtt_far,
        };
        self.start + rtt.mul_f64(self.connect_round_trips.max(0.0))
    }
}

/// What a function's environments did, for the report.
#[derive(Debug, Default)]
pub struct FunctionStats {
    pub invocations: AtomicU64,
    pub cold_starts: AtomicU64,
    pub init_failures: AtomicU64,
    /// Invocations refused because the function was at its concurrency limit.
    pub throttles: AtomicU64,
    /// Invocations that ran past the function's timeout.
    pub timeouts: AtomicU64,
    /// Environments alive now (busy or warm).
    pub environments: AtomicU64,
    /// Invocations running now.
    pub busy: AtomicU64,
    /// Most environments alive at once.
    pub peak_environments: AtomicU64,
    /// Sum of the cold starts' init times (modelled part included), µs.
    pub init_micros: AtomicU64,
    /// Environments started in the far zone.
    pub far_zone: AtomicU64,
    /// The handlers' CPU time on this machine, and the time slept for the
    /// function's share of a vCPU (charged at the reference host's speed,
    /// [`cpu::host_speed`]), µs.
    pub cpu_micros: AtomicU64,
    /// What Lambda bills: each invocation's duration, its init's included
    /// (a custom runtime's init is billed), rounded up to the millisecond.
    pub billed_ms: AtomicU64,
    pub stretch_micros: AtomicU64,
    /// Time this host's own run of the handlers took beyond what the
    /// function's share allows (it could not emulate Lambda), µs.
    pub short_micros: AtomicU64,
    /// Reaped environments whose connections are still open on the server.
    pub lingering: AtomicU64,
    pub reaped: AtomicU64,
}

/// One invocation, as its `REPORT` line and EMF record would show it on
/// AWS (`sim run --observed`).
#[derive(Debug, Clone, Copy)]
pub struct Invocation {
    /// When it ended.
    pub ended: Instant,
    pub duration: Duration,
    /// The cold start's init, on a cold start.
    pub init: Option<Duration>,
    /// The handler's CPU time in Lambda's core (what the environment's
    /// CPU clock reads), and the same work's on the reference host.
    pub cpu: Duration,
    pub reference_cpu: Duration,
}

/// Why an invocation did not run to its end.
#[derive(Debug, Clone)]
pub enum InvokeError {
    /// At the concurrency limit (Lambda's `TooManyRequestsException`).
    Throttled,
    /// The cold start's init failed, and why.
    InitFailed(Arc<InitError>),
    /// The invocation ran past the function's timeout and was stopped.
    TimedOut,
}

struct Warm {
    env: Environment,
    /// The code version it started with ([`Function::redeploy`]).
    version: u64,
    since: Instant,
    /// Time the environment owes for its CPU share, not yet slept (a sleep
    /// is at least a millisecond; smaller debts add up).
    debt: f64,
}

pub struct Function {
    pub name: FunctionName,
    /// Reserved concurrency, or the account's pool shared with every
    /// function without one.
    concurrency: Arc<Semaphore>,
    init: Init,
    pub costs: Costs,
    model: Arc<Model>,
    warm: Mutex<Vec<Warm>>,
    /// The code version new environments start with.
    version: AtomicU64,
    /// Reaped environments kept (with their connections) until the server
    /// would close them.
    lingering: Mutex<Vec<(Environment, Instant)>>,
    pub stats: FunctionStats,
    /// Every invocation that ran to its end, in the order they ended, once
    /// asked for ([`Function::record_invocations`]; `sim run --observed`).
    invocations: Mutex<Option<Vec<Invocation>>>,
}

impl Function {
    pub fn new(
        name: FunctionName,
        concurrency: Arc<Semaphore>,
        costs: Costs,
        model: Arc<Model>,
        init: Init,
    ) -> Arc<Self> {
        Arc::new(Function {
            name,
            concurrency,
            init,
            costs,
            model,
            warm: Mutex::new(Vec::new()),
            version: AtomicU64::new(0),
            lingering: Mutex::new(Vec::new()),
            stats: FunctionStats::default(),
            invocations: Mutex::new(None),
        })
    }

    /// Runs `call` in a warm environment, or in a new one after a cold
    /// start; the environment is warm again afterwards, unless the call ran
    /// past the timeout (Lambda then starts the runtime anew).
    pub async fn invoke<T, F, Fut>(&self, call: F) -> Result<T, InvokeError>
    where
        F: FnOnce(Environment) -> Fut,
        Fut: Future<Output = T>,
    {
        let Ok(_permit) = self.concurrency.try_acquire() else {
            self.stats.throttles.fetch_add(1, Ordering::Relaxed);
            return Err(InvokeError::Throttled);
        };
        let s = &self.stats;
        s.invocations.fetch_add(1, Ordering::Relaxed);
        s.busy.fetch_add(1, Ordering::Relaxed);
        let _busy = Decrement(&s.busy);
        let _billed = Billed(&s.billed_ms, Instant::now());
        let (warm, init) = match self.take_warm() {
            Some(warm) => (warm, None),
            None => {
                let started = Instant::now();
                (self.cold_start().await?, Some(started.elapsed()))
            }
        };
        let started = Instant::now();
        let Warm {
            env, debt, version, ..
        } = warm;
        let factor = cpu::host_speed() * self.costs.cpu_stretch;
        let run = async {
            let (out, charge) = Metered::new(call(env.clone()), factor, debt).await;
            s.cpu_micros
                .fetch_add(charge.cpu.as_micros() as u64, Ordering::Relaxed);
            s.stretch_micros
                .fetch_add(charge.slept.as_micros() as u64, Ordering::Relaxed);
            s.short_micros
                .fetch_add((charge.short * 1e6) as u64, Ordering::Relaxed);
            let reference_cpu = charge.cpu.mul_f64(cpu::host_speed());
            self.record(Invocation {
                ended: Instant::now(),
                duration: started.elapsed(),
                init,
                cpu: reference_cpu.mul_f64(self.model.v(&self.model.c.lambda_cpu_slowdown)),
                reference_cpu,
            });
            (out, charge.debt)
        };
        match tokio::time::timeout(self.costs.timeout, run).await {
            // An environment of an older version is not kept warm: a
            // deploy replaced it while it ran.
            Ok((out, debt)) if version == self.version.load(Ordering::Relaxed) => {
                self.lock().push(Warm {
                    env,
                    version,
                    since: Instant::now(),
                    debt,
                });
                Ok(out)
            }
            Ok((out, _)) => {
                s.environments.fetch_sub(1, Ordering::Relaxed);
                Ok(out)
            }
            Err(_) => {
                s.timeouts.fetch_add(1, Ordering::Relaxed);
                s.environments.fetch_sub(1, Ordering::Relaxed);
                Err(InvokeError::TimedOut)
            }
        }
    }

    async fn cold_start(&self) -> Result<Warm, InvokeError> {
        let s = &self.stats;
        s.cold_starts.fetch_add(1, Ordering::Relaxed);
        let zone = if self.model.uniform() < self.costs.far_share {
            s.far_zone.fetch_add(1, Ordering::Relaxed);
            Zone::Far
        } else {
            Zone::Near
        };
        let started = Instant::now();
        let checks: Duration = (0..self.costs.queue_checks)
            .map(|_| self.model.sqs_call())
            .sum();
        tokio::time::sleep(self.costs.cold_start(zone) + checks).await;
        let env = (self.init)(zone).await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        s.init_micros.fetch_add(micros, Ordering::Relaxed);
        match env {
            Ok(env) => {
                let alive = s.environments.fetch_add(1, Ordering::Relaxed) + 1;
                s.peak_environments.fetch_max(alive, Ordering::Relaxed);
                Ok(Warm {
                    env,
                    version: self.version.load(Ordering::Relaxed),
                    since: Instant::now(),
                    debt: 0.0,
                })
            }
            Err(e) => {
                s.init_failures.fetch_add(1, Ordering::Relaxed);
                Err(InvokeError::InitFailed(Arc::new(e)))
            }
        }
    }

    fn invocations_lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<Invocation>>> {
        self.invocations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on, keep each invocation that runs to its end, as its
    /// `REPORT` line would show it.
    pub fn record_invocations(&self) {
        self.invocations_lock().get_or_insert_with(Vec::new);
    }

    fn record(&self, invocation: Invocation) {
        if let Some(kept) = self.invocations_lock().as_mut() {
            kept.push(invocation);
        }
    }

    /// Every invocation kept so far (none unless asked for).
    pub fn invocations(&self) -> Vec<Invocation> {
        self.invocations_lock().clone().unwrap_or_default()
    }

    /// The most recently used warm environment: Lambda reuses warm ones,
    /// and the least used are the ones left to be reaped.
    fn take_warm(&self) -> Option<Warm> {
        self.lock().pop()
    }

    /// Reaps the environments idle longer than the idle time: each either
    /// closes its connections, or (with the model's linger share) leaves
    /// them open on the server until `wait_timeout`; and lets go of the
    /// lingering ones whose time is up. Answers how many were reaped.
    pub fn reap(&self) -> usize {
        let reaped: Vec<Warm> = {
            let mut warm = self.lock();
            let (old, young) = std::mem::take(&mut *warm)
                .into_iter()
                .partition(|w| w.since.elapsed() >= self.costs.idle);
            *warm = young;
            old
        };
        let s = &self.stats;
        s.environments
            .fetch_sub(reaped.len() as u64, Ordering::Relaxed);
        s.reaped.fetch_add(reaped.len() as u64, Ordering::Relaxed);
        let mut lingering = self.lingering_lock();
        for w in &reaped {
            if self.model.uniform() < self.costs.linger_share {
                lingering.push((w.env.clone(), Instant::now()));
            }
        }
        lingering.retain(|(_, since)| since.elapsed() < self.costs.wait_timeout);
        s.lingering.store(lingering.len() as u64, Ordering::Relaxed);
        reaped.len()
    }

    /// A new version of the code: the warm environments are dropped (their
    /// connections closed), and those busy now are dropped when their
    /// invocation ends, so the next invocations start cold.
    pub fn redeploy(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
        let n = std::mem::take(&mut *self.lock()).len();
        self.stats
            .environments
            .fetch_sub(n as u64, Ordering::Relaxed);
    }

    /// Drops every environment, warm or lingering (the end of a run).
    pub fn retire_all(&self) {
        let n = std::mem::take(&mut *self.lock()).len();
        self.stats
            .environments
            .fetch_sub(n as u64, Ordering::Relaxed);
        self.lingering_lock().clear();
        self.stats.lingering.store(0, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Warm>> {
        self.warm.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lingering_lock(&self) -> std::sync::MutexGuard<'_, Vec<(Environment, Instant)>> {
        self.lingering.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Decrement<'a>(&'a AtomicU64);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Adds the time since it was made to a counter of billed milliseconds
/// when dropped, however the invocation ends.
struct Billed<'a>(&'a AtomicU64, Instant);

impl Drop for Billed<'_> {
    fn drop(&mut self) {
        self.0
            .fetch_add(bill::billed_ms(self.1.elapsed()), Ordering::Relaxed);
    }
}
