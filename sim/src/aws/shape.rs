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

impl ShapeArgs {
    /// The settings file's values, or the shipped ones.
    pub fn settings(&self) -> anyhow::Result<DeploymentSettings> {
        match &self.settings {
            Some(path) => DeploymentSettings::load(path).map_err(anyhow::Error::new),
            None => DeploymentSettings::shipped().map_err(anyhow::Error::new),
        }
    }

    /// The model at the chosen end, its draws seeded by `seed`.
    pub fn model(&self, seed: u64) -> anyhow::Result<Arc<Model>> {
        Ok(Arc::new(Model::load(
            self.aws.model_file.as_deref(),
            self.model,
            seed,
        )?))
    }

    /// With `--topology lambda`, what to simulate, read once: the settings
    /// file (applied to `config`, [`ShapeArgs::configure`]), the model at
    /// its end with its draws seeded by `seed`, and the region's prices.
    /// A bad file or a region without prices is refused here, before
    /// anything starts.
    pub fn prepare(&self, config: &mut Config, seed: u64) -> anyhow::Result<Option<ShapeSpec>> {
        if !self.is_lambda() {
            return Ok(None);
        }
        let spec = ShapeSpec {
            settings: self.settings()?,
            model: self.model(seed)?,
            prices: bill::Prices::of(bill::SHIPPED, &self.aws.region)?,
        };
        self.configure(config, &spec.settings);
        Ok(Some(spec))
    }

    /// `config` as the deployment sets it: the queues' visibility timeout
    /// (shortened by the time scale) and receive count.
    /// The deployed shape `spec` describes ([`ShapeArgs::prepare`]'s;
    /// none: the local topology), built by [`Shape::build`] over the MySQL
    /// store the sim opened for `config`, wired into the pipeline's
    /// `wiring`.
    pub async fn open(
        &self,
        spec: Option<ShapeSpec>,
        config: &Config,
        (store, wiring): (&OpenedStore, Wiring),
        rtt_ms: Option<f64>,
    ) -> anyhow::Result<Option<Shape>> {
        let Some(spec) = spec else {
            return Ok(None);
        };
        let (OpenedStore::MySql(mysql), Some(options)) = (store, config.mysql()?) else {
            anyhow::bail!("--topology lambda needs MySQL: set DATABASE_URL (or DB_HOST)");
        };
        if config.queue == QueueKind::Sqs {
            anyhow::bail!(
                "--topology lambda runs its event source mappings over the in-process queues; \
                 drop --queue sqs"
            );
        }
        let around = Surroundings {
            admin: mysql.pool(),
            admin_options: &options,
            wiring,
            rtt_ms,
        };
        Shape::build(self, spec, config, around).await.map(Some)
    }

    pub fn configure(&self, config: &mut Config, settings: &DeploymentSettings) {
        let visibility = f64::from(settings.visibility_timeout_secs) / self.time_scale.max(1e-3);
        config.visibility_timeout_secs = (visibility.ceil() as u64).max(1);
        config.max_receive_count = settings.max_receive_count;
    }
}

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

/// The database's side of the shape: its connection limit less RDS's own
/// connections, behind a proxy per zone with the modelled round trips
/// (`rtt_ms` given replaces both), Multi-AZ's commit if asked. Answers the
/// round trips it used, ms: (the database's zone, the other).
async fn start_rds(
    args: &ShapeArgs,
    settings: &DeploymentSettings,
    model: &Model,
    (admin, admin_options): (&MySqlPool, &MySqlConnectOptions),
    rtt_ms: Option<f64>,
) -> anyhow::Result<(rds::Rds, (f64, f64))> {
    let internal = model.v(&model.c.rds_internal_connections) as u32;
    if internal > settings.reserved_connections {
        tracing::warn!(
            internal,
            reserved = settings.reserved_connections,
            "RDS's own connections (the model) are more than reserved_connections leaves free"
        );
    }
    let rtt_ms = match rtt_ms {
        Some(ms) => (ms, ms),
        None => (
            model.v(&model.c.rtt_same_az_ms),
            model.v(&model.c.rtt_cross_az_ms),
        ),
    };
    let rtt = |ms: f64| Duration::from_secs_f64(ms / 1000.0);
    let rds = rds::start(
        admin,
        admin_options,
        settings.max_connections.saturating_sub(internal),
        (rtt(rtt_ms.0), rtt(rtt_ms.1)),
        model.server_costs(&settings.instance_class, args.aws.multi_az),
        settings.migrate_on_cold_start,
    )
    .await?;
    Ok((rds, rtt_ms))
}

/// The secrets a cold start of function `name` reads: the database's if it
/// has a pool; ingest also the order id key.
fn secret_reads(name: FunctionName, f: &crate::aws::settings::Function) -> u32 {
    u32::from(f.pool_size > 0) + u32::from(name == FunctionName::Ingest)
}

/// The queues the deployed init of function `name` checks, one
/// `GetQueueAttributes` each, one after the other (the Pulumi program's
/// `SQS_CHECK_QUEUES`: ingest its queue, the others both they use).
pub fn queue_checks(name: FunctionName) -> u32 {
    match name {
        FunctionName::Ingest | FunctionName::Notifier => 1,
        FunctionName::Read | FunctionName::Processor => 2,
    }
}

/// What the model charges function `name` for: its cold start, connecting,
/// each round trip, its CPU share, its timeout, how long it idles and
/// lingers. `(idle, scale)`: the idle time before reclaiming, and the time
/// compression.
fn costs(
    model: &Model,
    settings: &DeploymentSettings,
    (name, f): (FunctionName, &crate::aws::settings::Function),
    rtt_ms: (f64, f64),
    (idle, scale): (Duration, f64),
) -> Costs {
    let rtt = |ms: f64| Duration::from_secs_f64(ms / 1000.0);
    let c = &model.c;
    Costs {
        start: model.ms(&c.runtime_start_ms) + model.ms(&c.secret_read_ms) * secret_reads(name, f),
        queue_checks: queue_checks(name),
        connect_round_trips: model.v(&c.connect_round_trips) - PLAIN_CONNECT_ROUND_TRIPS,
        rtt_near: rtt(rtt_ms.0),
        rtt_far: rtt(rtt_ms.1),
        far_share: model.v(&c.cross_az_share),
        cpu_stretch: model.cpu_stretch(f.memory_mb),
        timeout: Duration::from_secs(u64::from(f.timeout_secs)),
        idle,
        linger_share: model.v(&c.linger_share),
        wait_timeout: Duration::from_secs(u64::from(settings.wait_timeout_secs)).div_f64(scale),
    }
}

/// What a function's environments run with: `config`, with the function's
/// pool size and each session's lock-wait timeout as the parameter group
/// sets it (`innodb_lock_wait_timeout`, a third of the processor's timeout).
pub fn function_config(
    config: &Config,
    settings: &DeploymentSettings,
    f: &crate::aws::settings::Function,
) -> Config {
    Config {
        db_max_connections: f.pool_size,
        db_lock_wait_timeout_secs: Some(settings.lock_wait_secs()),
        ..config.clone()
    }
}

/// API Gateway in front of the ingest and read functions, refusing with the
/// model's status when a function is throttled.
fn gateway(
    settings: &DeploymentSettings,
    model: &Model,
    functions: &Functions,
) -> anyhow::Result<Arc<Gateway>> {
    let refusal = model.v(&model.c.gateway_throttled_function_status) as u16;
    Ok(Gateway::new(
        settings,
        (functions.ingest.clone(), functions.reader().clone()),
        axum::http::StatusCode::from_u16(refusal)
            .context("gateway_throttled_function_status is not an HTTP status")?,
    ))
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

    /// What the shape used since it was built, in AWS's units, for its
    /// bill ([`bill::bill`]), on the settings' architecture.
    pub fn usage(&self) -> bill::Usage {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let functions: Vec<bill::FunctionUsage> = self
            .functions
            .all()
            .map(|f| bill::FunctionUsage {
                name: f.name.to_string(),
                memory_mb: self
                    .settings
                    .functions
                    .get(f.name)
                    .map_or(0, |s| s.memory_mb),
                arm64: self.settings.architecture == Architecture::Arm64,
                requests: load(&f.stats.invocations),
                billed_ms: load(&f.stats.billed_ms),
            })
            .collect();
        let secret_calls: u64 = self
            .functions
            .all()
            .map(|f| {
                let reads = self
                    .settings
                    .functions
                    .get(f.name)
                    .map_or(0, |s| secret_reads(f.name, s));
                load(&f.stats.cold_starts) * u64::from(reads)
            })
            .sum();
        let invocations: u64 = functions.iter().map(|f| f.requests).sum();
        // The queue functions' EMF record after each batch (the lambda
        // binaries print it).
        let emf_line = |name: FunctionName| bill::emf_line_bytes(&format!("orderflow-dev-{name}"));
        let emf: u64 = [&self.functions.processor, &self.functions.notifier]
            .into_iter()
            .map(|f| load(&f.stats.invocations) * emf_line(f.name))
            .sum();
        let logged = crate::console::function_log_bytes().saturating_sub(self.logged_before);
        bill::Usage {
            seconds: self.built.elapsed().as_secs_f64(),
            api_requests: load(&self.gateway.requests),
            functions,
            sqs_requests: load(&self.sqs.billed),
            instance_class: self.settings.instance_class.clone(),
            multi_az: self.multi_az,
            storage_gb: bill::STORAGE_GB,
            endpoints: bill::ENDPOINTS,
            zones: bill::ZONES,
            endpoint_bytes: load(&self.sqs.bytes),
            log_bytes: invocations * bill::LOG_BYTES_PER_INVOCATION + emf + logged,
            alarms: bill::ALARMS,
            secrets: bill::SECRETS,
            secret_calls,
        }
    }

    /// A sample of the shape's state now.
    pub fn sample(&self, t: f64) -> ShapeSample {
        let c = &self.rds.connections;
        let load = |f: &Arc<Function>| {
            (
                f.stats.environments.load(Ordering::Relaxed),
                f.stats.cold_starts.load(Ordering::Relaxed),
            )
        };
        let oldest = self
            .wiring
            .queues
            .channel
            .as_ref()
            .and_then(|c| c.orders.oldest_age())
            .map(|a| a.as_secs_f64());
        ShapeSample {
            t,
            environments: self.functions.all().map(|f| load(f).0).collect(),
            cold_starts: self.functions.all().map(|f| load(f).1).collect(),
            throttled: self.gateway.throttled.load(Ordering::Relaxed),
            connections: c.open.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            oldest_order_secs: oldest,
        }
    }

    /// Samples the shape every `every` until stopped; `started` is time zero.
    pub fn sampler(self: &Arc<Self>, started: Instant, every: Duration) -> ShapeSampler {
        let (stop, mut stopped) = watch::channel(false);
        let shape = self.clone();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                samples.push(shape.sample(started.elapsed().as_secs_f64()));
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => break,
                }
            }
            samples.push(shape.sample(started.elapsed().as_secs_f64()));
            samples
        });
        ShapeSampler { stop, task }
    }
}
pub struct ShapeSampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<Vec<ShapeSample>>,
}

impl ShapeSampler {
    pub async fn finish(self) -> Vec<ShapeSample> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
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

/// The init of one of the functions' execution environments: the deployed
/// init ([`Environment::init`]) with the function's pool size, connecting as
/// the functions' user through its zone's proxy, its queues reached as SQS
/// (with the model's latency), then sharing the sim's metrics, failure log
/// and notifier.
fn init(
    config: Config,
    rds: Arc<rds::Rds>,
    wiring: Wiring,
    (model, sqs): (Arc<Model>, Arc<SqsCalls>),
    startup: Startup,
) -> Init {
    Box::new(move |zone: Zone| {
        let (config, wiring) = (config.clone(), wiring.clone());
        let options = rds.options(zone).clone();
        let startup = startup.clone();
        let latent = {
            let (model, sqs) = (model.clone(), sqs.clone());
            move |q: &Arc<dyn QueueBackend>| Latent::wrap(q.clone(), model.clone(), sqs.clone())
        };
        async move {
            let Wiring {
                queues,
                books,
                notifier,
            } = wiring;
            let queues = Queues {
                orders: latent(&queues.orders),
                processed: latent(&queues.processed),
                ..queues
            };
            let mut env = Environment::init(config, Some(options), queues, startup).await?;
            env.ctx = Context {
                metrics: books.metrics,
                failures: books.failures,
                ..env.ctx
            };
            env.notifier = notifier;
            Ok(env)
        }
        .boxed()
    })
}
