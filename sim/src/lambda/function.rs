//! A Lambda function's execution environments: created by a cold start that
//! runs the deployed init, reused while warm (one invocation at a time
//! each), reaped after an idle time; concurrency limited by the function's
//! reserved concurrency (or the account's unreserved pool), with a throttle
//! past it, as Lambda does.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine::app::StartError;
use engine::lambda::Environment;
use futures::future::BoxFuture;
use tokio::sync::Semaphore;

/// The init of one execution environment (what the function's `main` runs
/// before it serves invocations).
pub type Init = Box<dyn Fn() -> BoxFuture<'static, Result<Environment, StartError>> + Send + Sync>;

/// What a function's environments did, for the report.
#[derive(Debug, Default)]
pub struct FunctionStats {
    pub invocations: AtomicU64,
    pub cold_starts: AtomicU64,
    pub init_failures: AtomicU64,
    /// Invocations refused because the function was at its concurrency limit.
    pub throttles: AtomicU64,
    /// Environments alive now (busy or warm).
    pub environments: AtomicU64,
    /// Invocations running now.
    pub busy: AtomicU64,
    /// Most environments alive at once.
    pub peak_environments: AtomicU64,
    /// Sum of the cold starts' init times, in microseconds.
    pub init_micros: AtomicU64,
}

/// Why an invocation did not run.
#[derive(Debug, Clone)]
pub enum InvokeError {
    /// At the concurrency limit (Lambda's `TooManyRequestsException`).
    Throttled,
    /// The cold start's init failed; the error, with its causes.
    InitFailed(String),
}

pub struct Function {
    pub name: &'static str,
    /// Reserved concurrency, or the account's pool shared with every
    /// function without one.
    concurrency: Arc<Semaphore>,
    init: Init,
    idle_timeout: Duration,
    warm: Mutex<Vec<(Environment, Instant)>>,
    pub stats: FunctionStats,
}

impl Function {
    pub fn new(
        name: &'static str,
        concurrency: Arc<Semaphore>,
        idle_timeout: Duration,
        init: Init,
    ) -> Arc<Self> {
        Arc::new(Function {
            name,
            concurrency,
            init,
            idle_timeout,
            warm: Mutex::new(Vec::new()),
            stats: FunctionStats::default(),
        })
    }

    /// Runs `call` in a warm environment, or in a new one after a cold
    /// start; the environment is warm again afterwards.
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
        let env = match self.take_warm() {
            Some(env) => env,
            None => self.cold_start().await?,
        };
        let out = call(env.clone()).await;
        self.lock().push((env, Instant::now()));
        Ok(out)
    }

    async fn cold_start(&self) -> Result<Environment, InvokeError> {
        let s = &self.stats;
        s.cold_starts.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let env = (self.init)().await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        s.init_micros.fetch_add(micros, Ordering::Relaxed);
        match env {
            Ok(env) => {
                let alive = s.environments.fetch_add(1, Ordering::Relaxed) + 1;
                s.peak_environments.fetch_max(alive, Ordering::Relaxed);
                Ok(env)
            }
            Err(e) => {
                s.init_failures.fetch_add(1, Ordering::Relaxed);
                Err(InvokeError::InitFailed(engine::report::error_chain(&e)))
            }
        }
    }

    /// The most recently used warm environment: Lambda reuses warm ones,
    /// and the least used are the ones left to be reaped.
    fn take_warm(&self) -> Option<Environment> {
        self.lock().pop().map(|(env, _)| env)
    }

    /// Drops the environments idle longer than the idle timeout (and with
    /// them their pools' connections); answers how many.
    pub fn reap(&self) -> usize {
        let mut warm = self.lock();
        let before = warm.len();
        warm.retain(|(_, since)| since.elapsed() < self.idle_timeout);
        let reaped = before - warm.len();
        self.stats
            .environments
            .fetch_sub(reaped as u64, Ordering::Relaxed);
        reaped
    }

    /// Drops every warm environment (the end of a run).
    pub fn retire_all(&self) {
        let n = std::mem::take(&mut *self.lock()).len();
        self.stats
            .environments
            .fetch_sub(n as u64, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Environment, Instant)>> {
        self.warm.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Decrement<'a>(&'a AtomicU64);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
