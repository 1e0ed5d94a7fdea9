//! `sim bench`'s database against the MySQL server (`TEST_MYSQL_URL`).

use engine::config::Config;
use engine::store::StoreOptions;
use sim::cmd::bench::{open_bench, server};
use testkit::TestDatabase;

/// A bench against the app's database (with an order in it) measures in
/// `<name>_bench` beside it, and emptying that leaves the app's order.
#[tokio::test]
async fn a_bench_empties_its_own_database_and_never_the_apps() {
    let app = TestDatabase::new("orderflow_test_benchapp");
    let kept = StoreOptions::mysql(app.options.clone())
        .seeded(true)
        .open_mysql()
        .await
        .unwrap();
    let insert = "INSERT INTO orders (order_id, customer_id, items, status, failure_reason, created_at, processed_at) \
         VALUES ('kept-1', 'c', '[]', 'PROCESSED', NULL, NOW(3), NOW(3))";
    sqlx::query(insert).execute(kept.pool()).await.unwrap();

    let config = Config {
        database_url: Some(app.url()),
        ..Config::default()
    };
    let (name, bench) = open_bench(&config).await.unwrap();
    let _bench_db = TestDatabase::named(&name);
    assert_eq!(name, format!("{}_bench", app.name));
    sqlx::query(insert).execute(bench.pool()).await.unwrap();
    server::empty(&bench, bench.pool()).await.unwrap();

    let count = |pool| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM orders")
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!(
        count(bench.pool()).await,
        0,
        "the bench's own database is emptied"
    );
    assert_eq!(
        count(kept.pool()).await,
        1,
        "the app's order survives the bench"
    );
}
