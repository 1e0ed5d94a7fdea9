//! The collector's pure parts: the log lines it keeps, the outputs, the
//! bill, the query plan and the database's preset.

use super::cloudwatch::{plan, Part, DURATION_P99};
use super::inputs::{parse_bill, queue_name, sale_of, StackOutputs};
use super::logs::{line, Line};
use super::{database, Inputs};
use crate::aws::settings::DeploymentSettings;
use crate::observed::{Emf, Metrics, Report};
use crate::report::result::{ProfileSetup, RunResult};

/// 2026-12-06T10:00:00Z, the window's start in the lines below.
const START_MS: i64 = 1_796_551_200_000;

fn report(message: &str, at_ms: i64) -> Report {
    match line(message, at_ms, START_MS) {
        Some(Line::Report(r)) => r,
        other => panic!("not a report: {other:?} from {message}"),
    }
}

fn emf(message: &str, at_ms: i64) -> Emf {
    match line(message, at_ms, START_MS) {
        Some(Line::Emf(e)) => e,
        other => panic!("not an EMF record: {other:?} from {message}"),
    }
}

#[test]
fn a_plain_text_report_line_of_a_cold_start_gives_every_figure() {
    let message = "REPORT RequestId: 3f2b1c9e-8d4b-4a5f-9e2c-1b3d5f7a9c0e\tDuration: 12.34 ms\t\
                   Billed Duration: 68 ms\tMemory Size: 256 MB\tMax Memory Used: 40 MB\t\
                   Init Duration: 55.10 ms\t\n";
    let r = report(message, START_MS + 2_500);
    assert_eq!(
        r,
        Report {
            t: 2.5,
            duration_ms: 12.34,
            billed_ms: 68.0,
            init_ms: Some(55.1),
            max_memory_mb: Some(40.0),
        }
    );
}

#[test]
fn a_warm_report_line_has_no_init_and_spaces_separate_as_well_as_tabs() {
    let message = "REPORT RequestId: abc Duration: 3.00 ms Billed Duration: 4 ms \
                   Memory Size: 256 MB Max Memory Used: 41 MB \
                   XRAY TraceId: 1-5e1b4151-5ac6c58f5b5daa6532e4f4e9 SegmentId: 6b0c Sampled: true";
    let r = report(message, START_MS - 1_000);
    assert_eq!(r.t, -1.0);
    assert_eq!((r.duration_ms, r.billed_ms), (3.0, 4.0));
    assert_eq!(r.init_ms, None);
    assert_eq!(r.max_memory_mb, Some(41.0));
}

#[test]
fn a_platform_report_record_of_the_json_log_format_gives_the_same_figures() {
    let cold = r#"{"time":"2026-12-06T10:00:03.000Z","type":"platform.report","record":{"requestId":"6f7f0961","metrics":{"durationMs":12.34,"billedDurationMs":68,"memorySizeMB":256,"maxMemoryUsedMB":40,"initDurationMs":55.1},"status":"success"}}"#;
    let r = report(cold, START_MS + 3_000);
    assert_eq!(
        r,
        Report {
            t: 3.0,
            duration_ms: 12.34,
            billed_ms: 68.0,
            init_ms: Some(55.1),
            max_memory_mb: Some(40.0),
        }
    );
    let warm = r#"{"time":"2026-12-06T10:00:04.000Z","type":"platform.report","record":{"requestId":"7a","metrics":{"durationMs":2.5,"billedDurationMs":3,"memorySizeMB":256,"maxMemoryUsedMB":41}}}"#;
    let r = report(warm, START_MS + 4_000);
    assert_eq!((r.duration_ms, r.billed_ms, r.init_ms), (2.5, 3.0, None));
}

#[test]
fn other_lines_are_not_kept() {
    for message in [
        "START RequestId: abc Version: 7",
        "END RequestId: abc",
        r#"{"time":"2026-12-06T10:00:03.000Z","type":"platform.start","record":{"requestId":"a"}}"#,
        r#"{"timestamp":"2026-12-06T10:00:03Z","level":"INFO","fields":{"message":"batch done"}}"#,
        "REPORT RequestId: abc Memory Size: 256 MB",
        "{not json",
        // Another namespace's EMF record.
        r#"{"_aws":{"Timestamp":1796551200000,"CloudWatchMetrics":[{"Namespace":"other","Dimensions":[[]],"Metrics":[{"Name":"X"}]}]},"X":1}"#,
    ] {
        assert_eq!(line(message, START_MS, START_MS), None, "{message}");
    }
}

#[test]
fn an_emf_record_gives_every_metric_it_names_at_its_own_timestamp() {
    // As lambda/src/emf.rs writes it.
    let record = orderflow_lambda::BatchMetrics {
        store_retries: 3,
        left_for_redelivery: 2,
        messages: 200,
        cpu_micros: 42_500,
    }
    .record("orderflow-prod-processor", START_MS + 7_250);
    let r = emf(&record.to_string(), START_MS + 9_000);
    assert_eq!(r.t, 7.25);
    let names: Vec<&str> = r.values.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "BatchesLeftForRedelivery",
            "CpuMillis",
            "Messages",
            "MessagesLeftForRedelivery",
            "StoreRetries"
        ]
    );
    assert_eq!(r.values["CpuMillis"], 42.5);
    assert_eq!(r.values["Messages"], 200.0);
    assert_eq!(r.values["StoreRetries"], 3.0);
    assert_eq!(r.values["MessagesLeftForRedelivery"], 2.0);
    assert_eq!(r.values["BatchesLeftForRedelivery"], 1.0);

    let more = r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"orderflow","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Messages","Unit":"Count"},{"Name":"CpuMillis","Unit":"Milliseconds"},{"Name":"Absent"}]}]},"FunctionName":"f","Messages":200,"CpuMillis":[40.5,1.5]}"#;
    let r = emf(more, START_MS + 9_000);
    assert_eq!(r.t, 9.0, "no Timestamp: the event's time");
    assert_eq!(r.values.len(), 2, "{:?}", r.values);
    assert_eq!(r.values["Messages"], 200.0);
    assert_eq!(r.values["CpuMillis"], 42.0, "a list of values is summed");
}

const OUTPUTS: &str = r#"{
    "api_id": "a1b2c3", "stage": "$default", "db_instance_id": "orderflow-rehearsal-db",
    "function_names": {"ingest": "orderflow-rehearsal-ingest", "read": "orderflow-rehearsal-read",
        "processor": "orderflow-rehearsal-processor", "notifier": "orderflow-rehearsal-notifier"},
    "order_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/orderflow-rehearsal-orders",
    "order_dlq_url": "https://sqs.us-east-1.amazonaws.com/123456789012/orderflow-rehearsal-orders-dlq",
    "processed_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/orderflow-rehearsal-processed",
    "processed_dlq_url": "https://sqs.us-east-1.amazonaws.com/123456789012/orderflow-rehearsal-processed-dlq",
    "api_endpoint": "https://a1b2c3.execute-api.us-east-1.amazonaws.com"
}"#;

#[test]
fn the_outputs_name_every_part_and_a_missing_key_is_named() {
    let settings = DeploymentSettings::shipped().unwrap();
    let outputs = StackOutputs::parse(OUTPUTS, &settings).unwrap();
    assert_eq!(outputs.functions.len(), 4);
    assert_eq!(outputs.functions["read"], "orderflow-rehearsal-read");
    assert_eq!(outputs.stack_name().as_deref(), Some("rehearsal"));
    assert_eq!(
        queue_name(outputs.url("orders-dlq")),
        "orderflow-rehearsal-orders-dlq"
    );

    for key in ["db_instance_id", "stage", "processed_dlq_url"] {
        let mut value: serde_json::Value = serde_json::from_str(OUTPUTS).unwrap();
        value.as_object_mut().unwrap().remove(key);
        let e = StackOutputs::parse(&value.to_string(), &settings).unwrap_err();
        assert!(e.to_string().contains(&format!("`{key}`")), "{key}: {e}");
    }
    let mut value: serde_json::Value = serde_json::from_str(OUTPUTS).unwrap();
    value["function_names"]
        .as_object_mut()
        .unwrap()
        .remove("read");
    let e = StackOutputs::parse(&value.to_string(), &settings).unwrap_err();
    assert!(e.to_string().contains("`function_names.read`"), "{e}");
    // Settings without a read function do not ask for one.
    let mut no_read = settings.clone();
    no_read.functions.read = None;
    no_read.functions.ingest.pool_size = 1;
    let outputs = StackOutputs::parse(&value.to_string(), &no_read).unwrap();
    assert!(!outputs.functions.contains_key("read"));
}

#[test]
fn the_plan_asks_each_part_for_its_series_by_its_dimensions() {
    let settings = DeploymentSettings::shipped().unwrap();
    let outputs = StackOutputs::parse(OUTPUTS, &settings).unwrap();
    let queries = plan(&outputs);
    assert_eq!(queries.len(), 4 * 6 + 4 * 4 + 4 + 4);
    let p99 = queries
        .iter()
        .find(|q| q.part == Part::Function("processor".into()) && q.key == DURATION_P99)
        .unwrap();
    assert_eq!((p99.metric, p99.stat), ("Duration", "p99"));
    assert_eq!(
        p99.dimensions,
        [("FunctionName", "orderflow-rehearsal-processor".to_owned())]
    );
    let age = queries
        .iter()
        .find(|q| q.part == Part::Queue("processed-dlq".into()))
        .unwrap();
    assert_eq!(
        age.dimensions,
        [("QueueName", "orderflow-rehearsal-processed-dlq".to_owned())]
    );
    let api = queries.iter().find(|q| q.part == Part::Api).unwrap();
    assert_eq!(
        api.dimensions,
        [
            ("ApiId", "a1b2c3".to_owned()),
            ("Stage", "$default".to_owned())
        ]
    );
}

#[test]
fn the_bill_sums_every_day_and_refuses_what_is_not_cost_explorers() {
    let answer = r#"{"GroupDefinitions": [], "ResultsByTime": [
        {"TimePeriod": {"Start": "2026-12-06", "End": "2026-12-07"},
         "Total": {"UnblendedCost": {"Amount": "3.2512", "Unit": "USD"}}, "Groups": [], "Estimated": true},
        {"TimePeriod": {"Start": "2026-12-07", "End": "2026-12-08"},
         "Total": {"UnblendedCost": {"Amount": "0.75", "Unit": "USD"}}, "Groups": [], "Estimated": true}
    ]}"#;
    let bill = parse_bill(answer, "bill.json").unwrap();
    assert!((bill.usd - 4.0012).abs() < 1e-9, "{}", bill.usd);
    assert!(
        bill.source.contains("2026-12-06 to 2026-12-08"),
        "{}",
        bill.source
    );
    let e = parse_bill(r#"{"ResultsByTime": [{"Total": {}}]}"#, "b").unwrap_err();
    assert!(e.to_string().contains("Total.UnblendedCost"), "{e}");
    let e = parse_bill(
        r#"{"ResultsByTime": [{"Total": {"UnblendedCost": {"Amount": "1", "Unit": "EUR"}}}]}"#,
        "b",
    )
    .unwrap_err();
    assert!(e.to_string().contains("EUR"), "{e}");
}

#[test]
fn a_production_stack_runs_its_production_class_multi_az_and_a_dev_stack_its_shape_class() {
    let settings = DeploymentSettings::shipped().unwrap();
    let mut load = RunResult::new("load", Some(7));
    load.setup.profile = Some(ProfileSetup {
        name: "steady".into(),
        requests: 100,
        duration_secs: 10.0,
        description: String::new(),
    });
    for production in [true, false] {
        let inputs = Inputs {
            outputs: StackOutputs::parse(OUTPUTS, &settings).unwrap(),
            figures: load.metrics.clone(),
            sale: sale_of(&load, settings.clone(), production, None).unwrap(),
            bill: None,
        };
        let db = database(&inputs, production, Metrics::new());
        assert_eq!(db.instance, "orderflow-rehearsal-db");
        assert_eq!(db.multi_az, production);
        assert_eq!(inputs.sale.multi_az, production);
        let class = if production {
            "db.t4g.medium"
        } else {
            "db.t4g.micro"
        };
        assert_eq!(db.class, class);
    }
    let e = sale_of(&RunResult::new("run", Some(7)), settings, true, None).unwrap_err();
    assert!(e.to_string().contains("no load profile"), "{e}");
}
