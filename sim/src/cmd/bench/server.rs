//! The benchmark's database: emptied before each part, and waited on until
//! it has written back the last part's work.

use std::time::{Duration, Instant};

use engine::domain::{InventoryItem, ProductId};
use engine::store::{MySqlStore, StoreAdmin};
use sqlx::{Executor, MySqlPool};

use super::HOT;

/// Empties the bench database's orders, gives the hot product stock that
/// cannot run out during a run, and waits for the server to settle.
pub(crate) async fn reset(store: &MySqlStore, pool: &MySqlPool) -> anyhow::Result<()> {
    empty(store, pool).await?;
    settle(pool).await
}

/// [`reset`] without the wait: the bench database's orders and
/// notifications gone, the hot product stocked.
pub async fn empty(store: &MySqlStore, pool: &MySqlPool) -> anyhow::Result<()> {
    pool.execute("TRUNCATE TABLE orders").await?;
    pool.execute("TRUNCATE TABLE notifications").await?;
    let hot = InventoryItem {
        product_id: ProductId::parse(HOT).map_err(anyhow::Error::new)?,
        product_name: "Bench hot product".into(),
        quantity_available: i64::from(i32::MAX),
    };
    store.upsert_products(&[hot]).await?;
    Ok(())
}

/// Most seconds [`settle`] waits.
pub(crate) const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// Waits until InnoDB has written back most dirty pages, moved its
/// checkpoint close to the end of the redo log and purged the old row
/// versions the last measurement left, so that its background work does
/// not fall on the next measurement: each starts from a quiet server. (A
/// redo log that fills up mid-run forces a flush that stalls every commit.)
/// Gives up after [`SETTLE_LIMIT`] and says so.
pub(crate) async fn settle(pool: &MySqlPool) -> anyhow::Result<()> {
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
