//! `sim load --follow` against a `sim serve` over MySQL: after the open-loop
//! load, every accepted order is read back until final, and the result
//! holds what `sim run` measures from its own store (the orders finished,
//! accept-to-processed, the throughput), which `sim collect` takes as the
//! sale's outcome on AWS.

use std::process::Command;

use sim::report::result::RunResult;

use crate::common::{self, Serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_load_reads_every_accepted_order_back_to_its_end() {
    let (name, options) = common::database("follow").await;
    let serve = Serve::start_with(&name, &["--load-products"], &[]);
    let json = std::env::temp_dir().join(format!("orderflow-follow-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "load",
            "--url",
            &serve.base,
            "--requests",
            "300",
            "--duration",
            "2",
        ])
        .args(["--follow", "60", "--quiet", "--seed", "3"])
        .arg("--json")
        .arg(&json)
        .output()
        .expect("sim load runs");
    serve.signal();
    let (status, _, _) = serve.exit();
    assert!(status.success(), "sim serve stopped with {status}");
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let result = RunResult::read(&json).unwrap_or_else(|e| panic!("{e:#}\n{said}"));
    let _ = std::fs::remove_file(&json);
    common::drop_database(&options).await;

    let finished = result
        .checks
        .iter()
        .find(|c| c.name == "every accepted order finished (PROCESSED or FAILED)")
        .expect("the check");
    assert!(finished.passed, "{}", finished.detail);
    let pipeline = result.pipeline.as_ref().expect("the followed orders");
    let accepted = result.metrics["accepted"];
    assert!(accepted > 100.0, "{said}");
    // Duplicates share their original's id: finished counts orders.
    assert!(
        pipeline.finished as f64 <= accepted && pipeline.finished > 100,
        "{pipeline:?}"
    );
    assert_eq!(pipeline.processed + pipeline.failed, pipeline.finished);
    assert!(
        pipeline.failed > 0,
        "the hot products sell out: {pipeline:?}"
    );
    assert!(result.metrics["throughput"] > 0.0);
    assert!(result.metrics.contains_key("p99_accept_to_processed"));
    assert!(
        !result.metrics.contains_key("dlq"),
        "a client cannot see the DLQs"
    );
    assert_eq!(out.status.code(), Some(0), "{said}");
}
