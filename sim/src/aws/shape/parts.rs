//! The parts a shape is built from: the database's side (the functions'
//! user and its proxies), each function's costs and configuration, the
//! gateway, and an execution environment's init.

use super::*;

/// The database's side of the shape: its connection limit less RDS's own
/// connections, behind a proxy per zone with the modelled round trips
/// (`rtt_ms` given replaces both), Multi-AZ's commit if asked. Answers the
/// round trips it used, ms: (the database's zone, the other).
pub(super) async fn start_rds(
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
pub(super) fn secret_reads(name: FunctionName, f: &crate::aws::settings::Function) -> u32 {
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
pub(super) fn costs(
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
pub(super) fn gateway(
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

/// The init of one of the functions' execution environments: the deployed
/// init ([`Environment::init`]) with the function's pool size, connecting as
/// the functions' user through its zone's proxy, its queues reached as SQS
/// (with the model's latency), then sharing the sim's metrics, failure log
/// and notifier.
pub(super) fn init(
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
