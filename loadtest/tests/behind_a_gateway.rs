//! The load test against a deployed-like stack: a real `sim serve` behind a
//! stub gateway that wants a bearer token and throttles, as API Gateway
//! does. The run must send the token with every request, count the 429s as
//! throttled rather than as failures, and still verify the pipeline.
//!
//! The `sim` binary comes from this build's target directory (`cargo test
//! --workspace` builds it; alone, `cargo build -p sim` first, or the test
//! builds it when missing).

mod common;

use std::sync::atomic::Ordering;

use common::gateway::{self, Bucket};
use common::{loadtest, Serve};

const TOKEN: &str = "lt-test-token-7f3a9c";

/// The count before `unit` in the line of `output` that starts with
/// `prefix`, and the count of 429s in its parentheses: `throttled during the
/// load: 12 answers (10 × 429 rate limited, ...)`.
fn throttled(output: &str, prefix: &str) -> (u64, u64) {
    let line = output
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{output}"));
    let number_after = |marker: &str| -> u64 {
        let at = line.find(marker).unwrap_or_else(|| panic!("{line}")) + marker.len();
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count after {marker:?} in {line}"))
    };
    (number_after(prefix), number_after("("))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_run_with_a_token_is_counted_as_throttled_and_still_verifies() {
    let serve = Serve::start();
    // Reads at 20/s, writes at 10/s: far less than the load sends (200
    // requests a second) and the verification reads (up to 100 a second),
    // so both are throttled.
    let (base, counts) = gateway::start(
        &serve.base,
        TOKEN,
        Bucket::new(20.0, 5.0),
        Bucket::new(10.0, 5.0),
    )
    .await;
    let args = [
        "--host",
        &base,
        "--hot-product",
        "sim-hot-1",
        "--token",
        TOKEN,
        // One user per weight: every scenario runs.
        "--users",
        "20",
        "--increase-rate",
        "20",
        "--throttle-requests",
        "200",
        "--run-time",
        "3s",
        // Paced as against a deployed API (the gateway is on loopback, where
        // the default is unpaced), and still faster than the gateway allows.
        "--verify-rate",
        "100",
        "--verify-deadline",
        "30",
        "--quiet",
    ];
    let run = tokio::task::block_in_place(|| loadtest(&args));
    let out = run.output();

    assert!(run.status.success(), "the run failed: {out}");
    assert!(run.stdout.contains(" 0 failed"), "{out}");
    // Goose counted no failure: the 429s were marked throttled.
    assert!(
        !run.stdout.contains("Goose counted failed requests"),
        "{out}"
    );
    assert_eq!(
        counts.without_token.load(Ordering::Relaxed),
        0,
        "requests reached the gateway without the token: {out}"
    );
    assert!(counts.forwarded.load(Ordering::Relaxed) > 0);
    assert!(!out.contains(TOKEN), "the token was printed: {out}");

    // Every 429 the binary counted, the gateway sent; and both the load and
    // the verification met some.
    let sent = counts.throttled.load(Ordering::Relaxed);
    let (load, load_429) = throttled(&run.stdout, "throttled during the load: ");
    let (reads, reads_429) = throttled(&run.stdout, "throttled during the verification: ");
    assert!(load_429 > 0 && load >= load_429, "{out}");
    assert!(reads_429 > 0 && reads >= reads_429, "{out}");
    assert!(
        load_429 + reads_429 <= sent,
        "gateway sent {sent} 429s: {out}"
    );
    assert!(
        run.stdout
            .contains("no request refused as unauthorized (0 "),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_or_with_a_wrong_one_the_run_fails_naming_the_token() {
    // Nothing is forwarded without the token: no server is needed behind.
    let (base, counts) = gateway::start(
        "http://127.0.0.1:9",
        TOKEN,
        Bucket::new(20.0, 5.0),
        Bucket::new(10.0, 5.0),
    )
    .await;
    let common = [
        "--host",
        &base,
        "--hot-product",
        "sim-hot-1",
        "--run-time",
        "1s",
    ];

    let args = common.to_vec();
    let run = tokio::task::block_in_place(|| loadtest(&args));
    let out = run.output();
    assert!(!run.status.success(), "{out}");
    assert!(run.stderr.contains("401"), "{out}");
    assert!(run.stderr.contains("wants a bearer token"), "{out}");
    assert!(run.stderr.contains("--token"), "{out}");
    assert!(run.stderr.contains("ORDERFLOW_TOKEN"), "{out}");

    let wrong = "not-the-token";
    let args = [common.as_slice(), &["--token", wrong]].concat();
    let run = tokio::task::block_in_place(|| loadtest(&args));
    let out = run.output();
    assert!(!run.status.success(), "{out}");
    assert!(run.stderr.contains("refused the bearer token"), "{out}");
    assert!(!out.contains(wrong), "the token was printed: {out}");

    assert_eq!(counts.forwarded.load(Ordering::Relaxed), 0);
}
