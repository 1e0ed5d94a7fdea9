//! The database as RDS would be: the functions connect as a user the sim
//! creates with `MAX_USER_CONNECTIONS` set to the modelled instance class's
//! `max_connections` (RDS's default formula from the class's memory), so
//! the server itself refuses a connection past the limit; through a proxy
//! that adds the modelled network round trip.

use std::time::Duration;

use anyhow::Context as _;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::Executor;

use crate::netem::{self, LatencyProxy};

/// The user the functions connect as.
pub const USER: &str = "orderflow_fn";

/// The database the functions reach: where, as whom, and the proxy that
/// carries (and counts) their connections.
pub struct Rds {
    pub options: MySqlConnectOptions,
    pub proxy: LatencyProxy,
    pub max_connections: u32,
}

/// Creates (or resets) the functions' user with data rights on the
/// database of `admin` (all rights if `schema_owner`) and a connection
/// limit of `max_connections`, and starts the proxy with `rtt` round trips.
pub async fn start(
    admin: &MySqlPool,
    admin_options: &MySqlConnectOptions,
    max_connections: u32,
    rtt: Duration,
    schema_owner: bool,
) -> anyhow::Result<Rds> {
    let database = admin_options
        .get_database()
        .context("the database URL names no database")?;
    let password = format!("{:032x}", rand::random::<u128>());
    // The proxy connects from 127.0.0.1; MariaDB may see `localhost` for it.
    for host in ["127.0.0.1", "localhost", "::1"] {
        let user = format!("'{USER}'@'{host}'");
        admin
            .execute(format!("DROP USER IF EXISTS {user}").as_str())
            .await?;
        admin
            .execute(
                format!(
                    "CREATE USER {user} IDENTIFIED BY '{password}' \
                     WITH MAX_USER_CONNECTIONS {max_connections}"
                )
                .as_str(),
            )
            .await
            .with_context(|| format!("creating the functions' database user {user}"))?;
        // Data rights only, as the deployed application user has; all of
        // them where the functions migrate on a cold start (the first
        // deployment connected as the master user).
        let rights = match schema_owner {
            true => "ALL PRIVILEGES",
            false => "SELECT, INSERT, UPDATE",
        };
        admin
            .execute(format!("GRANT {rights} ON `{database}`.* TO {user}").as_str())
            .await?;
    }
    let (proxy, through) = netem::in_front_of(admin_options, rtt).await?;
    let options = through.username(USER).password(&password);
    Ok(Rds {
        options,
        proxy,
        max_connections,
    })
}
