//! The application user's account: what the migration step, as the
//! schema's owner, creates and grants for the functions, and the password
//! rotation. Names and passwords are spliced into statements that take no
//! parameters, so each is checked to be plain first.

use sqlx::mysql::MySqlDatabaseError;
use sqlx::Executor;

use super::MySqlStore;
use crate::store::StoreError;

/// The tables the pipeline reads and writes: all the application user may
/// change.
pub const DATA_TABLES: [&str; 3] = ["inventory", "orders", "notifications"];

impl MySqlStore {
    /// Creates `user`@`host` if missing, sets its password, and grants it
    /// data rights on `database`: `SELECT, INSERT, UPDATE` on the data
    /// tables (it deletes nothing and runs no DDL) and none on the
    /// migration history. What the migration step does, as the schema's
    /// owner, for the functions' application user. The name and password
    /// are checked to be plain (letters, digits, `_`, `-`), as they are
    /// spliced into statements that take no parameters.
    pub async fn grant_data_rights(
        &self,
        user: (&str, &str),
        password: &str,
        database: &str,
    ) -> Result<(), StoreError> {
        let account = account(user)?;
        let password = plain("password", password)?;
        let database = plain("database name", database)?;
        let mut conn = self.pool.acquire().await?;
        conn.execute(
            format!("CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{password}'").as_str(),
        )
        .await?;
        // Without RETAIN, a secondary password a rotation kept stays.
        conn.execute(format!("ALTER USER {account} IDENTIFIED BY '{password}'").as_str())
            .await?;
        // Rights on the data tables only; none on the migration history (a
        // function checks the schema's columns, not its history). Accounts
        // made before had rights on the whole database, then SELECT on the
        // history: both are taken back.
        for grant in [
            format!("REVOKE SELECT, INSERT, UPDATE ON `{database}`.* FROM {account}"),
            format!("REVOKE SELECT ON `{database}`.`_sqlx_migrations` FROM {account}"),
        ] {
            match conn.execute(grant.as_str()).await {
                Ok(_) => {}
                // 1141, 1147: no such grant (an account made since).
                Err(sqlx::Error::Database(e))
                    if e.try_downcast_ref::<MySqlDatabaseError>()
                        .is_some_and(|d| matches!(d.number(), 1141 | 1147)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        for table in DATA_TABLES {
            conn.execute(
                format!("GRANT SELECT, INSERT, UPDATE ON `{database}`.`{table}` TO {account}")
                    .as_str(),
            )
            .await?;
        }
        // The same user from another host (an earlier deploy's `'%'`) would
        // keep its old password and rights, which no rotation changes:
        // dropped.
        let others: Vec<(String,)> = sqlx::query_as(
            "SELECT CAST(host AS CHAR) FROM mysql.user WHERE user = ? AND host <> ?",
        )
        .bind(user.0)
        .bind(user.1)
        .fetch_all(&mut *conn)
        .await?;
        for (host,) in others {
            let other = self::account((user.0, &host))?;
            conn.execute(format!("DROP USER IF EXISTS {other}").as_str())
                .await?;
        }
        Ok(())
    }

    /// Whether the server keeps two passwords per account (MySQL 8.0.14 and
    /// later: `RETAIN CURRENT PASSWORD`, `DISCARD OLD PASSWORD`). MariaDB
    /// does not.
    pub async fn has_dual_passwords(&self) -> Result<bool, StoreError> {
        let (version,): (String,) = sqlx::query_as("SELECT VERSION()")
            .fetch_one(&self.pool)
            .await?;
        Ok(dual_passwords(&version))
    }

    /// Gives `user`@`host` a new password; with `retain_current`, the one
    /// it had keeps working too (until [`MySqlStore::discard_old_password`]),
    /// on a server that [has dual passwords](MySqlStore::has_dual_passwords).
    pub async fn set_password(
        &self,
        user: (&str, &str),
        password: &str,
        retain_current: bool,
    ) -> Result<(), StoreError> {
        let account = account(user)?;
        let password = plain("password", password)?;
        let retain = if retain_current {
            " RETAIN CURRENT PASSWORD"
        } else {
            ""
        };
        sqlx::query(&format!(
            "ALTER USER {account} IDENTIFIED BY '{password}'{retain}"
        ))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the password [`MySqlStore::set_password`] retained.
    pub async fn discard_old_password(&self, user: (&str, &str)) -> Result<(), StoreError> {
        let account = account(user)?;
        sqlx::query(&format!("ALTER USER {account} DISCARD OLD PASSWORD"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// `value`, if it is plain enough to splice into a statement: letters,
/// digits, `_` and `-`.
fn plain<'a>(what: &str, value: &'a str) -> Result<&'a str, StoreError> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match ok {
        true => Ok(value),
        false => Err(StoreError::Internal(format!(
            "a database {what} with characters other than letters, digits, `_` and `-`"
        ))),
    }
}

/// `'user'@'host'`, for a plain user name and a host pattern (`%`, or an
/// address range such as `10.20.%`).
fn account((user, host): (&str, &str)) -> Result<String, StoreError> {
    let user = plain("user", user)?;
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%._-:".contains(&b))
    {
        return Err(StoreError::Internal(format!(
            "a database user host `{host}` with characters other than letters, digits, `%`, `.`, `_`, `-` and `:`"
        )));
    }
    Ok(format!("'{user}'@'{host}'"))
}

/// Whether a server reporting `version` (`SELECT VERSION()`) has dual
/// passwords: MySQL from 8.0.14; no MariaDB release.
fn dual_passwords(version: &str) -> bool {
    if version.contains("MariaDB") {
        return false;
    }
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (major, minor, patch) >= (8, 0, 14)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dual_passwords_are_mysql_8_0_14_and_later() {
        for (version, dual) in [
            ("8.4.3", true),
            ("8.0.14", true),
            ("8.0.13-log", false),
            ("5.7.44-log", false),
            ("10.11.19-MariaDB-0+deb12u1", false),
            ("11.4.2-MariaDB", false),
            ("9.1.0", true),
        ] {
            assert_eq!(super::dual_passwords(version), dual, "{version}");
        }
    }
}
