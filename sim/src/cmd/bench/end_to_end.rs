//! The pipeline end to end over HTTP at an offered rate, with
//! accept-to-processed latency read from the orders table.

#[allow(unused_imports)]
use super::*;

use std::sync::Arc;
use std::time::Duration;

use engine::config::Config;
use engine::events::now_millis;
use engine::store::{MySqlStore, StoreAdmin};
use orderflow_client::Latencies;

use super::HOT;

pub(crate) struct EndToEnd {
    /// Orders committed per second while the load was offered (after the
    /// warm-up).
    pub(crate) finished_rate: f64,
    /// 202 answers per second while sending.
    pub(crate) accepted_rate: f64,
    /// Accept-to-processed, in milliseconds.
    pub(crate) p50: i64,
    pub(crate) p99: i64,
    /// Orders per processor transaction, on average.
    pub(crate) batch: f64,
    /// Seconds at the start left out of the figures.
    pub(crate) warm_up: f64,
}

/// The whole pipeline over HTTP: `orders` POSTs from this process, paced at
/// `rate` per second (0: as fast as answered) with at most `concurrency` in
/// flight, until every order is recorded. Latency is read from the orders
/// table (accept to commit, one clock), for the orders after the first
/// second (the warm-up).
pub(crate) async fn end_to_end(
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
            crate::pipeline::hooks().workers
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
pub(crate) async fn offer(
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
pub(crate) struct Quiet;

#[async_trait::async_trait]
impl engine::notifier::Notifier for Quiet {
    async fn dispatch(&self, _: &engine::events::OrderProcessed) {}
}

/// The pipeline end to end over HTTP at the offered rate.
pub(super) async fn bench_end_to_end(
    args: &BenchArgs,
    store: &Arc<MySqlStore>,
    rows: &mut Vec<BenchRow>,
) -> anyhow::Result<()> {
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
    figure(
        rows,
        "e2e_orders_per_s",
        e2e.finished_rate,
        "orders/s",
        &offered,
    );
    figure(
        rows,
        "p99_e2e",
        e2e.p99 as f64,
        "ms",
        "accept-to-processed after the warm-up",
    );
    Ok(())
}
