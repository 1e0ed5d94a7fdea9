//! `sim bench`: the processor at full speed against the configured MySQL,
//! beside the reference points the performance targets name (the book's
//! "The design", "Performance targets"), measured in the same run so
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
//! Everything runs in its own database (`<name>_bench` beside the one
//! `DATABASE_URL` names, which it never touches), emptied first.

use anyhow::Context;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use engine::config::Config;

use crate::report::result::{BenchRow, RunResult};

use engine::store::{MySqlStore, StoreOptions};

mod end_to_end;
mod ingest;
#[cfg(feature = "aws")]
mod lambda;
mod processor;
pub mod server;

use end_to_end::bench_end_to_end;
use ingest::bench_ingest;
#[cfg(feature = "aws")]
use lambda::bench_deployed_shape;
use processor::bench_processor;
use server::reset;

#[derive(Args)]
#[command(
    after_help = super::help::short("bench"),
    after_long_help = super::help::long("bench", "")
)]
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
    /// With `--topology lambda`: milliseconds added to each round trip to
    /// the database, in both shapes measured (default: the model's round
    /// trip from each zone; the local shape takes the same zone's).
    #[arg(long, value_name = "MS")]
    db_rtt_ms: Option<f64>,
    /// `--topology lambda` measures the processor in the deployed shape
    /// (the order queue filled beforehand, the processor function behind
    /// the emulated event source mapping) beside the local shape.
    #[command(flatten)]
    pub shape: crate::aws::ShapeArgs,
    /// A target a figure must meet, as `sim run --target` takes it, e.g.
    /// 'processor_orders_per_s>=30000' (the floors: BENCHMARKS.md);
    /// a missed one exits 1.
    #[arg(long = "target", value_name = "EXPR", value_parser = |s: &str| s.parse::<crate::targets::Target>())]
    targets: Vec<crate::targets::Target>,
    /// Also write the figures as a result (schema results.schema.json) to
    /// this file, or `-` for standard output (the report then goes to
    /// standard error); `sim compare` reads two of them.
    #[arg(long, value_name = "PATH")]
    json: Option<std::path::PathBuf>,
    /// Also write a Markdown summary of the figures and targets to this file.
    #[arg(long, value_name = "PATH")]
    summary: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub config: Config,
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
    crate::console::init_tracing("warn,sqlx=off");
    let stdout = match crate::console::keep_stdout_for(args.json.as_deref()) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("sim bench: cannot keep standard output for the JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let mut figures = Vec::new();
    let done = run(&args, &mut figures).await.and_then(|()| {
        let mut result = RunResult::new("bench", None);
        result.setup.topology = if args.shape.is_lambda() {
            "lambda"
        } else {
            "local"
        }
        .into();
        result.setup.store = "MySQL".into();
        result.setup.faults = "none".into();
        result.bench = figures;
        result.derive_metrics();
        result.judge(&args.targets, false);
        result.passed = result.targets.iter().all(|t| t.passed);
        if !result.targets.is_empty() {
            println!("\ntargets:");
            for t in &result.targets {
                println!("  {t}");
            }
        }
        result.emit(args.json.as_deref(), stdout, args.summary.as_deref())?;
        Ok(result.passed)
    });
    match done {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sim bench: {}", engine::report::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// Records a figure for the result.
fn figure(rows: &mut Vec<BenchRow>, name: &str, value: f64, unit: &str, note: &str) {
    rows.push(BenchRow {
        name: name.into(),
        value,
        unit: unit.into(),
        note: note.into(),
    });
}

/// The database the bench empties and fills: `<name>_bench` for the one
/// DATABASE_URL names (`orderflow_bench` for none), or that one when its
/// name already ends in `_bench`.
fn bench_database(named: Option<&str>) -> String {
    match named.filter(|d| !d.is_empty()) {
        Some(d) if d.ends_with("_bench") => d.to_owned(),
        Some(d) => format!("{d}_bench"),
        None => "orderflow_bench".into(),
    }
}

/// The bench's own store, in the database [`bench_database`] names beside
/// the one `config` names for the app (`.env`'s, say), which the bench
/// never touches: it empties its tables.
pub async fn open_bench(config: &Config) -> anyhow::Result<(String, Arc<MySqlStore>)> {
    let options = config
        .mysql()
        .map_err(anyhow::Error::msg)?
        .context("sim bench measures MySQL: set DATABASE_URL (or DB_HOST)")?;
    let database = bench_database(options.get_database());
    let store = StoreOptions::mysql(options.database(&database))
        .pool_size(config.db_max_connections)
        .seeded(true)
        .open_mysql()
        .await?;
    Ok((database, Arc::new(store)))
}

async fn run(args: &BenchArgs, rows: &mut Vec<BenchRow>) -> anyhow::Result<()> {
    let (database, store) = open_bench(&args.config).await?;
    println!("sim bench: its own database `{database}` on that server (emptied before each part)");
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

    // A build without `aws` refuses --topology lambda before the bench.
    #[cfg(feature = "aws")]
    if args.shape.is_lambda() {
        return bench_deployed_shape(args, &store, rows).await;
    }
    let only = |part: Part| args.only == Part::All || args.only == part;
    if only(Part::Ingest) {
        // First, while the database is idle: ingest alone, no database.
        bench_ingest(args, secs, rows).await?;
    }
    if only(Part::Processor) {
        bench_processor(args, (&store, &pool), secs, rows).await?;
    }
    if only(Part::EndToEnd) {
        bench_end_to_end(args, &store, rows).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::bench_database;

    /// The bench never empties the app's database: `.env`'s `orderflow`
    /// becomes `orderflow_bench` beside it.
    #[test]
    fn the_bench_uses_a_database_of_its_own() {
        assert_eq!(bench_database(Some("orderflow")), "orderflow_bench");
        assert_eq!(bench_database(Some("shop")), "shop_bench");
        assert_eq!(bench_database(Some("orderflow_bench")), "orderflow_bench");
        assert_eq!(bench_database(Some("")), "orderflow_bench");
        assert_eq!(bench_database(None), "orderflow_bench");
    }
}
