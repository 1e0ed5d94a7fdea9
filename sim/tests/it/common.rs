//! Helpers for the tests that run the `sim` binary: a `sim serve` process
//! read line by line, and MySQL databases of their own.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Executor, MySqlConnection};

pub use testkit::server_url;

/// A `sim serve` process, killed if the test ends first.
pub struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    pub base: String,
    seen: Vec<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `sim serve` on a free port over the MySQL database named,
    /// with these environment variables besides, and waits until it listens.
    pub fn start(database: &str, env: &[(&str, &str)]) -> Serve {
        Serve::start_with(database, &[], env)
    }

    /// The same, with `args` after `sim serve`'s.
    pub fn start_with(database: &str, args: &[&str], env: &[(&str, &str)]) -> Serve {
        let url = format!("{}/{database}", server_url().trim_end_matches('/'));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sim"));
        cmd.args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
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
    pub fn wait_for_line(&mut self, start: &str) -> String {
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

    pub fn signal(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "SIGTERM not delivered");
    }

    /// Waits for the process to exit; answers its status, the rest of its
    /// stdout, and its stderr.
    pub fn exit(mut self) -> (ExitStatus, String, String) {
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
pub async fn database(name: &str) -> (String, MySqlConnectOptions) {
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

pub async fn drop_database(options: &MySqlConnectOptions) {
    let db = options.get_database().unwrap_or_default().to_owned();
    if let Ok(mut conn) = options.clone().database("").connect().await {
        let _ = conn
            .execute(format!("DROP DATABASE IF EXISTS `{db}`").as_str())
            .await;
    }
}

/// Holds the row lock of `product` in an open transaction until dropped or
/// rolled back.
pub async fn lock_row(options: &MySqlConnectOptions, product: &str) -> MySqlConnection {
    let mut conn = options.connect().await.unwrap();
    conn.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT quantity_available FROM inventory WHERE product_id = ? FOR UPDATE")
        .bind(product)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn
}
