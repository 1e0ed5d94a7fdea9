//! Tests of the result: its committed schema, reading back, and what a
//! busy machine withholds.

use super::*;

/// The committed schema is the one the type makes: a change of the
/// result's shape shows in review, and a reader's copy stays true.
#[test]
fn the_committed_schema_is_the_results_own() {
    let committed = include_str!("../../../../results.schema.json");
    assert!(
        committed == schema().unwrap(),
        "results.schema.json is stale: run `cargo run -p sim -- compare --schema > results.schema.json`"
    );
}

#[test]
fn a_result_reads_back_and_another_schema_is_refused() {
    let mut r = RunResult::new("run", Some(3));
    r.pipeline = Some(PipelineReport {
        order_dlq: 2,
        drained: true,
        ..PipelineReport::default()
    });
    r.derive_metrics();
    r.judge(&[], true);
    assert!(!r.passed, "dlq==0 is a default target");
    let dir = std::env::temp_dir().join(format!("orderflow-result-{}", std::process::id()));
    let path = dir.join("r.json");
    r.write(&path).unwrap();
    assert_eq!(RunResult::read(&path).unwrap(), r);
    std::fs::write(
        &path,
        r.to_json().unwrap().replace(SCHEMA, "orderflow.result/2"),
    )
    .unwrap();
    let e = RunResult::read(&path).unwrap_err().to_string();
    assert!(e.contains("orderflow.result/2"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// On a machine that could not keep the model, a missed target on a
/// figure that depends on its speed gets no verdict (exit 2), a met one
/// stands, and a miss of what was lost or refused fails the run (exit 1)
/// on any machine.
#[test]
fn a_busy_machine_withholds_only_its_speed_dependent_misses() {
    let judged = |metrics: &[(&str, f64)]| {
        let mut r = RunResult::new("run", Some(1));
        r.metrics = metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let targets: Vec<Target> = [
            "p99_accept_to_processed<2s",
            "read_first_try_5xx<1%",
            "dlq==0",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
        r.judge(&targets, false);
        r
    };
    let at_rest = judged(&[
        ("p99_accept_to_processed", 900.0),
        ("read_first_try_5xx", 0.02),
        ("dlq", 0.0),
    ]);
    assert_eq!(at_rest.exit_status(), 1, "a miss at rest is a miss");

    let mut busy = at_rest.clone();
    busy.withhold("too busy".into());
    assert_eq!(busy.exit_status(), 2);
    let marks: Vec<String> = busy.targets.iter().map(|t| t.to_string()).collect();
    assert!(
        marks[0].starts_with("PASS p99_accept_to_processed"),
        "{marks:?}"
    );
    assert!(
        marks[1].starts_with("NO VERDICT read_first_try_5xx"),
        "{marks:?}"
    );
    assert!(
        busy.first_miss().unwrap().contains("no verdict"),
        "{:?}",
        busy.first_miss()
    );

    let mut lost = judged(&[
        ("p99_accept_to_processed", 900.0),
        ("read_first_try_5xx", 0.02),
        ("dlq", 3.0),
    ]);
    lost.withhold("too busy".into());
    assert_eq!(
        lost.exit_status(),
        1,
        "the DLQ's count does not depend on the machine"
    );

    let mut met = judged(&[
        ("p99_accept_to_processed", 900.0),
        ("read_first_try_5xx", 0.0),
        ("dlq", 0.0),
    ]);
    met.withhold("too busy".into());
    assert_eq!(met.exit_status(), 0, "what was met stands");
}
