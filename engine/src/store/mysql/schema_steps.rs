//! Creating the database, applying the migrations (with the history
//! rewritten before the first release), and saying what to do when one fails.

use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::ConnectOptions;
use sqlx::{Connection, Executor};

use super::MIGRATOR;
use crate::store::schema::{self, Found};
use crate::store::StoreError;

pub(crate) async fn create_database(
    options: &MySqlConnectOptions,
    db: &str,
) -> Result<(), StoreError> {
    if !db
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(StoreError::Schema(format!(
            "database name {db:?} may hold only letters, digits, '_' and '-'"
        )));
    }
    let server = options.clone().database("");
    let mut conn = server.connect().await?;
    conn.execute(format!("CREATE DATABASE IF NOT EXISTS `{db}`").as_str())
        .await?;
    conn.close().await?;
    Ok(())
}

/// Migrations rewritten before the first release, as `(version, SHA-384 of
/// the text first applied)`: 0001 lost a comment about docker-compose, and
/// 0002 alters the notifications table in place instead of dropping and
/// recreating it. Both leave the same schema as before, so a database that
/// applied the old texts has its records' checksums brought up to date
/// instead of being refused for a changed migration. (The old texts are in
/// `engine/tests/data/migrations-0.1`, where a test applies them and then
/// these.)
pub(crate) const REWRITTEN: &[(i64, &str)] = &[
    (
        1,
        "b32f2b3143bec1f2fcabf1068c5c5e15f9522a9ab1009845e2706f97ea842304fe67b8a39cebe3f1e59c4bec968659c3",
    ),
    (
        2,
        "2e21d9fe332fad986e20d3dbcdc9bda05e798422f8bbd842fe44cba326fa34be1c6239a8c8666c54f42c160759d1963f",
    ),
];

pub(crate) async fn adopt_rewritten_history(pool: &MySqlPool) -> Result<(), StoreError> {
    if schema::found(pool).await? != Found::Ours {
        return Ok(());
    }
    for (version, old) in REWRITTEN {
        let Some(now) = MIGRATOR.iter().find(|m| m.version == *version) else {
            continue;
        };
        sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = ? WHERE version = ? AND checksum = UNHEX(?)",
        )
        .bind(now.checksum.as_ref())
        .bind(version)
        .bind(old)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// A failed migration, with what to do about it: MySQL cannot roll a schema
/// change back, so sqlx records the migration as begun and refuses to go on
/// until someone looks.
pub(crate) fn migration_failed(e: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError;
    let (what, version) = match &e {
        MigrateError::ExecuteMigration(source, version) => {
            (format!("migration {version:04} failed: {source}"), *version)
        }
        MigrateError::Dirty(version) => (
            format!("migration {version:04} stopped part way in an earlier run"),
            *version,
        ),
        other => return StoreError::Schema(format!("migrations: {other}")),
    };
    StoreError::Schema(format!(
        "{what}. Fix the cause (a CHECK constraint that fails names the table whose rows \
         break it), then delete the migration's record \
         (DELETE FROM _sqlx_migrations WHERE version = {version}) and migrate again: \
         its steps check before they change anything, so a second run is safe"
    ))
}
