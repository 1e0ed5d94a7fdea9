//! A 202 is a promise: `sim serve` on MySQL, stopped with SIGTERM right after
//! a burst that filled its order queue, refuses new orders (503), drains every
//! accepted one through the processor and the notifier, and exits 0; a second
//! SIGTERM stops it at once, non-zero, saying how many accepted orders it left.
//!
//! The processor is held back, deterministically, by a transaction of the
//! test's own that locks the hot product's row (`SELECT ... FOR UPDATE`), so
//! the signal always finds a full queue; releasing the lock lets it drain.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Executor, MySqlConnection};

fn server_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// A `sim serve` process, killed if the test ends first.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    base: String,
    seen: Vec<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(database: &str, queue_capacity: usize) -> Serve {
        let url = format!("{}/{database}", server_url().trim_end_matches('/'));
        let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("DATABASE_URL", url)
            .env("QUEUE_CAPACITY", queue_capacity.to_string())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sim runs");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = child.stderr.take().expect("stderr");
        let stderr =
            std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
        let mut serve = Serve {
            child,
            lines,
            stderr: Some(stderr),
            base: String::new(),
            seen: Vec::new(),
        };
        let listening = serve.wait_for_line("orderflow listening on ");
        serve.base = listening
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("an address")
            .to_owned();
        serve
    }

    /// Waits for a stdout line starting with `start` and answers it.
    fn wait_for_line(&mut self, start: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.trim_start().starts_with(start) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line starting {start:?}; stdout so far:\n{}",
            self.seen.join("\n")
        );
    }

    fn signal(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "SIGTERM not delivered");
    }

    /// Waits for the process to exit; answers its status, the rest of its
    /// stdout, and its stderr.
    fn exit(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "sim serve did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = self.seen.join("\n");
        for line in self.lines.try_iter() {
            out.push('\n');
            out.push_str(&line);
        }
        let stderr = self.stderr.take().and_then(|t| t.join().ok());
        (status, out, stderr.unwrap_or_default())
    }
}

/// A database of the test's own, dropped at the end.
async fn database(name: &str) -> (String, MySqlConnectOptions) {
    let name = format!("orderflow_test_{name}_{}", std::process::id());
    let server = MySqlConnectOptions::from_str(&server_url()).expect("TEST_MYSQL_URL");
    let mut conn = server
        .connect()
        .await
        .unwrap_or_else(|e| panic!("MySQL tests need a server at {} ({e})", server_url()));
    conn.execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str())
        .await
        .unwrap();
    (name.clone(), server.database(&name))
}

async fn drop_database(options: &MySqlConnectOptions) {
    let db = options.get_database().unwrap_or_default().to_owned();
    if let Ok(mut conn) = options.clone().database("").connect().await {
        let _ = conn
            .execute(format!("DROP DATABASE IF EXISTS `{db}`").as_str())
            .await;
    }
}

/// Holds the row lock of `product` in an open transaction until dropped or
/// rolled back.
async fn lock_row(options: &MySqlConnectOptions, product: &str) -> MySqlConnection {
    let mut conn = options.connect().await.unwrap();
    conn.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT quantity_available FROM inventory WHERE product_id = ? FOR UPDATE")
        .bind(product)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn
}

/// Posts `n` orders of one unit of prod-101, 64 at a time; answers the
/// status and body of each.
async fn burst(base: &str, n: usize) -> Vec<(u16, Value)> {
    let client = reqwest::Client::new();
    stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move {
                let r = client
                    .post(format!("{base}/api/orders"))
                    .json(&json!({"customer_id": format!("burst-{i}"),
                        "items": [{"product_id": "prod-101", "quantity": 1}]}))
                    .send()
                    .await
                    .expect("the server answers");
                let status = r.status().as_u16();
                (status, r.json().await.unwrap_or(Value::Null))
            }
        })
        .buffer_unordered(64)
        .collect()
        .await
}

fn accepted_ids(answers: &[(u16, Value)]) -> Vec<String> {
    answers
        .iter()
        .filter(|(s, _)| *s == 202)
        .map(|(_, b)| b["order_id"].as_str().expect("an order id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_after_a_burst_that_filled_the_queue_loses_no_accepted_order() {
    let (name, options) = database("graceful").await;
    let mut serve = Serve::start(&name, 500);
    let mut lock = lock_row(&options, "prod-101").await;

    let answers = burst(&serve.base, 1500).await;
    let accepted = accepted_ids(&answers);
    let full = answers.iter().filter(|(s, _)| *s == 503).count();
    assert!(full > 0, "the burst did not fill the queue");
    assert_eq!(
        accepted.len() + full,
        answers.len(),
        "only 202s and 503s expected"
    );

    serve.signal();
    serve.wait_for_line("draining:");
    // Stopping: no new orders, and a load balancer is told so.
    let client = reqwest::Client::new();
    let refused = client
        .post(format!("{}/api/orders", serve.base))
        .json(&json!({"customer_id": "late", "items": [{"product_id": "prod-102", "quantity": 1}]}))
        .send()
        .await
        .expect("answered while draining");
    assert_eq!(refused.status().as_u16(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let health = client
        .get(format!("{}/health", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 503);

    lock.execute("ROLLBACK").await.unwrap();
    let (status, stdout, stderr) = serve.exit();
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("stopped: every accepted order was processed and notified"),
        "{stdout}"
    );

    // Every 202 is a finished order, notified; nothing else was recorded.
    let mut conn = options.connect().await.unwrap();
    let (finished, processed, notified): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(status = 'PROCESSED'), 0) AS SIGNED), \
         (SELECT COUNT(*) FROM notifications WHERE state = 'SENT') \
         FROM orders WHERE status IN ('PROCESSED', 'FAILED')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(finished as usize, accepted.len());
    assert_eq!(notified as usize, accepted.len());
    assert_eq!(processed, 50, "prod-101's 50 units sold, the rest failed");
    let unknown: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM orders WHERE order_id NOT IN ('{}')",
        accepted.join("','")
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(unknown, 0, "an order answered 503 was recorded");
    drop(conn);
    drop_database(&options).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_at_once_and_says_how_many_accepted_orders_were_left() {
    let (name, options) = database("abandon").await;
    let mut serve = Serve::start(&name, 100_000);
    let mut lock = lock_row(&options, "prod-101").await;

    let accepted = accepted_ids(&burst(&serve.base, 300).await);
    assert_eq!(accepted.len(), 300);
    serve.signal();
    serve.wait_for_line("draining:");
    serve.signal();
    let (status, stdout, stderr) = serve.exit();
    assert!(!status.success(), "exit status {status}\n{stdout}");
    // The held lock kept every order from the processor: all 300 were left.
    assert!(
        stderr.contains("stopped at once: 300 accepted orders were left unprocessed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("in-process queues and are lost"),
        "{stderr}"
    );
    lock.execute("ROLLBACK").await.unwrap();
    drop(lock);
    drop_database(&options).await;
}
