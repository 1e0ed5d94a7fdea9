//! A simulated function's execution environments against the MySQL server
//! (`TEST_MYSQL_URL`), as the deployed shape runs them: the functions' user
//! with its connection limit, through the counting proxies.

use std::str::FromStr;

use engine::config::Config;
use engine::queues::Queues;
use futures::FutureExt;
use orderflow_lambda::Startup;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Executor};

use orderflow_lambda::Environment;
use sim::aws::function::*;
use sim::aws::model::{End, Model};
use sim::aws::rds;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

fn server_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaped_environments_connection_counts_until_wait_timeout() {
    let database = format!("orderflow_test_linger_{}", std::process::id());
    let admin_options = MySqlConnectOptions::from_str(&format!(
        "{}/{database}",
        server_url().trim_end_matches('/')
    ))
    .unwrap();
    let config = Config {
        db_max_connections: 1,
        ..Config::default()
    };
    let admin = engine::store::StoreOptions::mysql(admin_options.clone())
        .pool_size(1)
        .seeded(true)
        .open_mysql()
        .await
        .expect("the MySQL server at TEST_MYSQL_URL");
    // The functions' user may hold one connection.
    let rds = Arc::new(
        rds::start(
            admin.pool(),
            &admin_options,
            1,
            (Duration::ZERO, Duration::ZERO),
            sim::netem::ServerCosts::default(),
            false,
        )
        .await
        .unwrap(),
    );
    let queues = Queues::channel(&config);
    let init: Init = {
        let rds = rds.clone();
        Box::new(move |zone: Zone| {
            let (config, queues, options) =
                (config.clone(), queues.clone(), rds.options(zone).clone());
            let startup = Startup {
                migrate: false,
                secret: None,
            };
            async move { Environment::init(config, Some(options), queues, startup).await }.boxed()
        })
    };
    let costs = Costs {
        start: Duration::ZERO,
        queue_checks: 0,
        connect_round_trips: 0.0,
        rtt_near: Duration::ZERO,
        rtt_far: Duration::ZERO,
        far_share: 0.5,
        cpu_stretch: 1.0,
        timeout: Duration::from_secs(5),
        idle: Duration::from_millis(100),
        linger_share: 1.0,
        wait_timeout: Duration::from_millis(1500),
    };
    let model = Arc::new(Model::shipped(End::Central, 1).unwrap());
    let f = Function::new(
        sim::aws::settings::FunctionName::Processor,
        Arc::new(Semaphore::new(2)),
        costs,
        model,
        init,
    );
    // A query, so the pool holds its connection.
    let ping = |env: Environment| async move { env.ctx.store.ping().await.is_ok() };

    assert!(f.invoke(ping).await.unwrap(), "the first environment works");
    assert_eq!(
        f.stats.cold_starts.load(Ordering::Relaxed),
        1,
        "one cold start"
    );
    assert_eq!(
        rds.connections.opened.load(Ordering::Relaxed),
        1,
        "a cold start opens its pool and nothing else"
    );

    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(f.reap(), 1, "idle past the idle time: reaped");
    assert_eq!(f.stats.lingering.load(Ordering::Relaxed), 1);
    // Its session still holds the user's only connection: a new
    // environment's connect is refused by the server.
    match f.invoke(ping).await {
        Err(InvokeError::InitFailed(e)) => {
            let e = engine::report::error_chain(&*e);
            assert!(
                e.contains("max_user_connections") || e.contains("1226"),
                "{e}"
            )
        }
        other => panic!("a cold start beside a lingering session: {other:?}"),
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    f.reap();
    assert_eq!(f.stats.lingering.load(Ordering::Relaxed), 0);
    // The server has let the session go (the socket closes as the
    // environment is dropped; give it a moment).
    let mut ok = false;
    for _ in 0..50 {
        if let Ok(true) = f.invoke(ping).await {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "after wait_timeout the connection is free again");

    f.retire_all();
    let mut root = admin_options.connect().await.unwrap();
    root.execute(format!("DROP DATABASE IF EXISTS `{database}`").as_str())
        .await
        .unwrap();
}
