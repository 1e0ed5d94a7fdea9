//! sqlx alone owns the schema, and its history may be rewritten before the
//! first release only if a database made earlier comes along: migrations
//! applied to an empty database and to one at the first release candidate's
//! schema (the texts of `tests/data/migrations-0.1`, rows included) end in
//! the same schema, with no row lost.

mod common;

use std::path::Path;

use engine::store::MySqlStore;
use sqlx::{Connection, Executor, MySqlConnection};

use common::TestDb;

/// `SHOW CREATE TABLE` of every table but sqlx's own.
async fn schema(db: &TestDb) -> Vec<String> {
    let mut conn = MySqlConnection::connect_with(&db.options).await.unwrap();
    let mut out = Vec::new();
    for table in ["inventory", "notifications", "orders"] {
        let (_, create): (String, String) = sqlx::query_as(&format!("SHOW CREATE TABLE {table}"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        out.push(create);
    }
    out
}

#[tokio::test]
async fn an_empty_database_and_one_made_by_the_first_migrations_end_in_the_same_schema() {
    let fresh = TestDb::new().await;
    MySqlStore::connect(fresh.options.clone(), 2)
        .await
        .expect("an empty database migrates");

    // A database as the first migrations left it, with rows.
    let earlier = TestDb::created().await;
    let old = sqlx::migrate::Migrator::new(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/migrations-0.1"
    )))
    .await
    .unwrap();
    let mut conn = MySqlConnection::connect_with(&earlier.options)
        .await
        .unwrap();
    old.run(&mut conn).await.unwrap();
    conn.execute(
        "INSERT INTO inventory VALUES ('prod-101', 'Wireless Headphones', 49); \
         INSERT INTO notifications VALUES \
           ('3b1f16d4-37da-40c2-a24a-92dfc3636d4b', 'PROCESSED', 'SENT', 'm-1', \
            '2026-02-13 10:00:05.000', '2026-02-13 10:00:05.001')",
    )
    .await
    .unwrap();

    MySqlStore::connect(earlier.options.clone(), 2)
        .await
        .expect("a database made by the first migrations comes along");
    assert_eq!(schema(&earlier).await, schema(&fresh).await);
    let kept: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM inventory), (SELECT COUNT(*) FROM notifications)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(kept, (1, 1));
    fresh.drop_db().await;
    earlier.drop_db().await;
}

/// 0002 changes the one-step notifications table in place: a row notified
/// under it is a notification sent.
#[tokio::test]
async fn the_notification_claims_migration_keeps_every_notification_sent() {
    let db = TestDb::created().await;
    let mut conn = MySqlConnection::connect_with(&db.options).await.unwrap();
    conn.execute(include_str!("../../db/migrations/0001_schema.sql"))
        .await
        .unwrap();
    conn.execute(
        "INSERT INTO notifications (order_id, status, notified_at) \
         VALUES ('3b1f16d4-37da-40c2-a24a-92dfc3636d4b', 'FAILED', '2026-02-13 10:00:05.123')",
    )
    .await
    .unwrap();
    conn.execute(include_str!(
        "../../db/migrations/0002_notification_claims.sql"
    ))
    .await
    .unwrap();
    let row: (String, String, String, String) = sqlx::query_as(
        "SELECT CAST(status AS CHAR), CAST(state AS CHAR), CAST(claimed_at AS CHAR), \
         CAST(sent_at AS CHAR) FROM notifications",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            "FAILED".into(),
            "SENT".into(),
            "2026-02-13 10:00:05.123".into(),
            "2026-02-13 10:00:05.123".into()
        )
    );
    db.drop_db().await;
}
