//! The schema's steps: the migrations this build carries (and their
//! digest), creating the database, applying the migrations (with the
//! history rewritten before the first release), and saying what to do when
//! one fails.

use std::sync::LazyLock;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::ConnectOptions;
use sqlx::{Connection, Executor};

use super::MySqlStore;
use crate::store::schema::{self, Found};
use crate::store::StoreError;

/// `db/migrations`, as `build.rs` embeds them: (version, description,
/// type, SQL), in version order.
const EMBEDDED: &[(i64, &str, MigrationType, &str)] =
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The schema, embedded from `db/migrations` and applied on start: the
/// migrations sqlx's `migrate!` would make of the folder (each one's
/// checksum the SHA-384 of its SQL), built as that macro builds them.
pub static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| Migrator {
    migrations: EMBEDDED
        .iter()
        .map(|&(version, description, kind, sql)| {
            let no_tx = sql.starts_with("-- no-transaction");
            Migration::new(version, description.into(), kind, sql.into(), no_tx)
        })
        .collect::<Vec<_>>()
        .into(),
    ..Migrator::DEFAULT
});

/// A digest of the migrations this binary carries: SHA-256, hex, of one
/// line per migration in version order, `<version>:<SHA-384 of its file,
/// hex>\n`. The Pulumi program's `migrationsDigest` computes the same from
/// `db/migrations`, so the deploy step can tell a migrate zip built from
/// other migrations (and refuse to run it).
pub fn migrations_digest() -> String {
    use sha2::Digest;
    let mut lines = String::new();
    for m in MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
    {
        let checksum: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
        lines.push_str(&format!("{}:{checksum}\n", m.version));
    }
    sha2::Sha256::digest(lines.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl MySqlStore {
    /// Applies every pending migration, whoever made the database (this is
    /// how one made by the original system is brought to this schema), and
    /// answers the ones applied now, as `(version, description)`.
    pub async fn migrate(&self) -> Result<Vec<(i64, String)>, StoreError> {
        // Absent before the first migration: nothing applied yet.
        let before: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        adopt_rewritten_history(&self.pool).await?;
        MIGRATOR.run(&self.pool).await.map_err(migration_failed)?;
        Ok(MIGRATOR
            .iter()
            .filter(|m| !before.contains(&m.version))
            .map(|m| (m.version, m.description.to_string()))
            .collect())
    }

    /// What keeps the engine from using this database's schema; empty when
    /// nothing does.
    pub async fn schema_problems(&self) -> Result<Vec<String>, StoreError> {
        schema::problems(&self.pool).await
    }
}

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

#[cfg(test)]
mod tests {
    /// The embedded migrations are sqlx's reading of the folder, checksums
    /// and all: a database migrated by an earlier build (whose `migrate!`
    /// recorded them) is up to date with this one.
    #[tokio::test]
    async fn the_embedded_migrations_are_what_sqlx_reads_from_the_folder() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../db/migrations"));
        let read = sqlx::migrate::Migrator::new(dir).await.unwrap();
        let embedded: Vec<_> = super::MIGRATOR.iter().collect();
        assert_eq!(embedded.len(), read.iter().count());
        for (e, r) in embedded.iter().zip(read.iter()) {
            assert_eq!(
                (e.version, &e.description, e.migration_type, e.no_tx),
                (r.version, &r.description, r.migration_type, r.no_tx)
            );
            assert_eq!(e.sql, r.sql, "{}", e.version);
            assert_eq!(e.checksum, r.checksum, "{}", e.version);
        }
    }
}
