//! `sim bench`: the processor at full speed against the configured MySQL,
//! beside the reference points DESIGN.md names, measured in the same run so
//! no figure stands alone:
//! - single-statement autocommit `UPDATE`s of one row, from several
//!   connections (what a design without batching is bounded by);
//! - the bare SQL of batched transactions (lock, look up, decrement, insert,
//!   commit), replayed without the engine (what batching can reach).
//!
//! Everything runs in its own database (`orderflow_bench` unless
//! `DATABASE_URL` names another), emptied first.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use engine::app::{open_store_with, OpenedStore};
use engine::config::Config;
use engine::domain::{InventoryItem, ProductId};
use engine::events::{now_millis, OrderCreated};
use engine::faults::Faults;
use engine::store::{MySqlStore, OrderStore};
use sqlx::{Executor, MySqlPool};

#[derive(Args)]
pub struct BenchArgs {
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Orders per transaction, for the processor and the bare-SQL reference.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent callers (connections) in every measurement.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    #[command(flatten)]
    config: Config,
}

const HOT: &str = "bench-hot";

pub async fn bench(args: BenchArgs) -> ExitCode {
    crate::init_tracing("warn,sqlx=off");
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: BenchArgs) -> Result<(), String> {
    let options = args
        .config
        .mysql()?
        .ok_or("sim bench measures MySQL: set DATABASE_URL (or DB_HOST)")?;
    let options = if options.get_database().is_some_and(|d| !d.is_empty()) {
        options
    } else {
        options.database("orderflow_bench")
    };
    let store = match open_store_with(Some(options), &args.config, Faults::none())
        .await
        .map_err(|e| e.to_string())?
    {
        OpenedStore::MySql(s) => s,
        OpenedStore::Memory(_) => return Err("expected a MySQL store".into()),
    };
    let pool = store.pool().clone();
    let describe: (String, i64) =
        sqlx::query_as("SELECT VERSION(), CAST(@@innodb_flush_log_at_trx_commit AS SIGNED)")
            .fetch_one(&pool)
            .await
            .map_err(|e| e.to_string())?;
    reset(&store, &pool).await?;
    let secs = Duration::from_secs(args.seconds);
    println!(
        "sim bench: server {} (innodb_flush_log_at_trx_commit={}), {} workers, {} s each, one hot product",
        describe.0, describe.1, args.workers, args.seconds
    );

    let updates = autocommit_updates(&pool, args.workers, secs).await?;
    println!(
        "  reference: autocommit UPDATE of one row            {:>9.0} statements/s",
        updates
    );
    reset(&store, &pool).await?;
    let bare = bare_sql(&pool, args.workers, args.batch, secs).await?;
    println!(
        "  reference: bare SQL of {:>3}-order transactions      {:>9.0} orders/s",
        args.batch, bare
    );
    reset(&store, &pool).await?;
    let engine = processor_store_step(&store, args.workers, args.batch, secs).await?;
    println!(
        "  processor: store step, {:>3}-order batches           {:>9.0} orders/s  ({:.1}x the UPDATEs, {:.2}x the bare SQL)",
        args.batch,
        engine,
        engine / updates.max(1.0),
        engine / bare.max(1.0)
    );
    Ok(())
}

/// Empties the bench database's orders and gives the hot product stock that
/// cannot run out during a run.
async fn reset(store: &MySqlStore, pool: &MySqlPool) -> Result<(), String> {
    pool.execute("TRUNCATE TABLE orders")
        .await
        .map_err(|e| e.to_string())?;
    pool.execute("TRUNCATE TABLE notifications")
        .await
        .map_err(|e| e.to_string())?;
    let hot = InventoryItem {
        product_id: ProductId::parse(HOT).map_err(|e| e.to_string())?,
        product_name: "Bench hot product".into(),
        quantity_available: i64::from(i32::MAX),
    };
    store
        .upsert_products(&[hot])
        .await
        .map_err(|e| e.to_string())
}

/// Runs `workers` copies of `step` until `secs` pass; answers units per
/// second (each call of `step` answers how many units it did).
async fn measure<F, Fut>(workers: usize, secs: Duration, step: F) -> Result<f64, String>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<u64, String>> + Send,
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
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

async fn autocommit_updates(
    pool: &MySqlPool,
    workers: usize,
    secs: Duration,
) -> Result<f64, String> {
    let pool = pool.clone();
    measure(workers, secs, move |_, _| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE inventory SET quantity_available = quantity_available - 1 WHERE product_id = ?")
                .bind(HOT)
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
            Ok(1)
        }
    })
    .await
}

/// The statements the store issues for a batch, without the engine around
/// them: lock the row, look the ids up, decrement, insert, commit.
async fn bare_sql(
    pool: &MySqlPool,
    workers: usize,
    batch: usize,
    secs: Duration,
) -> Result<f64, String> {
    let pool = pool.clone();
    measure(workers, secs, move |w, i| {
        let pool = pool.clone();
        async move {
            let ids: Vec<String> = (0..batch).map(|k| format!("bare-{w}-{i}-{k}")).collect();
            let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
            sqlx::query("SELECT quantity_available FROM inventory WHERE product_id IN (?) ORDER BY product_id FOR UPDATE")
                .bind(HOT)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            let mut q = sqlx::QueryBuilder::<sqlx::MySql>::new("SELECT order_id FROM orders WHERE order_id IN (");
            let mut list = q.separated(", ");
            for id in &ids {
                list.push_bind(id.as_str());
            }
            q.push(")");
            q.build().fetch_all(&mut *tx).await.map_err(|e| e.to_string())?;
            sqlx::query("UPDATE inventory SET quantity_available = quantity_available - ? WHERE product_id = ?")
                .bind(batch as i64)
                .bind(HOT)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
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
            q.build().execute(&mut *tx).await.map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            Ok(batch as u64)
        }
    })
    .await
}

async fn processor_store_step(
    store: &Arc<MySqlStore>,
    workers: usize,
    batch: usize,
    secs: Duration,
) -> Result<f64, String> {
    let store = store.clone();
    measure(workers, secs, move |w, i| {
        let store = store.clone();
        async move {
            let orders: Vec<OrderCreated> = (0..batch)
                .map(|k| {
                    let body = format!(
                        r#"{{"customer_id":"bench-{w}-{i}-{k}","items":[{{"product_id":"{HOT}","quantity":1}}]}}"#
                    );
                    let order = engine::validation::parse_order(body.as_bytes()).map_err(|e| e.to_string())?;
                    Ok(engine::ingest::order_created(&order, None, now_millis()))
                })
                .collect::<Result<_, String>>()?;
            let applied = store.apply(&orders).await.map_err(|e| e.to_string())?;
            Ok(applied.iter().filter(|a| a.first_time).count() as u64)
        }
    })
    .await
}
