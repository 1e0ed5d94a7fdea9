//! criterion benchmarks of the engine's hot paths. `cargo bench -p benches`;
//! the MySQL group runs when `DATABASE_URL` names a server (its own
//! database, `orderflow_bench`, is created and reset).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use benches::{orders_on, orders_spread, ORDER_BODY};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::domain::InventoryItem;
use engine::queue::{ChannelQueue, QueueBackend, QueueConfig};
use engine::store::{MemoryStore, OrderStore, StoreAdmin, StoreOptions};
use tower::ServiceExt;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn product(id: &str, qty: i64) -> InventoryItem {
    InventoryItem {
        product_id: engine::domain::ProductId::parse(id).expect("id"),
        product_name: id.to_owned(),
        quantity_available: qty,
    }
}

fn validation_and_ids(c: &mut Criterion) {
    let mut g = c.benchmark_group("validation");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_order (3 lines)", |b| {
        b.iter(|| engine::validation::parse_order(ORDER_BODY.as_bytes()).expect("valid"))
    });
    let order = engine::validation::parse_order(ORDER_BODY.as_bytes()).expect("valid");
    let key = engine::idempotency::OrderIdKey::development();
    g.bench_function("order_id (HMAC-SHA-256 of the canonical form)", |b| {
        b.iter(|| engine::idempotency::order_id(&order, None, &key))
    });
    g.finish();
}

fn channel_queue(c: &mut Criterion) {
    let rt = runtime();
    let q = ChannelQueue::new(QueueConfig::new("bench"));
    let mut g = c.benchmark_group("channel queue");
    g.throughput(Throughput::Elements(10));
    g.bench_function("send_batch 10, receive 10, delete 10", |b| {
        b.to_async(&rt).iter(|| async {
            q.send_batch((0..10).map(|i| i.to_string()).collect())
                .await
                .expect("send");
            for m in q.receive(10, Duration::ZERO).await.expect("receive") {
                q.delete(&m.receipt_handle).await.expect("delete");
            }
        })
    });
    g.finish();
}

fn ingest_router(c: &mut Criterion) {
    let rt = runtime();
    let config = engine::config::Config::default();
    let queues = engine::queues::Queues::channel(&config);
    let ctx = engine::context::Context::new(Arc::new(MemoryStore::new()));
    let router = engine::http::router(engine::http::AppState::new(&ctx, &queues));
    // A consumer that only deletes, so the queue never fills up.
    let orders = queues.orders.clone();
    rt.spawn(async move {
        loop {
            if let Ok(batch) = orders.receive(10, Duration::from_millis(50)).await {
                for m in batch {
                    let _ = orders.delete(&m.receipt_handle).await;
                }
            }
        }
    });
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(1));
    g.bench_function(
        "POST /api/orders through the router (in process, no DB)",
        |b| {
            b.to_async(&rt).iter(|| {
                let router = router.clone();
                async move {
                    let req = Request::post("/api/orders")
                        .header("content-type", "application/json")
                        .body(Body::from(ORDER_BODY))
                        .expect("request");
                    let res = router.oneshot(req).await.expect("response");
                    assert_eq!(res.status(), 202);
                }
            })
        },
    );
    g.finish();
}

/// Applies batches of new orders to `store`: one hot product, or spread.
fn processor_on(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    label: &str,
    store: Arc<dyn OrderStore>,
) {
    let next = AtomicUsize::new(0);
    let mut g = c.benchmark_group(format!("processor on {label}"));
    g.sample_size(20);
    for batch in [10usize, 100, 500] {
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new("hot product", batch), &batch, |b, &n| {
            b.to_async(rt).iter(|| {
                let store = store.clone();
                let start = next.fetch_add(n, Ordering::Relaxed);
                async move {
                    store
                        .apply(&orders_on("hot", start, n))
                        .await
                        .expect("apply")
                }
            })
        });
        g.bench_with_input(BenchmarkId::new("20 products", batch), &batch, |b, &n| {
            b.to_async(rt).iter(|| {
                let store = store.clone();
                let start = next.fetch_add(n, Ordering::Relaxed);
                async move {
                    store
                        .apply(&orders_spread(20, start, n))
                        .await
                        .expect("apply")
                }
            })
        });
    }
    g.finish();
}

fn stock() -> Vec<InventoryItem> {
    let mut p = vec![product("hot", i64::from(i32::MAX))];
    p.extend((0..20).map(|i| product(&format!("spread-{i}"), i64::from(i32::MAX))));
    p
}

fn processor(c: &mut Criterion) {
    let rt = runtime();
    let memory: Arc<dyn StoreAdmin> = Arc::new(MemoryStore::new());
    rt.block_on(memory.upsert_products(&stock()))
        .expect("stock");
    processor_on(c, &rt, "the in-memory store", memory);

    if let Ok(url) = std::env::var("DATABASE_URL") {
        use sqlx::ConnectOptions;
        let options: sqlx::mysql::MySqlConnectOptions =
            url.parse().expect("DATABASE_URL is a MySQL URL");
        let options = options
            .database("orderflow_bench")
            .disable_statement_logging();
        let mysql = rt
            .block_on(StoreOptions::mysql(options).pool_size(8).open_mysql())
            .expect("MySQL reachable");
        rt.block_on(async {
            use sqlx::Executor;
            mysql
                .pool()
                .execute("DELETE FROM orders")
                .await
                .expect("reset");
        });
        let mysql: Arc<dyn StoreAdmin> = Arc::new(mysql);
        rt.block_on(mysql.upsert_products(&stock())).expect("stock");
        processor_on(c, &rt, "MySQL", mysql);
    } else {
        eprintln!("DATABASE_URL is not set: the processor-on-MySQL benchmarks are skipped");
    }
}

criterion_group!(
    benches,
    validation_and_ids,
    channel_queue,
    ingest_router,
    processor
);
criterion_main!(benches);
