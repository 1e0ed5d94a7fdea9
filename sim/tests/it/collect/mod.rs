//! `sim collect` against a local moto server: a stack's worth of
//! CloudWatch metrics, log lines and dead letters put there by the test,
//! collected by the `sim` binary into an observed file, read back.
//!
//! The test puts its data with plain HTTP calls in the protocols moto
//! speaks (CloudWatch's and CloudWatch Logs' JSON), not through the
//! collector's SDK clients: what it asserts then does not depend on the
//! code under test writing it.
//!
//! What moto does not serve: percentiles (its GetMetricData computes Sum,
//! Average, Minimum, Maximum and SampleCount, and answers a `p99` query
//! with an error 500), so the collector's call for them (`Duration.p99`,
//! the API's `Latency`) is refused here and becomes a note, which the test
//! asserts, beside every plain statistic; and `NextToken` (it answers every
//! query in one page), so paging is not exercised.

mod checks;
mod stack;

use std::path::Path;
use std::process::{Command, Output};

use chrono::{DurationRound, TimeDelta, Utc};
use serde_json::{json, Value};

use sim::observed::Observed;
use sim::report::result::{ProfileSetup, RunResult};

const STACK: &str = "orderflow-it";
const FUNCTIONS: [&str; 4] = ["ingest", "read", "processor", "notifier"];

/// The stack's outputs, as `pulumi stack output --json` prints them.
fn outputs(queues: &[(&str, String)]) -> Value {
    let mut out = json!({
        "api_id": "it0api", "stage": "$default", "db_instance_id": format!("{STACK}-db"),
        "api_endpoint": "https://it0api.execute-api.us-east-1.amazonaws.com",
        "function_names": FUNCTIONS.iter()
            .map(|f| (f.to_string(), json!(format!("{STACK}-{f}"))))
            .collect::<serde_json::Map<_, _>>(),
    });
    for (key, url) in queues {
        out[*key] = url.clone().into();
    }
    out
}

/// A load's result, as `sim load --json` writes one.
fn load_result(path: &Path) {
    let mut result = RunResult::new("load", Some(42));
    result.setup.profile = Some(ProfileSetup {
        name: "flash-sale".into(),
        requests: 20_000,
        duration_secs: 20.0,
        description: "the flash sale".into(),
    });
    // The load cannot see the dead-letter queues: the collector counts them.
    for (name, v) in [
        ("requests", 20_000.0),
        ("accepted", 19_990.0),
        ("refused", 10.0),
        ("dlq", 0.0),
    ] {
        result.metrics.insert(name.into(), v);
    }
    result.write(path).expect("the load's result is written");
}

/// `sim collect ARGS` against the AWS at `moto`, with nothing of this
/// machine's AWS configuration.
fn sim_collect(args: &[&str], moto: &str, home: &Path) -> Output {
    let none = home.join("none");
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("collect")
        .args(args)
        .env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &none)
        .env("AWS_SHARED_CREDENTIALS_FILE", &none)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env("DATABASE_URL", "")
        .env("RUST_LOG", "off")
        .output()
        .expect("sim runs")
}

/// The shipped settings, which the test's stack was "deployed" with.
const SETTINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/settings.json");

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("orderflow-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A stack's worth of metrics, logs and dead letters in moto, collected by
/// `sim collect` into an observed file that holds them, each in its place.
#[tokio::test]
async fn collect_writes_what_the_stack_did_into_the_observed_file() {
    let moto = testkit::moto::moto().await;
    let url = moto.url.as_str();
    // Within the last hour (CloudWatch takes datapoints two weeks back),
    // on a minute, so that each period starts on a known second.
    let start = (Utc::now() - TimeDelta::minutes(40))
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap();
    let end = start + TimeDelta::minutes(20);
    let queues = stack::queues(url).await;
    stack::metrics(url, start, end).await;
    stack::logs(url, start).await;

    let dir = temp_dir("collect");
    let outputs_file = dir.join("outputs.json");
    std::fs::write(&outputs_file, outputs(&queues).to_string()).unwrap();
    let load_file = dir.join("load.json");
    load_result(&load_file);
    let bill_file = dir.join("bill.json");
    let bill = json!({"ResultsByTime": [
        {"TimePeriod": {"Start": "2026-12-06", "End": "2026-12-07"},
         "Total": {"UnblendedCost": {"Amount": "4.125", "Unit": "USD"}}, "Groups": [], "Estimated": true},
        {"TimePeriod": {"Start": "2026-12-07", "End": "2026-12-08"},
         "Total": {"UnblendedCost": {"Amount": "0.5", "Unit": "USD"}}, "Groups": [], "Estimated": true}]});
    std::fs::write(&bill_file, bill.to_string()).unwrap();
    let out = dir.join("observed.json");
    let (start_arg, end_arg) = (start.to_rfc3339(), end.to_rfc3339());
    let said = sim_collect(
        &[
            "--outputs",
            path(&outputs_file),
            "--load",
            path(&load_file),
            "--settings",
            SETTINGS,
            "--start",
            &start_arg,
            "--end",
            &end_arg,
            "--region",
            "us-east-1",
            "--bill",
            path(&bill_file),
            "--failover-at",
            "300",
            "--failover-secs",
            "45",
            "--out",
            path(&out),
        ],
        url,
        &dir,
    );
    let stderr = String::from_utf8_lossy(&said.stderr).into_owned();
    assert_eq!(said.status.code(), Some(0), "{stderr}");
    let o = Observed::read(&out).expect("an observed file");
    std::fs::remove_dir_all(&dir).unwrap();
    checks::check_observed(&o, start, &stderr);
}

/// A key missing from the stack's outputs stops the collection before it
/// asks AWS anything, naming the key.
#[test]
fn collect_names_a_missing_output_and_exits_2() {
    let dir = temp_dir("collect-missing");
    let queues: Vec<(&str, String)> = [
        "order_queue_url",
        "order_dlq_url",
        "processed_queue_url",
        "processed_dlq_url",
    ]
    .into_iter()
    .map(|k| {
        (
            k,
            format!("https://sqs.us-east-1.amazonaws.com/123456789012/{k}"),
        )
    })
    .collect();
    let mut outputs = outputs(&queues);
    outputs.as_object_mut().unwrap().remove("db_instance_id");
    let outputs_file = dir.join("outputs.json");
    std::fs::write(&outputs_file, outputs.to_string()).unwrap();
    let load_file = dir.join("load.json");
    load_result(&load_file);
    let out = dir.join("observed.json");
    let said = sim_collect(
        &[
            "--outputs",
            path(&outputs_file),
            "--load",
            path(&load_file),
            "--settings",
            SETTINGS,
            "--start",
            "2026-12-06T10:00:00Z",
            "--end",
            "2026-12-06T10:20:00Z",
            "--region",
            "us-east-1",
            "--out",
            path(&out),
        ],
        // Nothing listens on port 9: no call may be made.
        "http://127.0.0.1:9",
        &dir,
    );
    let stderr = String::from_utf8_lossy(&said.stderr).into_owned();
    let written = out.exists();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(said.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no `db_instance_id` output"), "{stderr}");
    assert!(stderr.contains("outputs.json"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!written, "no observed file");
}
