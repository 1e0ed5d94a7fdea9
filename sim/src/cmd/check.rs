//! `sim check`: the inventory and the newest orders, like the seed's
//! `check_db.py`.

use std::process::ExitCode;

use clap::Args;
use engine::config::Config;
use engine::events::millis;
use engine::store::StoreOptions;

#[derive(Args)]
pub struct CheckArgs {
    /// How many of the newest orders to list.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    #[command(flatten)]
    config: Config,
}

pub async fn check(args: CheckArgs) -> ExitCode {
    if args.config.mysql().ok().flatten().is_none() {
        eprintln!(
            "sim check: no database configured (set DATABASE_URL or DB_HOST); \
             the in-memory store lives only inside a running sim"
        );
        return ExitCode::FAILURE;
    }
    let opened = match StoreOptions::from_config(&args.config) {
        Ok(options) => options.open().await.map_err(anyhow::Error::from),
        Err(e) => Err(e.into()),
    };
    let store = match opened {
        Ok(s) => s.admin(),
        Err(e) => {
            eprintln!("sim check: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (inventory, orders) = match (
        store.inventory().await,
        store.recent_orders(args.limit).await,
    ) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("sim check: {e}");
            return ExitCode::FAILURE;
        }
    };
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
