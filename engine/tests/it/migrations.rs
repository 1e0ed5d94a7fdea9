//! sqlx alone owns the schema, and its history may be rewritten before the
//! first release only if a database made earlier comes along: migrations
//! applied to an empty database and to one at the first release candidate's
//! schema (the texts of `tests/data/migrations-0.1`, rows included) end in
//! the same schema, with no row lost.

use crate::common;

use std::path::Path;

use engine::store::StoreOptions;
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
    StoreOptions::mysql(fresh.options.clone())
        .pool_size(2)
        .open_mysql()
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

    StoreOptions::mysql(earlier.options.clone())
        .pool_size(2)
        .open_mysql()
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
    conn.execute(include_str!("../../../db/migrations/0001_schema.sql"))
        .await
        .unwrap();
    conn.execute(
        "INSERT INTO notifications (order_id, status, notified_at) \
         VALUES ('3b1f16d4-37da-40c2-a24a-92dfc3636d4b', 'FAILED', '2026-02-13 10:00:05.123')",
    )
    .await
    .unwrap();
    conn.execute(include_str!(
        "../../../db/migrations/0002_notification_claims.sql"
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

/// The digest the Pulumi program computes from `db/migrations`
/// (`migrationsDigest`): SHA-256 of `<version>:<SHA-384 of the file>\n` per
/// migration, in version order.
fn digest_of_files(files: &[(&str, &[u8])]) -> String {
    use sha2::Digest;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut files = files.to_vec();
    files.sort_by_key(|(name, _)| name.split('_').next().unwrap().parse::<i64>().unwrap());
    let lines: String = files
        .iter()
        .map(|(name, sql)| {
            let version: i64 = name.split('_').next().unwrap().parse().unwrap();
            format!("{version}:{}\n", hex(&sha2::Sha384::digest(sql)))
        })
        .collect();
    hex(&sha2::Sha256::digest(lines.as_bytes()))
}

#[test]
fn the_migrations_built_in_have_the_digest_the_deploy_computes_from_the_files() {
    // The same two-file example pulumi/tests/functions.test.ts digests, to the
    // same value: the two programs agree on the algorithm.
    assert_eq!(
        digest_of_files(&[
            ("0002_y.sql", b"SELECT 2;\n"),
            ("0001_x.sql", b"SELECT 1;\n")
        ]),
        "31a763051d3d939dd7c9589cf588f1b48bf971d6bf6afb6b8dea9f44b5f5253e"
    );
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../db/migrations");
    let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    let files: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_slice()))
        .collect();
    assert_eq!(
        engine::store::mysql::migrations_digest(),
        digest_of_files(&files)
    );
}
