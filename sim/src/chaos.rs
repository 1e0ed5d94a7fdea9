//! The sim's side of fault injection: killed database connections and a
//! database outage (stopping and starting the server). The other faults are
//! decorators of the store and the queues (`engine::harness::faults`); the
//! report of what was injected is `report::faults`.

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

use engine::harness::faults::{FaultKind, Faults, InjectedCrash};
use engine::store::MySqlStore;
use sqlx::mysql::{MySqlDatabaseError, MySqlPool};
use tokio::task::JoinHandle;

/// Every 20 ms, with the fault's rate, kills one of the store's connections
/// on the server, until `stop` fires.
pub fn spawn_connection_killer(
    store: Arc<MySqlStore>,
    faults: Arc<Faults>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = stop.changed() => return,
            }
            if faults.chance(FaultKind::KilledConnection) {
                match kill_a_connection(store.pool(), |n| faults.pick(n)).await {
                    Ok(true) => faults.count(FaultKind::KilledConnection),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "could not kill a connection"),
                }
            }
        }
    })
}

/// Kills one of this pool's connections on the server with
/// `KILL CONNECTION`, as a failing network or an operator would; answers
/// whether there was one to kill. `pick` chooses among the candidates.
async fn kill_a_connection(
    pool: &MySqlPool,
    pick: impl FnOnce(usize) -> usize,
) -> Result<bool, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    // Busy connections first: killing one mid-transaction is the fault
    // worth testing (the pool quietly replaces idle ones). CAST: the
    // column is BIGINT on MariaDB, BIGINT UNSIGNED on MySQL.
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST \
         WHERE DB = DATABASE() AND ID <> CONNECTION_ID() \
         AND (COMMAND <> 'Sleep' OR NOT EXISTS (SELECT 1 FROM information_schema.PROCESSLIST \
              WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND <> 'Sleep'))",
    )
    .fetch_all(&mut *conn)
    .await?;
    let Some(&id) = ids.get(pick(ids.len())) else {
        return Ok(false);
    };
    match sqlx::query(&format!("KILL CONNECTION {id}"))
        .execute(&mut *conn)
        .await
    {
        Ok(_) => Ok(true),
        // ER_NO_SUCH_THREAD: it closed on its own meanwhile.
        Err(sqlx::Error::Database(e))
            if e.try_downcast_ref::<MySqlDatabaseError>()
                .map(|d| d.number())
                == Some(1094) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Keeps the panics of injected crashes quiet (the report counts them);
/// every other panic is reported as usual.
pub fn quiet_injected_crashes() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.payload().is::<InjectedCrash>() {
            report(info);
        }
    }));
}

/// Default commands for a local MariaDB started by start-stop-daemon, as
/// `.ci/run` starts it; pass your own for a systemd MySQL.
pub const DEFAULT_DB_STOP: &str =
    "start-stop-daemon --stop --oknodo --retry 30 --exec \"$(command -v mariadbd)\"";
pub const DEFAULT_DB_START: &str =
    "start-stop-daemon --start --oknodo --background --exec \"$(command -v mariadbd)\"";

async fn shell(cmd: &str) -> anyhow::Result<()> {
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .await
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{cmd:?} exited with {status}"))
    }
}

/// Stops the database server, waits `secs`, starts it again, and waits until
/// the store answers. Answers how long the store was unreachable.
pub async fn db_outage(
    store: &dyn engine::store::OrderStore,
    stop: &str,
    start: &str,
    secs: u64,
) -> anyhow::Result<Duration> {
    let began = std::time::Instant::now();
    println!("  database outage: stopping the server ({stop})");
    shell(stop).await?;
    if store.ping().await.is_ok() {
        anyhow::bail!("the database still answers after the stop command");
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    println!("  database outage: starting the server again after {secs} s");
    shell(start).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while store.ping().await.is_err() {
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the database did not come back within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let down = began.elapsed();
    println!(
        "  database outage: the store answers again ({:.1} s after the stop)",
        down.as_secs_f64()
    );
    Ok(down)
}
