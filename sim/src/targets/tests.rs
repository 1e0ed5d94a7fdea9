//! Tests of the targets: parsing and judging, the errors, and the table
//! against the book and the defaults.

use super::*;

fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn targets_read_their_units_and_judge_a_result() {
    let t: Target = "p99_accept_to_processed<2s".parse().unwrap();
    assert_eq!((t.op, t.value), (Op::Lt, 2000.0));
    let t5: Target = "first_try_5xx<0.1%".parse().unwrap();
    assert!((t5.value - 0.001).abs() < 1e-15);
    let m = metrics(&[("p99_accept_to_processed", 2604.0), ("first_try_5xx", 0.0)]);
    let v = t.judge(&m);
    assert!(!v.passed);
    assert_eq!(v.detail, "measured 2604 ms, limit <2000 ms (604 ms over)");
    assert!(t5.judge(&m).passed);
    let missing: Target = "dlq==0".parse().unwrap();
    assert!(
        !missing.judge(&m).passed,
        "a metric the run lacks is a miss"
    );
}

#[test]
fn a_bad_target_says_what_is_wrong() {
    assert!(matches!(
        "p99".parse::<Target>(),
        Err(TargetError::Shape(_))
    ));
    let e = "p99_latency<2s".parse::<Target>().unwrap_err().to_string();
    assert!(
        e.contains("no metric \"p99_latency\"") && e.contains("p99_accept_to_processed"),
        "{e}"
    );
    let e = "p99_accept_to_processed<2"
        .parse::<Target>()
        .unwrap_err()
        .to_string();
    assert!(e.contains("ms or s"), "{e}");
    assert!("refused==zero".parse::<Target>().is_err());
}

/// The book's table of metrics (Load testing, "Every metric") lists
/// every one, so a team can look up what a target may name.
#[test]
fn the_book_lists_every_metric() {
    let page = include_str!("../../../docs/src/load-testing.md");
    for (name, ..) in METRICS {
        assert!(
            page.contains(&format!("| `{name}` |")),
            "docs/src/load-testing.md lacks the metric {name}"
        );
    }
}

#[test]
fn every_default_parses_and_names_a_known_metric() {
    for t in SALE_DEFAULTS {
        let parsed: Target = t.parse().unwrap();
        assert!(metric(parsed.metric).is_some());
    }
}
