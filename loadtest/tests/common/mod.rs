//! What the load test's integration tests share: a real `sim serve` to load
//! (in-memory store), a stub gateway to put in front of it ([`gateway`]),
//! and a run of the `loadtest` binary.

#![allow(dead_code)]

pub mod gateway;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The `sim` binary of this build: beside the `loadtest` binary under test
/// (`cargo test --workspace` and `cargo build -p sim` put it there). Built
/// here if it is missing.
pub fn sim_binary() -> PathBuf {
    let loadtest = PathBuf::from(env!("CARGO_BIN_EXE_loadtest"));
    let sim = loadtest.with_file_name(format!("sim{}", std::env::consts::EXE_SUFFIX));
    if sim.exists() {
        return sim;
    }
    let profile_dir = loadtest.parent().expect("a directory");
    let target_dir = profile_dir.parent().expect("the target directory");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "-q", "-p", "sim", "--target-dir"])
        .arg(target_dir)
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"));
    if profile_dir.ends_with("release") {
        cargo.arg("--release");
    }
    let built = cargo.status().expect("cargo runs");
    assert!(
        built.success() && sim.exists(),
        "cannot build {}: run `cargo build -p sim` first",
        sim.display()
    );
    sim
}

/// A `sim serve` process on a free port, in-memory, with the load's
/// products stocked; killed when dropped.
pub struct Serve {
    child: Child,
    pub base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    pub fn start() -> Serve {
        let mut child = Command::new(sim_binary())
            .args(["serve", "--addr", "127.0.0.1:0", "--load-products"])
            // Empty, so that a developer's .env does not switch to MySQL.
            .env("DATABASE_URL", "")
            .env("DB_HOST", "")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sim serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end, so that the server never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut serve = Serve {
            child,
            base: String::new(),
        };
        let listening = lines
            .iter()
            .find(|l| l.starts_with("orderflow listening on "))
            .expect("sim serve says where it listens");
        serve.base = listening
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("an address")
            .to_owned();
        serve
    }
}

/// What a run of the `loadtest` binary left.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Both outputs, for an assertion's message.
    pub fn output(&self) -> String {
        format!(
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `loadtest` with `args` (`ORDERFLOW_TOKEN` cleared), killed if it
/// runs over two minutes.
pub fn loadtest(args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(args)
        .env_remove("ORDERFLOW_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("loadtest starts");
    let stdout = drain(child.stdout.take().expect("stdout"));
    let stderr = drain(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("loadtest ran over two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}
