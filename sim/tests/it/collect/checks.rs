//! What the observed file must hold of what the test put in moto.

use chrono::{DateTime, Utc};

use sim::observed::{Observed, Series};

use super::{FUNCTIONS, STACK};

fn points(o: &Observed, series: Option<&Series>, what: &str) -> Vec<(f64, f64)> {
    let s = series.unwrap_or_else(|| panic!("no {what} in {o:#?}"));
    assert_eq!(s.period_secs, 60, "{what}");
    s.points.clone()
}

pub fn check_observed(o: &Observed, start: DateTime<Utc>, stderr: &str) {
    // What was missing: the read function's log group, and the
    // percentiles, which moto refuses (the module's note).
    assert_eq!(o.notes.len(), 2, "{:#?}", o.notes);
    let percentiles = "CloudWatch's percentiles (Duration.p99, Latency): GetMetricData";
    assert!(
        o.notes.iter().any(|n| n.starts_with(percentiles)),
        "{:#?}",
        o.notes
    );
    assert_eq!((o.source.as_str(), o.stack.as_str()), ("aws", "it"));
    assert_eq!(o.region, "us-east-1");
    let start_text = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(o.window.start, start_text);

    // Each function's series, its own values, times from the window's start.
    assert_eq!(o.functions.len(), 4);
    for (i, f) in FUNCTIONS.iter().enumerate() {
        let b = (i + 1) as f64;
        let function = &o.functions[*f];
        assert_eq!(function.name, format!("{STACK}-{f}"));
        assert_eq!(function.memory_mb, 256);
        let concurrent = o.function_metric(f, "ConcurrentExecutions");
        assert_eq!(concurrent.map(|s| s.stat.as_str()), Some("Maximum"));
        let concurrent = points(o, concurrent, "ConcurrentExecutions");
        assert_eq!(
            concurrent,
            [(0.0, 10.0 * b), (60.0, 40.0 * b), (120.0, 20.0 * b)],
            "{f}"
        );
        let max = o
            .function_metric(f, "ConcurrentExecutions")
            .and_then(|s| s.max());
        assert_eq!(max, Some(40.0 * b), "{f}");
        let duration = points(o, o.function_metric(f, "Duration"), "Duration");
        assert_eq!(
            duration,
            [(0.0, 150.0 * b), (60.0, 50.0)],
            "{f}: the minute's average"
        );
        let invocations = points(o, o.function_metric(f, "Invocations"), "Invocations");
        assert_eq!(invocations, [(0.0, 12.0)], "{f}: the minute's sum");
        let throttles = points(o, o.function_metric(f, "Throttles"), "Throttles");
        assert_eq!(throttles, [(60.0, 3.0 * b)]);
        let errors = points(o, o.function_metric(f, "Errors"), "Errors");
        assert_eq!(errors, [(120.0, 1.0)]);
        let p99 = o.function_metric(f, "Duration.p99");
        assert_eq!(p99, None, "refused by moto");
    }

    let age = points(
        o,
        o.queue_metric("orders", "ApproximateAgeOfOldestMessage"),
        "age",
    );
    assert_eq!(age, [(0.0, 2.0), (60.0, 9.0), (120.0, 4.0)]);
    let sent = points(o, o.queue_metric("orders", "NumberOfMessagesSent"), "sent");
    assert_eq!(sent, [(0.0, 800.0)]);
    let received = points(
        o,
        o.queue_metric("orders", "NumberOfMessagesReceived"),
        "received",
    );
    assert_eq!(received, [(60.0, 790.0)]);
    let names: Vec<&str> = o.queues.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["orders", "orders-dlq", "processed", "processed-dlq"]
    );
    let quiet = o.queue_metric("processed-dlq", "ApproximateAgeOfOldestMessage");
    assert_eq!(
        points(o, quiet, "processed-dlq's age"),
        [],
        "no datapoints: an empty series"
    );

    let db = &o.database;
    assert_eq!(db.instance, format!("{STACK}-db"));
    assert_eq!((db.class.as_str(), db.multi_az), ("db.t4g.medium", true));
    let connections = points(o, db.metrics.get("DatabaseConnections"), "connections");
    assert_eq!(connections, [(0.0, 12.0), (60.0, 31.0)]);
    assert_eq!(
        points(o, db.metrics.get("CPUUtilization"), "CPU"),
        [(0.0, 30.0)]
    );
    let write = points(o, db.metrics.get("WriteLatency"), "write latency");
    assert_eq!(
        write,
        [(0.0, 0.002), (60.0, 0.004)],
        "seconds, as CloudWatch has them"
    );
    assert_eq!(
        points(o, db.metrics.get("CPUCreditBalance"), "credits"),
        [(0.0, 120.0)]
    );
    assert_eq!(points(o, o.api.get("Count"), "Count"), [(0.0, 1500.0)]);
    assert_eq!(points(o, o.api.get("4xx"), "4xx"), [(0.0, 10.0)]);
    assert_eq!(points(o, o.api.get("5xx"), "5xx"), [(60.0, 2.0)]);
    assert_eq!(o.api.get("Latency"), None, "refused by moto");

    check_logs(o, stderr);

    assert_eq!(o.outcome["dlq"], 2.0, "counted in the dead-letter queues");
    assert_eq!(o.outcome["requests"], 20_000.0);
    assert_eq!(o.outcome["refused"], 10.0);
    let bill = o.bill.as_ref().expect("the bill");
    assert!((bill.usd - 4.625).abs() < 1e-9, "{}", bill.usd);
    assert!(bill.source.contains("Cost Explorer"), "{}", bill.source);
    let sale = &o.sale;
    assert_eq!(
        (sale.profile.as_str(), sale.requests, sale.seed),
        ("flash-sale", 20_000, 42)
    );
    assert_eq!(sale.duration_secs, 20.0);
    assert!(sale.multi_az);
    let failover = sale.failover.as_ref().expect("the failover");
    assert_eq!((failover.at_secs, failover.lasted_secs), (300.0, 45.0));
    let shipped = sim::aws::settings::DeploymentSettings::shipped().unwrap();
    assert_eq!(sale.settings, shipped);
}

fn check_logs(o: &Observed, stderr: &str) {
    let ingest = &o.functions["ingest"].reports;
    assert_eq!(
        ingest.len(),
        2,
        "the window's REPORT lines only: {ingest:?}"
    );
    let (cold, warm) = (&ingest[0], &ingest[1]);
    assert_eq!(
        (cold.t, cold.duration_ms, cold.billed_ms),
        (2.0, 12.34, 13.0)
    );
    assert_eq!((cold.init_ms, cold.max_memory_mb), (Some(55.1), Some(38.0)));
    assert_eq!((warm.t, warm.billed_ms, warm.init_ms), (3.0, 3.0, None));
    assert!(o.functions["ingest"].emf.is_empty());

    let processor = &o.functions["processor"];
    let inits: Vec<Option<f64>> = processor.reports.iter().map(|r| r.init_ms).collect();
    assert_eq!(inits, [Some(210.25), None]);
    let billed: Vec<f64> = processor.reports.iter().map(|r| r.billed_ms).collect();
    assert_eq!(billed, [81.0, 40.0]);
    assert_eq!(processor.reports[0].t, 6.0);
    assert_eq!(processor.emf.len(), 2);
    let first = &processor.emf[0];
    assert_eq!(first.t, 6.05, "the record's own timestamp");
    assert_eq!(first.values["StoreRetries"], 2.0);
    assert_eq!(first.values["Messages"], 200.0);
    assert_eq!(first.values["MessagesLeftForRedelivery"], 0.0);
    assert_eq!(processor.emf[1].values["Messages"], 150.0);

    let notifier = &o.functions["notifier"];
    assert_eq!(notifier.reports.len(), 1);
    assert_eq!(notifier.reports[0].init_ms, Some(60.0));
    assert_eq!(notifier.emf[0].values["StoreRetries"], 1.0);

    let read = &o.functions["read"];
    assert!(read.reports.is_empty() && read.emf.is_empty());
    let group = format!("/aws/lambda/{STACK}-read");
    assert!(
        o.notes.iter().any(|n| n.contains(&group)),
        "a note names the missing log group: {:?}",
        o.notes
    );
    assert!(stderr.contains(&group), "{stderr}");
}
