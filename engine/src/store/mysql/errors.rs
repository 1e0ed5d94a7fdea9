//! Sorting the database's errors into the engine's, once, where they are
//! born: what is transient (a lost connection, a deadlock, a rotated
//! password, a failover) is retried by the caller; the rest is not.

use std::sync::Arc;

use sqlx::mysql::MySqlDatabaseError;

use crate::store::StoreError;

/// Sorts sqlx errors, once, into the kinds the engine acts on.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let kind: fn(Arc<sqlx::Error>) -> StoreError = match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => StoreError::Unavailable,
            sqlx::Error::Database(db) => {
                match db
                    .try_downcast_ref::<MySqlDatabaseError>()
                    .map(|d| d.number())
                {
                    // deadlock, lock wait timeout, duplicate key (a concurrent
                    // insert of the same order), query interrupted
                    Some(1213 | 1205 | 1062 | 1317) => StoreError::Conflict,
                    // access denied: a rotated password
                    Some(1045) => StoreError::AccessDenied,
                    // server shutdown, connection killed, too many connections
                    // (the server's, or the user's MAX_USER_CONNECTIONS: 1226,
                    // 1203), read-only (failover), lost connection, gone away
                    Some(1053 | 1927 | 1040 | 1226 | 1203 | 1290 | 1836 | 2006 | 2013) => {
                        StoreError::Unavailable
                    }
                    _ => StoreError::Database,
                }
            }
            _ => StoreError::Database,
        };
        kind(Arc::new(e))
    }
}

/// Whether `e` is MySQL's duplicate key error (1062).
pub(super) fn is_duplicate_key(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.try_downcast_ref::<MySqlDatabaseError>().map(|d| d.number()) == Some(1062))
}
