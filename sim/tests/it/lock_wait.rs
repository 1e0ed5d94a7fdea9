//! The deployed shape's functions' database sessions against the MySQL
//! server (`TEST_MYSQL_URL`).

use std::str::FromStr;

use sqlx::Row;

use engine::config::Config;
use sim::aws::settings::DeploymentSettings;
use sim::aws::shape::function_config;
use sqlx::mysql::MySqlConnectOptions;

/// The parameter group's `innodb_lock_wait_timeout` is the deployed
/// stack's; the sim's functions set it on each session, so a batch
/// waiting on the hot row gives up when a deployed one would (not at
/// the server's default of 50 s).
#[tokio::test]
async fn a_functions_session_waits_for_a_lock_as_long_as_the_deployed_one() {
    let url = std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
    let database = format!("orderflow_test_lockwait_{}", std::process::id());
    let options =
        MySqlConnectOptions::from_str(&format!("{}/{database}", url.trim_end_matches('/')))
            .unwrap();
    let settings = DeploymentSettings::shipped().unwrap();
    let processor = &settings.functions.processor;
    let config = function_config(&Config::default(), &settings, processor);
    let store = engine::store::StoreOptions::mysql(options)
        .pool_size(config.db_max_connections)
        .lock_wait_timeout(config.db_lock_wait_timeout_secs)
        .open_mysql()
        .await
        .expect("the MySQL server at TEST_MYSQL_URL");
    let row =
        sqlx::query("SELECT @@SESSION.innodb_lock_wait_timeout, @@GLOBAL.innodb_lock_wait_timeout")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let (session, global): (u64, u64) = (row.get(0), row.get(1));
    assert_eq!(session, u64::from(settings.lock_wait_secs()));
    assert_eq!(session, 10, "a third of the processor's 30 s timeout");
    assert_ne!(
        session, global,
        "set on the session, not left to the server"
    );
    sqlx::query(&format!("DROP DATABASE `{database}`"))
        .execute(store.pool())
        .await
        .unwrap();
}
