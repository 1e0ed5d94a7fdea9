//! What the MySQL store needs of the database's schema, checked at start, and
//! when the engine may migrate it on its own.
//!
//! The engine applies its migrations on start to a database it migrated
//! before (sqlx's `_sqlx_migrations` table is there) or to one without its
//! tables. A database that has the tables but no migration history was made
//! by someone else: the original Python system, or a hand. The engine does
//! not alter such a schema on its own. If it can use it as it is, it starts;
//! if not, it refuses, naming what is missing, and `sim migrate` brings it to
//! this schema in place, keeping every row.

use sqlx::MySqlPool;

use super::StoreError;

/// How the engine finds a database when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No orderflow table yet: a new database.
    Empty,
    /// Migrated by this engine before.
    Ours,
    /// Tables without a migration history: made by the original system, or
    /// by hand.
    Foreign,
}

/// The columns the engine reads and writes, with the data types it can use.
const NEEDED: &[(&str, &str, &[&str])] = &[
    ("inventory", "product_id", TEXT),
    ("inventory", "product_name", TEXT),
    ("inventory", "quantity_available", INTEGER),
    ("orders", "order_id", TEXT),
    ("orders", "customer_id", TEXT),
    // MariaDB's JSON is a LONGTEXT with a json_valid CHECK.
    (
        "orders",
        "items",
        &["json", "longtext", "mediumtext", "text"],
    ),
    ("orders", "status", &["varchar", "char", "enum"]),
    ("orders", "failure_reason", TEXT),
    ("orders", "created_at", &["datetime", "timestamp"]),
    ("orders", "processed_at", &["datetime", "timestamp"]),
    ("notifications", "order_id", TEXT),
    ("notifications", "status", TEXT),
    ("notifications", "state", TEXT),
    ("notifications", "claimed_by", TEXT),
    ("notifications", "claimed_at", &["datetime", "timestamp"]),
    ("notifications", "sent_at", &["datetime", "timestamp"]),
];
const TEXT: &[&str] = &["varchar", "char"];
const INTEGER: &[&str] = &["int", "bigint", "mediumint", "smallint"];

/// Columns that must not allow NULL: the engine reads them as values.
const NOT_NULL: &[(&str, &str)] = &[
    ("inventory", "quantity_available"),
    ("orders", "created_at"),
    ("orders", "items"),
];

/// Whether the database at `pool` is new, the engine's, or someone else's.
pub async fn found(pool: &MySqlPool) -> Result<Found, StoreError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
         WHERE table_schema = DATABASE() \
         AND table_name IN ('_sqlx_migrations', 'inventory', 'orders', 'notifications')",
    )
    .fetch_all(pool)
    .await?;
    Ok(if tables.iter().any(|t| t == "_sqlx_migrations") {
        Found::Ours
    } else if tables.is_empty() {
        Found::Empty
    } else {
        Found::Foreign
    })
}

/// What keeps the engine from using the schema, one line each; empty when
/// it can.
pub async fn problems(pool: &MySqlPool) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), \
                CAST(data_type AS CHAR), CAST(is_nullable AS CHAR) \
         FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name IN ('inventory', 'orders', 'notifications')",
    )
    .fetch_all(pool)
    .await
    ?;
    let column = |table: &str, name: &str| {
        rows.iter()
            .find(|(t, c, _, _)| t.eq_ignore_ascii_case(table) && c.eq_ignore_ascii_case(name))
    };
    let mut out = Vec::new();
    for table in ["inventory", "orders", "notifications"] {
        if !rows.iter().any(|(t, ..)| t.eq_ignore_ascii_case(table)) {
            out.push(format!("table {table} is missing"));
        }
    }
    for (table, name, types) in NEEDED {
        if !rows.iter().any(|(t, ..)| t.eq_ignore_ascii_case(table)) {
            continue;
        }
        match column(table, name) {
            None => out.push(format!("{table} has no column {name}")),
            Some((_, _, ty, _)) if !types.iter().any(|t| t.eq_ignore_ascii_case(ty)) => out.push(
                format!("{table}.{name} is {ty}, not one of {}", types.join(", ")),
            ),
            Some(_) => {}
        }
    }
    for (table, name) in NOT_NULL {
        if column(table, name).is_some_and(|(_, _, _, nullable)| nullable == "YES") {
            out.push(format!("{table}.{name} allows NULL"));
        }
    }
    Ok(out)
}

/// The refusal for a schema the engine cannot use: what is missing, and how
/// to migrate.
pub fn refusal(database: &str, found: Found, problems: &[String]) -> StoreError {
    let mut message = format!("the database `{database}` is not in orderflow's schema:\n");
    for p in problems {
        message.push_str(&format!("  - {p}\n"));
    }
    message.push_str(match found {
        Found::Foreign => {
            "It has tables but no migration history (it looks like a database made by the \
             original system), so orderflow did not change it on its own. Back it up, then \
             bring it to orderflow's schema in place, keeping every row, with\n  \
             cargo run -p sim -- migrate      (with the same DATABASE_URL or DB_* settings)\n\
             and start again. The book's \"Moving from the original system\" says what changes."
        }
        Found::Ours | Found::Empty => {
            "Its migrations were applied, yet the tables differ from them: something changed \
             the schema by hand. Compare it with db/migrations and restore what is missing."
        }
    });
    StoreError::Schema(message)
}

#[cfg(test)]
mod tests {
    use super::NEEDED;

    /// The columns the store writes and reads are the ones each start
    /// checks the database for.
    #[test]
    fn the_start_checks_every_order_column_the_store_uses() {
        let checked: Vec<&str> = NEEDED
            .iter()
            .filter(|(table, ..)| *table == "orders")
            .map(|(_, column, _)| *column)
            .collect();
        assert_eq!(checked, crate::store::mysql::ORDER_FIELDS);
    }
}
