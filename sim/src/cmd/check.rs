//! `sim check`: the inventory and the newest orders, like the original system's
//! `check_db.py`.

use std::process::ExitCode;

use clap::Args;
use engine::config::Config;
use engine::domain::{InventoryItem, OrderRecord};
use engine::events::millis;

use crate::report::result::{OrderRow, RunResult, StockRow};

#[derive(Args)]
#[command(
    after_help = super::help::short("check"),
    after_long_help = super::help::long("check", "")
)]
pub struct CheckArgs {
    /// How many of the newest orders to list.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Write the inventory and the orders as a result (schema
    /// results.schema.json) to this file, or `-` for standard output
    /// instead of the tables.
    #[arg(long, value_name = "PATH")]
    json: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub config: Config,
}

pub async fn check(args: CheckArgs) -> ExitCode {
    if args.config.mysql().ok().flatten().is_none() {
        eprintln!(
            "sim check: no database configured (set DATABASE_URL or DB_HOST); \
             the in-memory store lives only inside a running sim"
        );
        return ExitCode::from(2);
    }
    let opened = match args.config.store_options() {
        Ok(options) => options.open().await.map_err(anyhow::Error::from),
        Err(e) => Err(e.into()),
    };
    let store = match opened {
        Ok(s) => s.admin(),
        Err(e) => {
            eprintln!("sim check: {e}");
            return ExitCode::from(2);
        }
    };
    let (inventory, orders) = match (
        store.inventory().await,
        store.recent_orders(args.limit).await,
    ) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("sim check: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.json {
        return match as_result(&inventory, &orders).write(path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sim check: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    println!("--- inventory ---");
    println!(
        "{:<16} {:<24} {:>10}",
        "product_id", "product_name", "available"
    );
    for i in inventory {
        println!(
            "{:<16} {:<24} {:>10}",
            i.product_id, i.product_name, i.quantity_available
        );
    }
    println!("\n--- newest {} orders ---", args.limit);
    println!(
        "{:<36}  {:<20} {:<9} {:<18} {:<24} {:<24} items",
        "order_id", "customer_id", "status", "failure_reason", "created_at", "processed_at"
    );
    for o in orders {
        let items: Vec<String> = o
            .items
            .iter()
            .map(|l| format!("{}x{}", l.product_id, l.quantity.get()))
            .collect();
        println!(
            "{:<36}  {:<20} {:<9} {:<18} {:<24} {:<24} {}",
            o.order_id,
            o.customer_id,
            o.status,
            o.failure_reason.map(|r| r.as_str()).unwrap_or("-"),
            millis::format(&o.created_at),
            o.processed_at
                .as_ref()
                .map(millis::format)
                .unwrap_or_else(|| "-".into()),
            items.join(",")
        );
    }
    ExitCode::SUCCESS
}

/// The inventory and the orders as a result, for `--json`.
fn as_result(inventory: &[InventoryItem], orders: &[OrderRecord]) -> RunResult {
    let mut r = RunResult::new("check", None);
    r.passed = true;
    r.setup.store = "MySQL".into();
    r.setup.faults = "none".into();
    r.inventory = inventory
        .iter()
        .map(|i| StockRow {
            product_id: i.product_id.to_string(),
            from: None,
            to: i.quantity_available,
        })
        .collect();
    r.orders = orders
        .iter()
        .map(|o| OrderRow {
            order_id: o.order_id.to_string(),
            customer_id: o.customer_id.to_string(),
            status: o.status.to_string(),
            failure_reason: o.failure_reason.map(|f| f.as_str().to_owned()),
            created_at: millis::format(&o.created_at),
            processed_at: o.processed_at.as_ref().map(millis::format),
        })
        .collect();
    r
}
