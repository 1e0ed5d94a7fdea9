//! `sim migrate`: applies orderflow's migrations to the configured database,
//! whoever made it. This is how a database created by the original Python
//! system is brought to orderflow's schema in place, keeping every row; on a
//! database the engine made itself it applies what is pending, as a start
//! would.

use anyhow::Context;
use std::process::ExitCode;

use clap::Args;
use engine::config::Config;
use engine::store::schema::{self, Found};
use engine::store::{Schema, StoreOptions};

#[derive(Args)]
#[command(
    after_help = super::help::short("migrate"),
    after_long_help = super::help::long("migrate", "")
)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub config: Config,
}

pub async fn migrate(args: MigrateArgs) -> ExitCode {
    crate::console::exit_status("sim migrate", run(args).await)
}

async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let options = args.config.mysql()?.context(
        "no database configured: set DATABASE_URL (or DB_HOST and the other DB_* variables), \
         in the environment or in .env",
    )?;
    let place = format!(
        "`{}` at {}:{}",
        options.get_database().unwrap_or_default(),
        options.get_host(),
        options.get_port()
    );
    let store = StoreOptions::mysql(options)
        .pool_size(2)
        .schema(Schema::AsIs)
        .open_mysql()
        .await?;
    let found = schema::found(store.pool()).await?;
    println!(
        "database {place}: {}",
        match found {
            Found::Empty => "new (no orderflow tables yet)",
            Found::Ours => "migrated by orderflow before",
            Found::Foreign => "tables without a migration history (the original system's?)",
        }
    );
    let before = store.schema_problems().await?;
    for p in &before {
        println!("  to change: {p}");
    }
    let applied = store.migrate().await?;
    if applied.is_empty() {
        println!("  nothing to apply: every migration was applied before");
    }
    for (version, description) in &applied {
        println!("  applied {version:04} {description}");
    }
    let after = store.schema_problems().await?;
    if !after.is_empty() {
        anyhow::bail!(
            "the schema still differs after the migrations:\n  - {}",
            after.join("\n  - ")
        );
    }
    let (products, orders) = store.row_counts().await?;
    println!("schema ok: {products} products and {orders} orders in the database");
    Ok(())
}
