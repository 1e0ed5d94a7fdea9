//! `sim bench`: the processor at full speed against the configured MySQL,
//! beside the reference points DESIGN.md names, measured in the same run so
//! no figure stands alone:
//! - single-statement autocommit `UPDATE`s of one row, from several
//!   connections (what a design without batching is bounded by);
//! - the bare SQL of batched transactions (lock, look up, decrement, insert,
//!   commit), replayed without the engine (what batching can reach).
//!
//! Then the whole processor (queue, store, publish, delete) on a full order
//! queue, the whole pipeline end to end over HTTP, and ingest alone beside
//! a bare axum JSON echo handler loaded by the same client.
//!
//! Everything runs in its own database (`orderflow_bench` unless
//! `DATABASE_URL` names another), emptied first.

use anyhow::Context;
use engine::report::Latencies;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use engine::app::{open_store_with, OpenedStore};
use engine::config::Config;
use engine::domain::{InventoryItem, ProductId, ValidOrder};
use engine::events::{now_millis, OrderCreated};

use engine::store::{MySqlStore, OrderStore, StoreAdmin};
use sqlx::{Executor, MySqlPool};

#[derive(Args)]
pub struct BenchArgs {
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Orders per transaction, for the processor and the bare-SQL reference.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent callers (connections) in the store-level measurements.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Orders in the whole-processor and end-to-end measurements.
    #[arg(long, default_value_t = 100_000)]
    orders: usize,
    /// HTTP requests in flight in the ingest measurements (each caller
    /// sends its next request when the last is answered).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Most HTTP requests in flight at once in the paced end-to-end
    /// measurement, so the offered rate holds when answers slow down.
    #[arg(long, default_value_t = 512)]
    in_flight: usize,
    /// Orders per second the end-to-end measurement offers, paced (an open
    /// load, like many independent clients); 0 sends as fast as the
    /// server answers, which measures the most it takes in, while the
    /// queue (and so the latency) grows for as long as the run lasts.
    #[arg(long, default_value_t = 15_000)]
    rate: u64,
    /// Run one part only: ingest (beside the echo handler), processor
    /// (the SQL references, the store step, the whole processor), or e2e.
    #[arg(long, value_enum, default_value = "all")]
    only: Part,
    /// Run the processor and notifier loops on the HTTP server's runtime
    /// instead of their own thread (`sim` and `sim serve` give them one),
    /// to measure what that thread is worth end to end.
    #[arg(long)]
    shared_runtime: bool,
    #[command(flatten)]
    config: Config,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    All,
    Ingest,
    Processor,
    #[value(name = "e2e")]
    EndToEnd,
}

const HOT: &str = "bench-hot";

pub async fn bench(args: BenchArgs) -> ExitCode {
    crate::init_tracing("warn,sqlx=off");
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim bench: {}", engine::report::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let options = args
        .config
        .mysql()
        .map_err(anyhow::Error::msg)?
        .context("sim bench measures MySQL: set DATABASE_URL (or DB_HOST)")?;
    let options = if options.get_database().is_some_and(|d| !d.is_empty()) {
        options
    } else {
        options.database("orderflow_bench")
    };
    let store = match open_store_with(Some(options), &args.config).await? {
        OpenedStore::MySql(s) => s,
        OpenedStore::Memory(_) => anyhow::bail!("expected a MySQL store"),
    };
    let pool = store.pool().clone();
    let describe: (String, i64) =
        sqlx::query_as("SELECT VERSION(), CAST(@@innodb_flush_log_at_trx_commit AS SIGNED)")
            .fetch_one(&pool)
            .await?;
    reset(&store, &pool).await?;
    let secs = Duration::from_secs(args.seconds);
    println!(
        "sim bench: server {} (innodb_flush_log_at_trx_commit={}), {} workers, {} s each, one hot product",
        describe.0, describe.1, args.workers, args.seconds
    );

    let only = |part: Part| args.only == Part::All || args.only == part;
    if only(Part::Ingest) {
        // First, while the database is idle: ingest alone, no database.
        bench_ingest(&args, secs).await?;
    }
    if only(Part::Processor) {
        bench_processor(&args, &store, &pool, secs).await?;
    }
    if only(Part::EndToEnd) {
        bench_end_to_end(&args, &store).await?;
    }
    Ok(())
}

/// Ingest alone beside a bare axum echo handler.
async fn bench_ingest(args: &BenchArgs, secs: Duration) -> anyhow::Result<()> {
    let ie = ingest_beside_echo(args.concurrency, secs).await?;
    println!(
        "  reference: bare axum JSON echo handler            {:>9.0} requests/s",
        ie.echo
    );
    println!(
        "  ingest alone: validate, id, in-process queue      {:>9.0} requests/s  ({:.2}x the echo handler: median of {ROUNDS} alternating rounds, {:.2}-{:.2})",
        ie.ingest,
        ie.ratios[ie.ratios.len() / 2],
        ie.ratios[0],
        ie.ratios[ie.ratios.len() - 1]
    );
    Ok(())
}

/// The processor's store step and the whole processor, beside the two
/// references measured in the same run.
async fn bench_processor(
    args: &BenchArgs,
    store: &Arc<MySqlStore>,
    pool: &MySqlPool,
    secs: Duration,
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
    reset(store, pool).await?;
    let whole = whole_processor(store, &args.config, args.orders).await?;
    println!(
        "  processor: queue -> store -> publish, {} orders {:>9.0} orders/s  ({:.2}x the bare SQL)",
        args.orders,
        whole,
        whole / bare.max(1.0)
    );
    reset(store, pool).await
}

/// The pipeline end to end over HTTP at the offered rate.
async fn bench_end_to_end(args: &BenchArgs, store: &Arc<MySqlStore>) -> anyhow::Result<()> {
    let e2e = end_to_end(
        store,
        &args.config,
        args.orders,
        args.in_flight,
        args.rate,
        args.shared_runtime,
    )
    .await?;
    let offered = if args.rate == 0 {
        "as fast as answered".to_owned()
    } else {
        format!("{} offered", args.rate)
    };
    println!(
        "  end to end: HTTP -> queue -> processor -> MySQL   {:>9.0} orders/s  ({offered}, {:.0} accepted/s; accept-to-processed p50 {} ms, p99 {} ms \
         after a {:.1} s warm-up; {:.0} orders per transaction; the load generator shares the machine)",
        e2e.finished_rate, e2e.accepted_rate, e2e.p50, e2e.p99, e2e.warm_up, e2e.batch
    );
    Ok(())
}

/// Ingest beside the echo handler: requests/s of each over all rounds, and
/// the ratio of ingest to echo in each round.
struct IngestVsEcho {
    echo: f64,
    ingest: f64,
    ratios: Vec<f64>,
}

/// Rounds of the ingest-beside-echo measurement: the two servers take
/// turns, so a disturbance of the machine (the database flushing, say)
/// falls on both.
const ROUNDS: u32 = 5;

/// Ingest alone (the real router and the in-process order queue, unbounded
/// for the measurement and consumed by nothing; no database) beside a bare
/// axum handler that parses the JSON body and echoes it, loaded in turns
/// by the same client with `concurrency` requests in flight.
async fn ingest_beside_echo(concurrency: usize, secs: Duration) -> anyhow::Result<IngestVsEcho> {
    use axum::routing::post;
    use engine::queue::Queues;
    let config = Config {
        queue_capacity: usize::MAX,
        ..Config::default()
    };
    let queues = Queues::channel(&config);
    let ctx = engine::context::Context::new(Arc::new(engine::store::MemoryStore::new()));
    let ingest = engine::http::router(engine::http::AppState::new(&ctx, &queues));
    let echo = axum::Router::new().route(
        "/api/orders",
        post(|axum::Json(v): axum::Json<serde_json::Value>| async move { axum::Json(v) }),
    );
    let (echo_url, echo_server) = serve(echo).await?;
    let (ingest_url, ingest_server) = serve(ingest).await?;
    let round = (secs / ROUNDS).max(Duration::from_secs(1));
    let mut out = IngestVsEcho {
        echo: 0.0,
        ingest: 0.0,
        ratios: Vec::new(),
    };
    for r in 0..ROUNDS {
        let e = load_server(&echo_url, r, concurrency, round).await?;
        let i = load_server(&ingest_url, r, concurrency, round).await?;
        out.echo += e / f64::from(ROUNDS);
        out.ingest += i / f64::from(ROUNDS);
        out.ratios.push(i / e.max(1.0));
    }
    echo_server.abort();
    ingest_server.abort();
    out.ratios.sort_by(f64::total_cmp);
    Ok(out)
}

/// Serves `router` on a free loopback port; answers its base URL.
async fn serve(
    router: axum::Router,
) -> anyhow::Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((format!("http://{addr}"), server))
}

/// POSTs new orders to `base` for `secs`; answers 2xx answers per second.
async fn load_server(
    base: &str,
    round: u32,
    concurrency: usize,
    secs: Duration,
) -> anyhow::Result<f64> {
    let client = orderflow_client::Client::new(base.to_owned())?;
    measure(concurrency, secs, move |w, i| {
        let client = client.clone();
        async move {
            let body = format!(
                r#"{{"customer_id":"echo-{round}-{w}-{i}","items":[{{"product_id":"{HOT}","quantity":1}}]}}"#
            );
            let status = client.post_order(body).await?.status;
            if !(200..300).contains(&status) {
                anyhow::bail!("answered {status}");
            }
            Ok(1)
        }
    })
    .await
}

/// Orders on the hot product, numbered from `start`.
fn hot_orders(tag: &str, start: usize, n: usize) -> anyhow::Result<Vec<OrderCreated>> {
    (start..start + n)
        .map(|k| {
            let order =
                ValidOrder::of(&format!("{tag}-{k}"), &[(HOT, 1)]).map_err(anyhow::Error::msg)?;
            Ok(engine::ingest::order_created(&order, None, now_millis()))
        })
        .collect()
}

/// The whole processor as `sim` runs it: `orders` messages waiting on the
/// order queue, the configured number of processor loops, until the queue
/// is empty. Answers orders per second.
async fn whole_processor(
    store: &Arc<MySqlStore>,
    config: &Config,
    orders: usize,
) -> anyhow::Result<f64> {
    use engine::queue::{Queues, MAX_BATCH};
    let queues = Queues::channel(&Config {
        queue_capacity: usize::MAX,
        ..config.clone()
    });
    let events = hot_orders("whole", 0, orders)?;
    for chunk in events.chunks(MAX_BATCH) {
        let bodies = chunk
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        queues.orders.send_batch(bodies).await?;
    }
    let ctx = engine::context::Context::new(store.clone());
    let processor = engine::processor::Processor::new(
        queues.orders.clone(),
        queues.processed.clone(),
        ctx,
        engine::processor::ProcessorConfig::default(),
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

struct EndToEnd {
    /// Orders committed per second while the load was offered (after the
    /// warm-up).
    finished_rate: f64,
    /// 202 answers per second while sending.
    accepted_rate: f64,
    /// Accept-to-processed, in milliseconds.
    p50: i64,
    p99: i64,
    /// Orders per processor transaction, on average.
    batch: f64,
    /// Seconds at the start left out of the figures.
    warm_up: f64,
}

/// The whole pipeline over HTTP: `orders` POSTs from this process, paced at
/// `rate` per second (0: as fast as answered) with at most `concurrency` in
/// flight, until every order is recorded. Latency is read from the orders
/// table (accept to commit, one clock), for the orders after the first
/// second (the warm-up).
async fn end_to_end(
    store: &Arc<MySqlStore>,
    config: &Config,
    orders: usize,
    concurrency: usize,
    rate: u64,
    shared_runtime: bool,
) -> anyhow::Result<EndToEnd> {
    let hooks = engine::app::Hooks {
        notifier: Arc::new(Quiet),
        workers: if shared_runtime {
            None
        } else {
            crate::hooks().workers
        },
        ..Default::default()
    };
    let app = engine::app::App::start_with_store(
        store.clone(),
        config,
        ([127, 0, 0, 1], 0).into(),
        hooks,
    )
    .await?;
    let client = orderflow_client::Client::new(app.base_url())?;
    let since = now_millis();
    let accepted_rate = offer(&client, orders, concurrency, rate).await?;
    let sent_by = now_millis();
    if !app.wait_drained(Duration::from_secs(300)).await {
        anyhow::bail!("the queues did not drain");
    }
    // The first second of a paced run (at most a tenth of it) warms up
    // connections, pools and caches; the figures are of the orders after it.
    let warm_up = if rate == 0 {
        0.0
    } else {
        (1.0_f64).min(orders as f64 / rate as f64 / 10.0)
    };
    let measured_from = since + chrono::Duration::milliseconds((warm_up * 1000.0) as i64);
    let records: Vec<_> = store
        .orders_processed_since(since)
        .await?
        .into_iter()
        .filter(|r| r.created_at >= measured_from)
        .collect();
    // Throughput under load: orders committed between the end of the
    // warm-up and the last request, over that time. A pipeline that keeps
    // up finishes about what is offered; one that falls behind, less.
    let window = (sent_by - measured_from).num_milliseconds().max(1) as f64 / 1000.0;
    let committed = records
        .iter()
        .filter(|r| r.processed_at.is_some_and(|p| p <= sent_by))
        .count();
    let latencies = Latencies::of(records.iter().map(|r| (r.created_at, r.processed_at)));
    let pct = |q| latencies.percentile(q);
    let batches = app.metrics.batches.get().max(1);
    app.stop().await;
    Ok(EndToEnd {
        finished_rate: committed as f64 / window,
        accepted_rate,
        p50: pct(0.5),
        p99: pct(0.99),
        batch: orders as f64 / batches as f64,
        warm_up,
    })
}

/// POSTs `orders` orders of one unit of the hot product, paced at `rate`
/// per second (0: as fast as answered), at most `concurrency` in flight;
/// fails unless every one is accepted. Answers the accepted rate.
async fn offer(
    client: &orderflow_client::Client,
    orders: usize,
    concurrency: usize,
    rate: u64,
) -> anyhow::Result<f64> {
    use futures::StreamExt;
    let started = tokio::time::Instant::now();
    let mut answers = futures::stream::iter(0..orders)
        .map(|k| {
            let client = client.clone();
            async move {
                if rate > 0 {
                    let due = Duration::from_secs_f64(k as f64 / rate as f64);
                    tokio::time::sleep_until(started + due).await;
                }
                let body = format!(
                    r#"{{"customer_id":"e2e-{k}","items":[{{"product_id":"{HOT}","quantity":1}}]}}"#
                );
                client.post_order(body).await.map(|a| a.status)
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(answer) = answers.next().await {
        if answer? != 202 {
            anyhow::bail!("an order was not accepted");
        }
    }
    Ok(orders as f64 / started.elapsed().as_secs_f64())
}

/// Notifications nobody reads: the benchmark measures the pipeline.
struct Quiet;

#[async_trait::async_trait]
impl engine::notifier::Notifier for Quiet {
    async fn dispatch(&self, _: &engine::events::OrderProcessed) {}
}

/// Empties the bench database's orders, gives the hot product stock that
/// cannot run out during a run, and waits for the server to settle.
async fn reset(store: &MySqlStore, pool: &MySqlPool) -> anyhow::Result<()> {
    pool.execute("TRUNCATE TABLE orders").await?;
    pool.execute("TRUNCATE TABLE notifications").await?;
    let hot = InventoryItem {
        product_id: ProductId::parse(HOT).map_err(anyhow::Error::msg)?,
        product_name: "Bench hot product".into(),
        quantity_available: i64::from(i32::MAX),
    };
    store.upsert_products(&[hot]).await?;
    settle(pool).await
}

/// Most seconds [`settle`] waits.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// Waits until InnoDB has written back most dirty pages, moved its
/// checkpoint close to the end of the redo log and purged the old row
/// versions the last measurement left, so that its background work does
/// not fall on the next measurement: each starts from a quiet server. (A
/// redo log that fills up mid-run forces a flush that stalls every commit.)
/// Gives up after [`SETTLE_LIMIT`] and says so.
async fn settle(pool: &MySqlPool) -> anyhow::Result<()> {
    let started = Instant::now();
    let log_size: u64 = sqlx::query_scalar("SELECT CAST(@@innodb_log_file_size AS UNSIGNED)")
        .fetch_one(pool)
        .await?;
    loop {
        let status: Vec<(String, String)> = sqlx::query_as(
            "SHOW GLOBAL STATUS WHERE Variable_name IN \
             ('Innodb_buffer_pool_pages_dirty', 'Innodb_buffer_pool_pages_total', \
              'Innodb_history_list_length', 'Innodb_checkpoint_age')",
        )
        .fetch_all(pool)
        .await?;
        let get = |name: &str| {
            status
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.parse::<u64>().ok())
        };
        let quiet = match (
            get("Innodb_buffer_pool_pages_dirty"),
            get("Innodb_buffer_pool_pages_total"),
            get("Innodb_history_list_length"),
        ) {
            (Some(dirty), Some(total), history) => {
                dirty * 4 <= total
                    && history.unwrap_or(0) < 1_000
                    // MariaDB tells the checkpoint age; MySQL 8 does not.
                    && get("Innodb_checkpoint_age").is_none_or(|age| age * 4 <= log_size)
            }
            // A server that does not tell: nothing to wait for.
            _ => true,
        };
        if quiet {
            return Ok(());
        }
        if started.elapsed() >= SETTLE_LIMIT {
            println!(
                "  (the server was still flushing after {} s; measuring anyway)",
                SETTLE_LIMIT.as_secs()
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs `workers` copies of `step` until `secs` pass; answers units per
/// second (each call of `step` answers how many units it did).
async fn measure<F, Fut>(workers: usize, secs: Duration, step: F) -> anyhow::Result<f64>
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

async fn autocommit_updates(
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
async fn bare_sql(
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

async fn processor_store_step(
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
