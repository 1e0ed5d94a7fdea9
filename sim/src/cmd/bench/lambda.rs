//! The processor in the deployed shape: the order queue filled beforehand,
//! then the processor function behind the emulated event source mapping,
//! with the deployment settings' batch size, window, concurrency and pool,
//! connecting as the limited user through the modelled round trip; beside
//! the local shape (the in-process processor loops) over the same round
//! trip, measured in the same run.

#[allow(unused_imports)]
use super::*;

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::config::Config;
use engine::queues::Queues;
use engine::store::{MySqlStore, StoreOptions};

use super::end_to_end::Quiet;
use super::processor::{filled, whole_processor};
use crate::aws::{self, Shape, ShapeArgs};

/// Waits until `queues`' order queue is empty; answers how long it took
/// from `started`.
async fn drained(queues: &Queues, started: Instant) -> anyhow::Result<Duration> {
    while queues.orders.depth().await?.total() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(started.elapsed())
}

/// Orders per second through the deployed shape's processor function.
pub(crate) async fn lambda_processor(
    store: &Arc<MySqlStore>,
    config: &Config,
    shape_args: &ShapeArgs,
    orders: usize,
    rtt_ms: Option<f64>,
) -> anyhow::Result<(f64, Shape)> {
    let mut config = config.clone();
    let spec = shape_args
        .prepare(&mut config, 1)?
        .context("the deployed shape's bench runs with --topology lambda")?;
    let options = config
        .mysql()
        .map_err(anyhow::Error::msg)?
        .context("a MySQL store")?
        .database(store_database(store).await?.as_str());
    let queues = filled(&config, "lambda", orders).await?;
    let around = aws::Surroundings {
        admin: store.pool(),
        admin_options: &options,
        wiring: aws::Wiring {
            queues: queues.clone(),
            books: engine::context::Books::default(),
            notifier: Arc::new(Quiet),
        },
        rtt_ms,
    };
    let mut shape = Shape::build(shape_args, spec, &config, around).await?;
    let started = Instant::now();
    shape.start(shape_args.time_scale)?;
    let elapsed = drained(&queues, started).await?;
    shape.stop().await;
    Ok((orders as f64 / elapsed.as_secs_f64(), shape))
}

/// The name of the database `store` is connected to.
async fn store_database(store: &Arc<MySqlStore>) -> anyhow::Result<String> {
    let name: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(store.pool())
        .await?;
    name.context("the bench's connection names no database")
}

/// Orders per second through the local shape's processor loops, over a
/// proxy adding `rtt_ms` to each round trip.
pub(crate) async fn local_processor(
    store: &Arc<MySqlStore>,
    config: &Config,
    orders: usize,
    rtt_ms: f64,
) -> anyhow::Result<f64> {
    let options = config
        .mysql()
        .map_err(anyhow::Error::msg)?
        .context("a MySQL store")?
        .database(store_database(store).await?.as_str());
    let (_proxy, through) =
        crate::netem::in_front_of(&options, Duration::from_secs_f64(rtt_ms / 1000.0)).await?;
    let far = Arc::new(
        StoreOptions::mysql(through)
            .pool_size(config.db_max_connections)
            .open_mysql()
            .await?,
    );
    whole_processor(&far, config, orders).await
}

/// The processor in the deployed shape at each end of the model
/// (optimistic, central, pessimistic), beside the local shape over the same
/// zone's round trip to the database, all in one run.
#[cfg(feature = "aws")]
pub(super) async fn bench_deployed_shape(
    args: &BenchArgs,
    store: &Arc<MySqlStore>,
    rows: &mut Vec<BenchRow>,
) -> anyhow::Result<()> {
    use crate::aws::model::End;
    let model = args.shape.model(1)?;
    let rtt = args.db_rtt_ms.unwrap_or(model.v(&model.c.rtt_same_az_ms));
    let pool = store.pool().clone();
    println!(
        "  {} orders on one hot product waiting in the order queue",
        args.orders
    );
    reset(store, &pool).await?;
    let local = local_processor(store, &args.config, args.orders, rtt).await?;
    figure(
        rows,
        "local_shape_orders_per_s",
        local,
        "orders/s",
        "the local shape, same round trip",
    );
    println!(
        "  local shape: {} processor loops, one pool of {}, round trip +{rtt} ms {:>9.0} orders/s",
        args.config.processor_workers, args.config.db_max_connections, local
    );
    // Every end of the model, beside the one local figure: the hot row's
    // range in one run.
    for end in [End::Optimistic, End::Central, End::Pessimistic] {
        reset(store, &pool).await?;
        let mut shape_args = args.shape.clone();
        shape_args.model = end;
        let (deployed, shape) = lambda_processor(
            store,
            &args.config,
            &shape_args,
            args.orders,
            args.db_rtt_ms,
        )
        .await?;
        let name = format!("deployed_{}_orders_per_s", end.as_str());
        figure(
            rows,
            &name,
            deployed,
            "orders/s",
            "the processor function behind the mapping",
        );
        let es = Some(&shape.settings.event_sources.processor);
        let f = Some(&shape.settings.functions.processor);
        println!(
            "  deployed shape, {} model: processor function behind the event source mapping {:>9.0} orders/s  ({:.2}x the local shape; batch size {}, window {} s, {} concurrent batches, pool {} each, {} MB)",
            end.as_str(),
            deployed,
            deployed / local.max(1.0),
            es.map_or(0, |e| e.batch_size),
            es.map_or(0, |e| e.batching_window_secs),
            shape
                .settings
                .max_environments(crate::aws::settings::FunctionName::Processor),
            f.map_or(0, |f| f.pool_size),
            f.map_or(0, |f| f.memory_mb),
        );
        crate::report::shape::print(&crate::report::shape::ShapeReport::of(&shape, &[], None));
    }
    reset(store, &pool).await
}
