//! The bill's hand-worked cases: rounding, an hour of the shipped shape, an
//! idle month, and what is refused.

use super::*;

fn prices() -> Prices {
    Prices::of(SHIPPED, "us-east-1").unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-6)
}

#[test]
fn durations_round_up_to_the_millisecond_and_payloads_to_64_kb() {
    assert_eq!(billed_ms(Duration::from_micros(1)), 1);
    assert_eq!(billed_ms(Duration::from_micros(1000)), 1);
    assert_eq!(billed_ms(Duration::from_micros(1001)), 2);
    assert_eq!(billed_ms(Duration::ZERO), 0);
    assert_eq!(sqs_requests(0), 1, "an empty receive is a request");
    assert_eq!(sqs_requests(65_536), 1);
    assert_eq!(sqs_requests(65_537), 2);
    assert_eq!(sqs_requests(256 * 1024), 4);
}

#[test]
fn a_hand_worked_hour_of_the_shipped_shape() {
    // One hour; 1,000,000 API requests; ingest 1,000,000 requests of
    // 3 ms at 256 MB on arm64; the processor 5,000 batches of 250 ms at
    // 256 MB on x86_64; 2,100,000 SQS requests; a db.t4g.micro
    // Multi-AZ with 20 GB; 2 endpoints in 2 zones, 1 GiB through them;
    // 2 GiB of logs; 15 alarms; 3 secrets and 10,000 calls.
    let u = Usage {
        seconds: 3600.0,
        api_requests: 1_000_000,
        functions: vec![
            FunctionUsage {
                name: "ingest".into(),
                memory_mb: 256,
                arm64: true,
                requests: 1_000_000,
                billed_ms: 3_000_000,
            },
            FunctionUsage {
                name: "processor".into(),
                memory_mb: 256,
                arm64: false,
                requests: 5_000,
                billed_ms: 1_250_000,
            },
        ],
        sqs_requests: 2_100_000,
        instance_class: "db.t4g.micro".into(),
        multi_az: true,
        storage_gb: 20.0,
        endpoints: 2,
        zones: 2,
        endpoint_bytes: 1 << 30,
        log_bytes: 2 << 30,
        alarms: 15,
        secrets: 3,
        secret_calls: 10_000,
    };
    let lines = bill(&u, &prices()).unwrap();
    let usd = |item: &str| {
        lines
            .iter()
            .find(|l| l.item.starts_with(item))
            .unwrap_or_else(|| panic!("no {item} in {lines:?}"))
            .usd
    };
    // By hand, at the prices of deploy/prices.json:
    assert!(close(usd("HTTP API"), 1.00)); // 1 M x $1.00/M
    assert!(close(usd("ingest requests"), 0.20)); // 1 M x $0.20/M
                                                  // 0.25 GB x 3,000 s = 750 GB-s x $0.0000133334
    assert!(close(usd("ingest duration"), 750.0 * 0.000_013_333_4));
    assert!(close(usd("processor requests"), 0.001)); // 5,000 x $0.20/M
                                                      // 0.25 GB x 1,250 s = 312.5 GB-s x $0.0000166667
    assert!(close(usd("processor duration"), 312.5 * 0.000_016_666_7));
    assert!(close(usd("requests (64 KB"), 0.84)); // 2.1 M x $0.40/M
    assert!(close(usd("db.t4g.micro"), 2.0 * 0.016)); // 2 instance-hours
                                                      // 20 GB x 2 copies x 1/730 month x $0.115
    assert!(close(usd("gp3"), 40.0 / 730.0 * 0.115));
    assert!(close(usd("interface endpoints"), 4.0 * 0.01)); // 4 endpoint-hours
    assert!(close(usd("data through"), 0.01)); // 1 GB
    assert!(close(usd("Logs ingested"), 1.00)); // 2 GB x $0.50
    assert!(close(usd("alarms"), 15.0 / 730.0 * 0.10));
    assert!(close(usd("secrets"), 3.0 / 730.0 * 0.40));
    assert!(close(usd("API calls"), 0.05)); // 10,000 calls
    let sum = 1.00
        + 0.20
        + 750.0 * 0.000_013_333_4
        + 0.001
        + 312.5 * 0.000_016_666_7
        + 0.84
        + 0.032
        + 40.0 / 730.0 * 0.115
        + 0.04
        + 0.01
        + 1.00
        + 1.5 / 730.0
        + 1.2 / 730.0
        + 0.05;
    assert!(close(total(&lines), sum), "{} against {sum}", total(&lines));
    let fixed: Vec<&str> = lines.iter().filter(|l| l.fixed).map(|l| l.unit).collect();
    assert_eq!(
        fixed,
        [
            "instance-hours",
            "GB-months",
            "endpoint-hours",
            "alarm-months",
            "secret-months"
        ]
    );
}

#[test]
fn an_idle_month_is_the_instance_storage_endpoints_alarms_and_secrets() {
    let u = Usage {
        seconds: MONTH_SECS,
        instance_class: "db.t4g.micro".into(),
        storage_gb: 20.0,
        endpoints: 2,
        zones: 2,
        alarms: 10,
        secrets: 3,
        ..Usage::default()
    };
    let lines = bill(&u, &prices()).unwrap();
    // 730 h x $0.016 + 20 x $0.115 + 4 x 730 h x $0.01 + 10 x $0.10 + 3 x $0.40
    let by_hand = 730.0 * 0.016 + 20.0 * 0.115 + 4.0 * 730.0 * 0.01 + 1.0 + 1.2;
    assert!(close(total(&lines), by_hand), "{lines:?}");
    assert!(lines.iter().all(|l| l.fixed), "{lines:?}");
}

#[test]
fn an_unknown_region_or_class_is_refused_by_name() {
    let e = Prices::of(SHIPPED, "eu-west-9").unwrap_err().to_string();
    assert!(e.contains("eu-west-9") && e.contains("us-east-1"), "{e}");
    let u = Usage {
        instance_class: "db.x9.huge".into(),
        ..Usage::default()
    };
    let e = bill(&u, &prices()).unwrap_err().to_string();
    assert!(e.contains("db.x9.huge"), "{e}");
    let unsourced = SHIPPED.replacen(
        "\"source\": \"https://aws.amazon.com/sqs/pricing/",
        "\"source\": \"a colleague said",
        1,
    );
    assert_ne!(unsourced, SHIPPED);
    let e = Prices::of(&unsourced, "us-east-1").unwrap_err().to_string();
    assert!(e.contains("sqs_requests_per_million"), "{e}");
}
