//! The processor against MySQL: the two reference points the performance targets name
//! (autocommit UPDATEs of one row, the bare SQL of batched transactions), the
//! store step, and the whole processor on a full order queue.

#[allow(unused_imports)]
use super::*;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::config::Config;
use engine::domain::ValidOrder;
use engine::events::{now_millis, OrderCreated};
use engine::store::{MySqlStore, OrderStore};
use sqlx::MySqlPool;

use super::HOT;

/// Orders on the hot product, numbered from `start`.
pub(crate) fn hot_orders(tag: &str, start: usize, n: usize) -> anyhow::Result<Vec<OrderCreated>> {
    (start..start + n)
        .map(|k| {
            let order =
                ValidOrder::of(&format!("{tag}-{k}"), &[(HOT, 1)]).map_err(anyhow::Error::new)?;
            Ok(engine::ingest::order_created(
                &order,
                None,
                &engine::idempotency::OrderIdKey::development(),
                now_millis(),
            ))
        })
        .collect()
}

/// Fills a new set of channel queues with `orders` orders on the hot
/// product.
pub(crate) async fn filled(
    config: &Config,
    tag: &str,
    orders: usize,
) -> anyhow::Result<engine::queues::Queues> {
    use engine::queue::MAX_BATCH;
    use engine::queues::Queues;
    let queues = Queues::channel(&Config {
        queue_capacity: usize::MAX,
        ..config.clone()
    });
    let events = hot_orders(tag, 0, orders)?;
    for chunk in events.chunks(MAX_BATCH) {
        let bodies = chunk
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        queues.orders.send_batch(bodies).await?;
    }
    Ok(queues)
}

/// The whole processor as `sim` runs it: `orders` messages waiting on the
/// order queue, the configured number of processor loops, until the queue
/// is empty. Answers orders per second.
pub(crate) async fn whole_processor(
    store: &Arc<MySqlStore>,
    config: &Config,
    orders: usize,
) -> anyhow::Result<f64> {
    let queues = filled(config, "whole", orders).await?;
    let ctx = engine::context::Context::new(store.clone());
    let processor = engine::processor::Processor::new(
        queues.orders.clone(),
        queues.processed.clone(),
        ctx,
        engine::consumer::WorkerConfig::default(),
    );
    let (trigger, shutdown) = engine::shutdown::channel();
    let started = Instant::now();
    let workers: Vec<_> = (0..config.processor_workers.max(1))
        .map(|_| tokio::spawn(processor.clone().run(shutdown.clone())))
        .collect();
    loop {
        let d = queues.orders.depth().await?;
        if d.total() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    trigger.fire();
    for w in workers {
        let _ = w.await;
    }
    Ok(orders as f64 / elapsed.as_secs_f64())
}

/// Runs `workers` copies of `step` until `secs` pass; answers units per
/// second (each call of `step` answers how many units it did).
pub(crate) async fn measure<F, Fut>(workers: usize, secs: Duration, step: F) -> anyhow::Result<f64>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<u64>> + Send,
{
    let step = Arc::new(step);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers.max(1) {
        let (step, done) = (step.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while started.elapsed() < secs {
                done.fetch_add(step(w, i).await?, Ordering::Relaxed);
                i += 1;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

pub(crate) async fn autocommit_updates(
    pool: &MySqlPool,
    workers: usize,
    secs: Duration,
) -> anyhow::Result<f64> {
    let pool = pool.clone();
    measure(workers, secs, move |_, _| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE inventory SET quantity_available = quantity_available - 1 WHERE product_id = ?")
                .bind(HOT)
                .execute(&pool)
                .await
                ?;
            Ok(1)
        }
    })
    .await
}

/// The statements the store issues for a batch, without the engine around
/// them: lock the row, look the ids up, decrement, insert, commit.
pub(crate) async fn bare_sql(
    pool: &MySqlPool,
    workers: usize,
    batch: usize,
    secs: Duration,
) -> anyhow::Result<f64> {
    let pool = pool.clone();
    measure(workers, secs, move |w, i| {
        let pool = pool.clone();
        async move {
            let ids: Vec<String> = (0..batch).map(|k| format!("bare-{w}-{i}-{k}")).collect();
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT quantity_available FROM inventory WHERE product_id IN (?) ORDER BY product_id FOR UPDATE")
                .bind(HOT)
                .fetch_all(&mut *tx)
                .await
                ?;
            let mut q = sqlx::QueryBuilder::<sqlx::MySql>::new("SELECT order_id FROM orders WHERE order_id IN (");
            let mut list = q.separated(", ");
            for id in &ids {
                list.push_bind(id.as_str());
            }
            q.push(")");
            q.build().fetch_all(&mut *tx).await?;
            sqlx::query("UPDATE inventory SET quantity_available = quantity_available - ? WHERE product_id = ?")
                .bind(batch as i64)
                .bind(HOT)
                .execute(&mut *tx)
                .await
                ?;
            let now = now_millis().naive_utc();
            let mut q = sqlx::QueryBuilder::<sqlx::MySql>::new(
                "INSERT INTO orders (order_id, customer_id, items, status, failure_reason, created_at, processed_at) ",
            );
            q.push_values(&ids, |mut b, id| {
                b.push_bind(id.as_str())
                    .push_bind("bench")
                    .push_bind(r#"[{"product_id":"bench-hot","quantity":1}]"#)
                    .push_bind("PROCESSED")
                    .push_bind(None::<&str>)
                    .push_bind(now)
                    .push_bind(now);
            });
            q.build().execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(batch as u64)
        }
    })
    .await
}

pub(crate) async fn processor_store_step(
    store: &Arc<MySqlStore>,
    workers: usize,
    batch: usize,
    secs: Duration,
) -> anyhow::Result<f64> {
    let store = store.clone();
    measure(workers, secs, move |w, i| {
        let store = store.clone();
        async move {
            let orders = hot_orders(&format!("bench-{w}-{i}"), 0, batch)?;
            let applied = store.apply(&orders).await?;
            Ok(applied.iter().filter(|a| a.first_time).count() as u64)
        }
    })
    .await
}

/// The processor's store step and the whole processor, beside the two
/// references measured in the same run.
pub(super) async fn bench_processor(
    args: &BenchArgs,
    (store, pool): (&Arc<MySqlStore>, &MySqlPool),
    secs: Duration,
    rows: &mut Vec<BenchRow>,
) -> anyhow::Result<()> {
    let updates = autocommit_updates(pool, args.workers, secs).await?;
    println!(
        "  reference: autocommit UPDATE of one row            {:>9.0} statements/s",
        updates
    );
    reset(store, pool).await?;
    let bare = bare_sql(pool, args.workers, args.batch, secs).await?;
    println!(
        "  reference: bare SQL of {:>3}-order transactions      {:>9.0} orders/s",
        args.batch, bare
    );
    reset(store, pool).await?;
    let engine = processor_store_step(store, args.workers, args.batch, secs).await?;
    println!(
        "  processor: store step, {:>3}-order batches           {:>9.0} orders/s  ({:.1}x the UPDATEs, {:.2}x the bare SQL)",
        args.batch,
        engine,
        engine / updates.max(1.0),
        engine / bare.max(1.0)
    );
    figure(
        rows,
        "autocommit_updates_per_s",
        updates,
        "statements/s",
        "reference",
    );
    figure(rows, "bare_sql_orders_per_s", bare, "orders/s", "reference");
    figure(
        rows,
        "processor_store_orders_per_s",
        engine,
        "orders/s",
        "the store step",
    );
    reset(store, pool).await?;
    let whole = whole_processor(store, &args.config, args.orders).await?;
    figure(
        rows,
        "processor_orders_per_s",
        whole,
        "orders/s",
        "queue, store, publish",
    );
    println!(
        "  processor: queue -> store -> publish, {} orders {:>9.0} orders/s  ({:.2}x the bare SQL)",
        args.orders,
        whole,
        whole / bare.max(1.0)
    );
    reset(store, pool).await
}
