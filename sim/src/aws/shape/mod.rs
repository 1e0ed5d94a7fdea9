//! The deployed shape, running: [`Shape::build`] makes the functions, the
//! gateway and the database's proxies from the settings file and the
//! model, [`Shape::start`] its event source mappings over the pipeline's
//! queues (the module above says what each part models).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::aws::settings::{Architecture, DeploymentSettings, FunctionName};
use anyhow::Context as _;
use engine::app::{Front, QueueUse, Wrap};
use engine::config::{Config, QueueKind};
use engine::context::Context;
use engine::queue::QueueBackend;
use engine::queues::Queues;
use engine::store::{OpenedStore, OrderStore};
use futures::FutureExt;
use orderflow_lambda::{Environment, Startup};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::esm::{self, Mapping, MappingSettings, Scaling};
use super::function::{Costs, Function, Init, Zone};
use super::gateway::Gateway;
use super::model::Model;
use super::sqs::{Latent, SqsCalls};
use super::{bill, lag, rds, ShapeArgs, ShapeSample, Wiring};

/// Round trips the plain connection through the modelled network already
/// pays (the greeting, then authentication and its answer); the model's
/// `connect_round_trips` beyond these are charged to a cold start.
const PLAIN_CONNECT_ROUND_TRIPS: f64 = 2.0;

mod args;
mod parts;
mod usage;

use parts::{costs, gateway, init, secret_reads, start_rds};
pub use parts::{function_config, queue_checks};
pub use usage::ShapeSampler;

/// What `--topology lambda` runs, resolved once from the command line
/// ([`ShapeArgs::prepare`]): nothing downstream reads a file again.
pub struct ShapeSpec {
    pub settings: DeploymentSettings,
    pub model: Arc<Model>,
    pub prices: bill::Prices,
}

/// The shape's functions, by part: ingest behind `POST /api/orders`, the
/// read function if the read routes have their own, the queues' consumers.
pub struct Functions {
    pub ingest: Arc<Function>,
    pub read: Option<Arc<Function>>,
    pub processor: Arc<Function>,
    pub notifier: Arc<Function>,
}

impl Functions {
    /// Every function, in the report's order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Function>> {
        [
            Some(&self.ingest),
            self.read.as_ref(),
            Some(&self.processor),
            Some(&self.notifier),
        ]
        .into_iter()
        .flatten()
    }

    /// The function that serves the read routes.
    pub fn reader(&self) -> &Arc<Function> {
        self.read.as_ref().unwrap_or(&self.ingest)
    }
}

/// The deployed shape, running.
pub struct Shape {
    pub settings: DeploymentSettings,
    pub model: Arc<Model>,
    pub gateway: Arc<Gateway>,
    pub functions: Functions,
    /// (function name, mapping)
    pub mappings: Vec<(FunctionName, Arc<Mapping>)>,
    pub rds: Arc<rds::Rds>,
    /// The round trip from each zone, ms: (the database's, the other).
    pub rtt_ms: (f64, f64),
    /// Every SQS call the shape made.
    pub sqs: Arc<SqsCalls>,
    /// The queues' visibility timeout as the sim runs it.
    visibility: Duration,
    /// Whether the database runs Multi-AZ (`--multi-az`).
    pub multi_az: bool,
    /// When the shape was built: the start of what its bill covers.
    pub built: Instant,
    /// The functions' log bytes counted before it was built
    /// ([`crate::console::function_log_bytes`]).
    logged_before: u64,
    /// The prices its bill uses, and their region (`--region`).
    pub prices: bill::Prices,
    pub region: String,
    /// How late this host woke the shape's timers while it ran.
    pub timer_lag: Arc<lag::TimerLag>,
    wiring: Wiring,
    stop: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

/// What [`Shape::build`] needs of the sim: the database's admin connection
/// (to make the functions' user), the pipeline it wires into, and the
/// round trip to the database if one replaces the model's.
pub struct Surroundings<'a> {
    pub admin: &'a MySqlPool,
    pub admin_options: &'a MySqlConnectOptions,
    pub wiring: Wiring,
    pub rtt_ms: Option<f64>,
}

impl Shape {
    /// Creates the functions' database user and proxies, the functions and
    /// the gateway, over the pipeline's queues and books in `around`. The
    /// mappings start with [`Shape::start`]. `around.rtt_ms`, if given,
    /// replaces both zones' modelled round trips.
    pub async fn build(
        args: &ShapeArgs,
        spec: ShapeSpec,
        config: &Config,
        around: Surroundings<'_>,
    ) -> anyhow::Result<Shape> {
        let ShapeSpec {
            settings,
            model,
            prices,
        } = spec;
        let admin = (around.admin, around.admin_options);
        let (rds, rtt_ms) = start_rds(args, &settings, &model, admin, around.rtt_ms).await?;
        tracing::debug!(budget = ?settings.connection_budget(), "connection budget");
        let rds = Arc::new(rds);
        let sqs = Arc::new(SqsCalls::default());
        let reserved: u32 = settings
            .functions
            .iter()
            .filter_map(|(_, f)| f.reserved_concurrency)
            .sum();
        let unreserved = Arc::new(Semaphore::new(
            settings.account_concurrency.saturating_sub(reserved) as usize,
        ));
        let scale = args.time_scale.max(1e-3);
        let idle = Duration::from_secs(
            args.idle_secs
                .unwrap_or(model.v(&model.c.environment_idle_secs) as u64),
        )
        .div_f64(scale);
        let function = |name: FunctionName| {
            // Only `read` may be absent.
            let f = settings.functions.get(name)?;
            let concurrency = match f.reserved_concurrency {
                Some(n) => Arc::new(Semaphore::new(n as usize)),
                None => unreserved.clone(),
            };
            let costs = costs(&model, &settings, (name, f), rtt_ms, (idle, scale));
            let init = init(
                function_config(config, &settings, f),
                rds.clone(),
                around.wiring.clone(),
                (model.clone(), sqs.clone()),
                Startup {
                    migrate: settings.migrate_on_cold_start,
                    secret: None,
                },
            );
            Some(Function::new(name, concurrency, costs, model.clone(), init))
        };
        let needed = |name| {
            function(name).with_context(|| format!("the settings have no function `{name}`"))
        };
        let functions = Functions {
            ingest: needed(FunctionName::Ingest)?,
            read: function(FunctionName::Read),
            processor: needed(FunctionName::Processor)?,
            notifier: needed(FunctionName::Notifier)?,
        };
        let gateway = gateway(&settings, &model, &functions)?;
        Ok(Shape {
            settings,
            model,
            gateway,
            functions,
            mappings: Vec::new(),
            rds,
            rtt_ms,
            sqs,
            visibility: config.visibility_timeout(),
            multi_az: args.aws.multi_az,
            built: Instant::now(),
            logged_before: crate::console::function_log_bytes(),
            prices,
            region: args.aws.region.clone(),
            timer_lag: Arc::default(),
            wiring: around.wiring,
            stop: watch::channel(false).0,
            tasks: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn tasks_mut(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the event source mappings over the pipeline's queues, and
    /// the reaper of idle environments.
    pub fn start(&mut self, time_scale: f64) -> anyhow::Result<()> {
        let queues = self.wiring.queues.clone();
        let pairs: [(FunctionName, &Arc<dyn QueueBackend>, &Arc<Function>); 2] = [
            (
                FunctionName::Processor,
                &queues.orders,
                &self.functions.processor,
            ),
            (
                FunctionName::Notifier,
                &queues.processed,
                &self.functions.notifier,
            ),
        ];
        for (name, queue, function) in pairs {
            let source = self
                .settings
                .event_sources
                .get(name)
                .with_context(|| format!("the settings have no event source for `{name}`"))?;
            let function = function.clone();
            let timeout = function.costs.timeout;
            let handler: esm::Handler = match name {
                // The handler is called as the invocation starts: its
                // deadline is the function's timeout away, as Lambda's.
                FunctionName::Processor => Arc::new(move |env: Environment, event| {
                    let deadline = tokio::time::Instant::now() + timeout;
                    async move {
                        orderflow_lambda::handle_orders(&env.processor(), event, Some(deadline))
                            .await
                    }
                    .boxed()
                }),
                _ => Arc::new(|env: Environment, event| {
                    async move {
                        orderflow_lambda::handle_processed(&env.notification_worker(), event).await
                    }
                    .boxed()
                }),
            };
            let m = &self.model;
            let mapping = Mapping::new(
                Latent::for_mapping(queue.clone(), m.clone(), self.sqs.clone()),
                function,
                handler,
                MappingSettings {
                    batch_size: source.batch_size as usize,
                    window: Duration::from_secs(u64::from(source.batching_window_secs)),
                    maximum_concurrency: source.maximum_concurrency.map(|n| n as usize),
                    time_scale,
                    scaling: Scaling::of(m),
                    parallel_receives: m.v(&m.c.esm_parallel_receives) as usize,
                    overlap: m.v(&m.c.esm_gather_overlaps) >= 0.5,
                    backoff_first: m.ms(&m.c.esm_backoff_first_ms),
                    backoff_max: m.ms(&m.c.esm_backoff_max_ms),
                    visibility: self.visibility,
                },
            );
            self.tasks_mut()
                .extend(mapping.spawn(self.stop.subscribe()));
            self.mappings.push((name, mapping));
        }
        let (timer_lag, probe) = lag::TimerLag::spawn(self.stop.subscribe());
        self.timer_lag = timer_lag;
        self.tasks_mut().push(probe);
        let functions: Vec<_> = self.functions.all().cloned().collect();
        let mut stop = self.stop.subscribe();
        self.tasks_mut().push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
                for f in &functions {
                    f.reap();
                }
            }
        }));
        Ok(())
    }

    /// What the pipeline's parts are wrapped in for this shape: `inner`'s
    /// decorators, and ingest's publishes as SQS calls with the model's
    /// latency (ingest's own queue is the pipeline's; see [`gateway`]).
    pub fn wrap(&self, inner: Arc<dyn Wrap>) -> Arc<dyn Wrap> {
        Arc::new(ShapeWrap {
            inner,
            model: self.model.clone(),
            sqs: self.sqs.clone(),
        })
    }

    /// What stands in front of the API: the stage and its functions.
    pub fn front(&self) -> Front {
        self.gateway.front()
    }

    /// A failover of the database (`--db-outage` in this shape): the
    /// functions' path to it cut for `outage`, every open connection
    /// dropped.
    pub async fn fail_over(&self, outage: Duration) {
        self.rds.fail_over(outage).await;
    }

    /// A code update during the run: every function's warm environments
    /// are replaced (the next invocations start cold), and each mapping
    /// overshoots its `maximumConcurrency` by the model's share for the
    /// model's time, as measured on AWS; a function reserved at the cap
    /// throttles the excess. Answers the share and how long.
    pub fn redeploy(&self) -> (f64, Duration) {
        let m = &self.model;
        let share = m.v(&m.c.esm_deploy_overshoot);
        let lasting = Duration::from_secs_f64(m.v(&m.c.esm_deploy_overshoot_secs).max(0.0));
        for f in self.functions.all() {
            f.redeploy();
        }
        for (_, mapping) in &self.mappings {
            mapping.overshoot(share, lasting);
        }
        (share, lasting)
    }

    /// Stops the mappings (after their batches in hand) and retires every
    /// environment.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *self.tasks_mut());
        for task in tasks {
            let _ = task.await;
        }
        for f in self.functions.all() {
            f.retire_all();
        }
    }
}
/// The sim's decorators, and SQS's latency on ingest's publishes.
struct ShapeWrap {
    inner: Arc<dyn Wrap>,
    model: Arc<Model>,
    sqs: Arc<SqsCalls>,
}

impl Wrap for ShapeWrap {
    fn store(&self, store: Arc<dyn OrderStore>) -> Arc<dyn OrderStore> {
        self.inner.store(store)
    }

    fn queue(&self, used: QueueUse, queue: Arc<dyn QueueBackend>) -> Arc<dyn QueueBackend> {
        let queue = self.inner.queue(used, queue);
        match used {
            QueueUse::Ingest => Latent::wrap(queue, self.model.clone(), self.sqs.clone()),
            _ => queue,
        }
    }
}
