use super::calibrate::concurrency_per_second;
use super::Report;

fn report(t: f64, duration_ms: f64) -> Report {
    Report {
        t,
        duration_ms,
        billed_ms: duration_ms.ceil(),
        init_ms: None,
        max_memory_mb: None,
    }
}

#[test]
fn concurrency_is_rebuilt_from_when_each_invocation_ended_and_how_long_it_ran() {
    // Two invocations through the first second, a third joining in the
    // second, none in the third but one that started there.
    let reports = [
        report(1.95, 1900.0),
        report(1.95, 1900.0),
        report(1.5, 400.0),
        report(3.0, 50.0),
    ];
    let series = concurrency_per_second(&reports);
    let at = |s: usize| series[s].1;
    assert_eq!(at(0), 2.0);
    assert_eq!(at(1), 3.0);
    assert_eq!(at(2), 1.0, "the two ran into the third second's start");
    assert_eq!(series.len(), 4);
}

#[test]
fn one_environment_running_invocations_one_after_another_is_one() {
    // A hundred 5 ms invocations back to back: never two at once.
    let reports: Vec<Report> = (1..=100)
        .map(|i| report(f64::from(i) * 0.005, 5.0))
        .collect();
    let series = concurrency_per_second(&reports);
    assert!(series.iter().all(|&(_, c)| c == 1.0), "{series:?}");
}

#[test]
fn no_reports_no_series() {
    assert!(concurrency_per_second(&[]).is_empty());
}

#[test]
fn an_observed_file_of_another_major_version_is_refused_by_name() {
    let err = super::Observed::parse(r#"{"format": "orderflow.observed/2"}"#).unwrap_err();
    assert!(err.to_string().contains("orderflow.observed/2"), "{err}");
}
