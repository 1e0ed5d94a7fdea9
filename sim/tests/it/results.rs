//! A run's result as data: `--json -` puts the JSON alone on standard
//! output (the report goes to standard error), a missed target fails the
//! run saying which and by how much, `--summary` writes Markdown, and `sim
//! compare` passes a result against itself and fails a doctored regression.

use std::path::Path;
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        // Empty, not unset: a developer's .env must not fill them in.
        .env("DATABASE_URL", "")
        .env("DB_HOST", "")
        .env("RUST_LOG", "off")
        .output()
        .expect("sim runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_run_writes_its_result_and_compare_gates_on_it() {
    let dir = std::env::temp_dir().join(format!("orderflow-results-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let summary = dir.join("summary.md");
    let out = sim(&[
        "--requests",
        "400",
        "--duration",
        "1",
        "--seed",
        "3",
        "--no-html",
        "--target",
        "refused==0",
        "--target",
        "throughput>1000000/s",
        "--json",
        "-",
        "--summary",
        summary.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // The missed target fails the run, and the report says by how much.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("MISS throughput>1000000/s: measured"),
        "{stderr}"
    );
    assert!(stderr.contains("PASS refused==0"), "{stderr}");
    let result: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON alone ({e}):\n{stdout}"));
    assert_eq!(result["schema"], "orderflow.result/1");
    assert_eq!(result["passed"], false);
    assert_eq!(result["seed"], 3);
    let load = &result["load"];
    assert_eq!(load["requests"], 400);
    assert_eq!(load["open_loop"], true);
    assert!(load["first_try"]["202"].as_u64().unwrap() > 0, "{load}");
    assert!(result["metrics"]["p99_accept_to_processed"].is_number());
    assert!(
        result["reads"]["requests"].as_u64().unwrap() > 0,
        "the flash sale reads"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("## orderflow `sim run`: FAILED"), "{md}");
    assert!(md.contains("| `throughput>1000000/s` |"), "{md}");

    let base = dir.join("base.json");
    std::fs::write(&base, &stdout).unwrap();
    let b = base.to_str().unwrap();
    let same = sim(&["compare", b, b]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stdout));
    assert!(text(&same.stdout).contains("no regression"));

    // The same result with a slower p99 and orders in the DLQ.
    let mut worse = result.clone();
    let p99 = worse["metrics"]["p99_accept_to_processed"]
        .as_f64()
        .unwrap();
    worse["metrics"]["p99_accept_to_processed"] = (p99 * 3.0 + 100.0).into();
    worse["metrics"]["dlq"] = 5.into();
    let new = dir.join("new.json");
    std::fs::write(&new, serde_json::to_string(&worse).unwrap()).unwrap();
    let regressed = sim(&["compare", b, new.to_str().unwrap()]);
    let report = text(&regressed.stdout);
    assert_eq!(regressed.status.code(), Some(1), "{report}");
    for metric in ["p99_accept_to_processed", "dlq"] {
        let line = report
            .lines()
            .find(|l| l.trim_start().starts_with(metric))
            .unwrap();
        assert!(line.ends_with("REGRESSION"), "{line}");
    }
    assert!(report.contains("2 regressions"), "{report}");

    // Not a result at all.
    let not = sim(&["compare", b, summary.to_str().unwrap()]);
    assert_eq!(not.status.code(), Some(2));
    assert!(
        text(&not.stderr).contains("is not JSON"),
        "{}",
        text(&not.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_target_or_profile_is_refused_before_the_run() {
    for (args, says) in [
        (&["--target", "p99<2s"][..], "no metric \"p99\""),
        (&["--target", "p99_accept_to_processed<2"][..], "ms or s"),
        (
            &["--profile", "black-friday"][..],
            "no profile \"black-friday\"",
        ),
    ] {
        let out = sim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // The shipped profiles are the files in profiles/, which a team copies.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/flash-sale.json");
    let out = sim(&[
        "--profile",
        shipped.to_str().unwrap(),
        "--requests",
        "50",
        "--duration",
        "1",
        "--no-html",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}
