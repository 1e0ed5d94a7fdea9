//! The loop with AWS, closed on the simulated stack: a run under a model
//! whose constants are known writes an observed file as `sim collect`
//! would from AWS; `sim calibrate` recovers those constants within each
//! fit's stated tolerance; `sim compare --observed` finds the run inside
//! the shipped model's range (exit 0), and a run with one constant doctored
//! beyond its range outside it (exit 1).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sim::aws::model::{Model, SHIPPED};
use sim::aws::End;
use sim::observed::{calibrate, Observed};
use sim::report::result::RunResult;
use sqlx::{ConnectOptions, Executor};

use crate::common;

/// The constants the run is made with (central values; each inside the
/// shipped range, the SQS deliveries raised so two of the slower calls fit
/// in them, as the model requires).
const KNOWN: [(&str, f64); 8] = [
    ("runtime_start_ms", 120.0),
    ("sqs_api_p50_ms", 13.0),
    ("sqs_api_p99_ms", 80.0),
    ("sqs_delivery_p50_ms", 30.0),
    ("sqs_delivery_p99_ms", 200.0),
    ("lambda_cpu_slowdown", 1.3),
    ("rds_commit_ms", 4.0),
    ("esm_scale_per_minute", 180.0),
];

/// The shipped model with `central` values, and `pinned` ones at all three
/// ends (a value beyond the range, which the ends must then hold too).
fn model_file(dir: &Path, name: &str, central: &[(&str, f64)], pinned: &[(&str, f64)]) -> PathBuf {
    let mut model: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
    for (constant, v) in central {
        model["constants"][constant]["central"] = (*v).into();
    }
    for (constant, v) in pinned {
        for end in ["optimistic", "central", "pessimistic"] {
            model["constants"][constant][end] = (*v).into();
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, model.to_string()).unwrap();
    path
}

fn sim(args: &[&str], database: &str) -> Output {
    let url = format!("{}/{database}", common::server_url().trim_end_matches('/'));
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .env("DATABASE_URL", &url)
        .env("DB_HOST", "")
        .env("RUST_LOG", "off")
        .output()
        .expect("sim runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The observed sale: the flash sale's profile at a short size, on the
/// shipped settings, under `model` at its central end.
fn observed_run(dir: &Path, model: &Path, name: &str, database: &str) -> (Observed, RunResult) {
    let observed = dir.join(format!("{name}.observed.json"));
    let json = dir.join(format!("{name}.result.json"));
    let out = sim(
        &[
            "--topology",
            "lambda",
            "--profile",
            "flash-sale",
            "--seed",
            "11",
            "--requests",
            "800",
            "--duration",
            "3",
            "--model",
            "central",
            "--quiet",
            "--no-html",
            "--model-file",
            model.to_str().unwrap(),
            "--observed",
            observed.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        database,
    );
    let observed = Observed::read(&observed).unwrap_or_else(|e| panic!("{e:#}\n{}", text(&out)));
    (observed, RunResult::read(&json).unwrap())
}

/// The drain: 3,000 orders sent 64 at a time into a processor mapping of
/// batches of one, capped at 40 (the read function's concurrency lowered
/// to keep the connection budget).
fn drain_run(dir: &Path, model: &Path, database: &str) -> Observed {
    let mut settings: serde_json::Value =
        serde_json::from_str(include_str!("../../../deploy/settings.json")).unwrap();
    settings["event_sources"]["processor"] = serde_json::json!({ "batch_size": 1, "batching_window_secs": 0, "maximum_concurrency": 40 });
    settings["functions"]["processor"]["reserved_concurrency"] = 40.into();
    settings["functions"]["read"]["reserved_concurrency"] = 5.into();
    let file = dir.join("drain-settings.json");
    std::fs::write(&file, settings.to_string()).unwrap();
    let observed = dir.join("drain.observed.json");
    let out = sim(
        &[
            "--topology",
            "lambda",
            "--settings",
            file.to_str().unwrap(),
            "--seed",
            "12",
            "--requests",
            "3000",
            "--duration",
            "0",
            "--concurrency",
            "64",
            "--model",
            "central",
            "--model-file",
            model.to_str().unwrap(),
            "--observed",
            observed.to_str().unwrap(),
            "--quiet",
            "--no-html",
        ],
        database,
    );
    Observed::read(&observed).unwrap_or_else(|e| panic!("{e:#}\n{}", text(&out)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibrate_recovers_a_runs_constants_and_compare_holds_the_run_to_the_models_range() {
    let dir = std::env::temp_dir().join(format!("orderflow-observe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("orderflow_test_observe_{}", std::process::id());
    let known = model_file(&dir, "known.json", &KNOWN, &[]);
    let (observed, result) = observed_run(&dir, &known, "known", &database);

    // The file holds what CloudWatch would: the sale, its outcome, the
    // functions' REPORT lines and the processor's EMF records.
    assert_eq!(observed.source, "sim");
    assert_eq!(observed.sale.requests, 800);
    assert_eq!(observed.outcome.get("dlq"), Some(&0.0));
    let ingest = &observed.functions["ingest"];
    assert!(
        ingest.reports.iter().any(|r| r.init_ms.is_some()),
        "cold starts"
    );
    assert!(!observed.functions["processor"].emf.is_empty());

    // The fits, against the known constants: those the host's speed cannot
    // move (CPU time, the commit) always; the latencies, which a busy host
    // can only lengthen (its timers wake late), from below always and from
    // above when the run kept the model's time.
    let base = Model::parse(
        &std::fs::read_to_string(&known).unwrap(),
        "known",
        End::Central,
        0,
    )
    .unwrap();
    let found = calibrate::calibrate(&observed, &base);
    let at_rest = result.no_verdict.is_none();
    for (constant, known) in KNOWN {
        if constant.starts_with("sqs_delivery") || constant == "esm_scale_per_minute" {
            continue;
        }
        let fit = found
            .get(constant)
            .unwrap_or_else(|| panic!("{constant} not fitted: {:?}", found.not_informed));
        let (low, high) = (known * (1.0 - fit.tolerance), known * (1.0 + fit.tolerance));
        let timed = constant.starts_with("sqs_api") || constant == "runtime_start_ms";
        assert!(
            fit.value >= low,
            "{constant}: fitted {} below {low} (known {known})",
            fit.value
        );
        if !timed || at_rest {
            assert!(
                fit.value <= high,
                "{constant}: fitted {} above {high} (known {known})",
                fit.value
            );
        }
    }
    // The sale is too short to ramp the mapping: said, not guessed.
    assert!(found
        .not_informed
        .iter()
        .any(|(c, _)| *c == "esm_scale_per_minute"));

    // A drain: the orders sent as fast as answered into a mapping that
    // takes one at a time, so they wait long enough for it to ramp; its
    // rate a minute recovered from the processor's REPORT lines (a busy
    // host's late timers can only slow the ramp).
    let drained = drain_run(&dir, &known, &database);
    let ramp = calibrate::calibrate(&drained, &base);
    let fit = ramp
        .get("esm_scale_per_minute")
        .unwrap_or_else(|| panic!("the ramp not fitted: {:?}", ramp.not_informed));
    let rate = 180.0;
    assert!(fit.value <= rate * (1.0 + fit.tolerance), "{fit:?}");
    if at_rest {
        assert!(fit.value >= rate * (1.0 - fit.tolerance), "{fit:?}");
    }

    // The command writes a model file the sim takes, the fits as its
    // sources.
    let calibrated = dir.join("calibrated.json");
    let out = sim(
        &[
            "calibrate",
            dir.join("known.observed.json").to_str().unwrap(),
            "--out",
            calibrated.to_str().unwrap(),
        ],
        &database,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(&calibrated).unwrap();
    for end in [End::Optimistic, End::Central, End::Pessimistic] {
        Model::parse(&written, "calibrated", end, 0).unwrap();
    }
    let written: serde_json::Value = serde_json::from_str(&written).unwrap();
    let commit = &written["constants"]["rds_commit_ms"];
    assert!(
        commit["source"]
            .as_str()
            .unwrap()
            .starts_with("observed sim "),
        "{commit}"
    );
    assert!(
        (commit["central"].as_f64().unwrap() - 4.0).abs() < 0.8,
        "{commit}"
    );

    // Inside the shipped model's range: exit 0.
    let runs = dir.join("runs");
    let observed_file = dir.join("known.observed.json");
    let compared = sim(
        &[
            "compare",
            "--observed",
            observed_file.to_str().unwrap(),
            "--runs-dir",
            runs.to_str().unwrap(),
        ],
        &database,
    );
    assert_eq!(compared.status.code(), Some(0), "{}", text(&compared));
    assert!(text(&compared).contains("inside the model's range"));

    // One constant doctored beyond its range (a runtime that takes 3 s to
    // start, the shipped range ending at 250 ms): the same sale's verdict
    // figures fall outside the three runs the comparison made (taken again,
    // not rerun): exit 1.
    let doctored = model_file(&dir, "doctored.json", &[], &[("runtime_start_ms", 3000.0)]);
    observed_run(&dir, &doctored, "doctored", &database);
    let compared = sim(
        &[
            "compare",
            "--observed",
            dir.join("doctored.observed.json").to_str().unwrap(),
            "--runs-dir",
            runs.to_str().unwrap(),
            "--reuse-runs",
        ],
        &database,
    );
    let said = text(&compared);
    assert_eq!(compared.status.code(), Some(1), "{said}");
    assert!(said.contains("OUTSIDE (verdict)"), "{said}");
    // Runs of another sale are not taken for this one's.
    let drained = dir.join("drain.observed.json");
    let other = sim(
        &[
            "compare",
            "--observed",
            drained.to_str().unwrap(),
            "--runs-dir",
            runs.to_str().unwrap(),
            "--reuse-runs",
        ],
        &database,
    );
    assert_eq!(other.status.code(), Some(2), "{}", text(&other));
    assert!(
        text(&other).contains("was of another sale"),
        "{}",
        text(&other)
    );

    let server: sqlx::mysql::MySqlConnectOptions = common::server_url().parse().unwrap();
    let mut admin = server.connect().await.unwrap();
    admin
        .execute(format!("DROP DATABASE IF EXISTS `{database}`").as_str())
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
