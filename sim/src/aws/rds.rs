//! The database as RDS would be: the functions connect as a user the sim
//! creates with `MAX_USER_CONNECTIONS` set to the settings' explicit
//! `max_connections` less what RDS holds itself (the model's
//! `rds_internal_connections`), so the server itself refuses a connection
//! past the limit; through one proxy per availability zone, each adding its
//! zone's modelled round trip, each commit RDS's storage flush (and for a
//! Multi-AZ instance the standby's write), each statement's server time
//! stretched to the instance class's speed; and a failover
//! ([`Rds::fail_over`]) that drops the functions' connections and refuses
//! new ones while it lasts.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::Executor;

use super::function::Zone;
use crate::netem::{self, Connections, LatencyProxy, ServerCosts};

/// The user the functions connect as, one per database: two runs on one
/// server (two tests, two terminals) must not reset each other's user.
/// MySQL allows 32 characters in a user name, so the database's name is
/// hashed (FNV-1a) rather than spelt out.
pub fn user_for(database: &str) -> String {
    let hash = database.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("orderflow_fn_{hash:016x}")
}

/// The database the functions reach: where, as whom, and the proxies that
/// carry (and count) their connections from each zone.
pub struct Rds {
    near: (LatencyProxy, MySqlConnectOptions),
    far: (LatencyProxy, MySqlConnectOptions),
    /// What both zones' proxies carried.
    pub connections: Arc<Connections>,
    /// The connections the functions' user may open.
    pub max_connections: u32,
    /// What a commit and a statement cost beyond the round trip.
    pub costs: ServerCosts,
}

impl Rds {
    /// How an environment in `zone` connects.
    pub fn options(&self, zone: Zone) -> &MySqlConnectOptions {
        match zone {
            Zone::Near => &self.near.1,
            Zone::Far => &self.far.1,
        }
    }

    /// A failover of `outage`: the endpoint answers nothing, every open
    /// connection is dropped, and connections succeed again after it.
    pub async fn fail_over(&self, outage: Duration) {
        self.connections.cut();
        tokio::time::sleep(outage).await;
        self.connections.restore();
    }
}

/// Creates (or resets) the functions' user with data rights on the
/// database of `admin` (all rights if `schema_owner`) and a connection
/// limit of `max_connections`, and starts a proxy for each zone with its
/// round trip, `(near, far)`, each commit and statement costing what
/// `costs` adds.
pub async fn start(
    admin: &MySqlPool,
    admin_options: &MySqlConnectOptions,
    max_connections: u32,
    rtt: (Duration, Duration),
    costs: ServerCosts,
    schema_owner: bool,
) -> anyhow::Result<Rds> {
    let database = admin_options
        .get_database()
        .context("the database URL names no database")?;
    let password = format!("{:032x}", rand::random::<u128>());
    let name = user_for(database);
    // The proxy connects from 127.0.0.1; MariaDB may see `localhost` for it.
    for host in ["127.0.0.1", "localhost", "::1"] {
        let user = format!("'{name}'@'{host}'");
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
    let connections = Arc::new(Connections::default());
    let mut zones = Vec::new();
    for rtt in [rtt.0, rtt.1] {
        let (proxy, through) =
            netem::in_front_of_counting(admin_options, rtt, costs, connections.clone()).await?;
        zones.push((proxy, through.username(&name).password(&password)));
    }
    let far = zones.pop().context("two zones")?;
    let near = zones.pop().context("two zones")?;
    Ok(Rds {
        near,
        far,
        connections,
        max_connections,
        costs,
    })
}
