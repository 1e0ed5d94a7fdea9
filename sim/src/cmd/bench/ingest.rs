//! Ingest alone (the real router and in-process queue) beside a bare axum
//! JSON echo handler, loaded in turns by the same client.

#[allow(unused_imports)]
use super::*;

use std::sync::Arc;
use std::time::Duration;

use engine::config::Config;

use super::processor::measure;
use super::HOT;

/// Ingest beside the echo handler: requests/s of each over all rounds, and
/// the ratio of ingest to echo in each round.
pub(crate) struct IngestVsEcho {
    pub(crate) echo: f64,
    pub(crate) ingest: f64,
    pub(crate) ratios: Vec<f64>,
}

/// Rounds of the ingest-beside-echo measurement: the two servers take
/// turns, so a disturbance of the machine (the database flushing, say)
/// falls on both.
pub(crate) const ROUNDS: u32 = 5;

/// Ingest alone (the real router and the in-process order queue, unbounded
/// for the measurement and consumed by nothing; no database) beside a bare
/// axum handler that parses the JSON body and echoes it, loaded in turns
/// by the same client with `concurrency` requests in flight.
pub(crate) async fn ingest_beside_echo(
    concurrency: usize,
    secs: Duration,
) -> anyhow::Result<IngestVsEcho> {
    use axum::routing::post;
    use engine::queues::Queues;
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
pub(crate) async fn serve(
    router: axum::Router,
) -> anyhow::Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((format!("http://{addr}"), server))
}

/// POSTs new orders to `base` for `secs`; answers 2xx answers per second.
pub(crate) async fn load_server(
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

/// Ingest alone beside a bare axum echo handler.
pub(super) async fn bench_ingest(
    args: &BenchArgs,
    secs: Duration,
    rows: &mut Vec<BenchRow>,
) -> anyhow::Result<()> {
    let ie = ingest_beside_echo(args.concurrency, secs).await?;
    let ratio = ie.ratios[ie.ratios.len() / 2];
    figure(
        rows,
        "echo_rps",
        ie.echo,
        "requests/s",
        "a bare axum JSON echo handler",
    );
    figure(
        rows,
        "ingest_rps",
        ie.ingest,
        "requests/s",
        "ingest alone, in-process queue",
    );
    figure(
        rows,
        "ingest_vs_echo",
        ratio,
        "share",
        "ingest over the echo handler, median of alternating rounds",
    );
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
