//! The server's deadlock counter is global, so this test has a binary of its
//! own, the one exception to one integration-test binary a crate: nothing
//! else of the test suite runs beside it (cargo runs test binaries one after
//! another) to move the counter while it watches. It shares the suite's
//! set-up by path.

#[path = "it/common.rs"]
mod common;

use std::sync::Arc;

use engine::store::StoreAdmin;

use common::{apply_concurrently, product, raw_order};

/// The server's own deadlock counter does not move while many transactions
/// contend for the same rows listing them in every order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_server_detects_no_deadlock_under_contention() {
    let db = common::TestDb::new().await;
    let mysql = db.store().await;
    let store: Arc<dyn StoreAdmin> = mysql.clone();
    store
        .upsert_products(&[
            product("pa", 1_000_000),
            product("pb", 1_000_000),
            product("pc", 1_000_000),
        ])
        .await
        .unwrap();
    let before = common::server_deadlocks(mysql.pool()).await;
    let orders: Vec<_> = (0..600)
        .map(|i| {
            let lines: &[(&str, u32)] = match i % 3 {
                0 => &[("pc", 1), ("pb", 1), ("pa", 1)],
                1 => &[("pa", 1), ("pc", 1)],
                _ => &[("pb", 1), ("pa", 1), ("pc", 1)],
            };
            raw_order(&format!("contender-{i}"), lines)
        })
        .collect();
    apply_concurrently(&store, orders, 24, 3).await;
    assert_eq!(
        common::server_deadlocks(mysql.pool()).await,
        before,
        "the server saw a deadlock"
    );
    db.drop_db().await;
}
