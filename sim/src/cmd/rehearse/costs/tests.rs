//! The rehearsal's cost arithmetic, worked by hand at the shipped prices
//! (us-east-1, deploy/prices.json) and settings (deploy/settings.json).

use super::*;
use crate::aws::bill::SHIPPED;

fn prices() -> Prices {
    Prices::of(SHIPPED, "us-east-1").expect("shipped prices")
}

fn settings() -> DeploymentSettings {
    DeploymentSettings::shipped().expect("shipped settings")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9_f64.max(1e-9 * b.abs())
}

fn line<'a>(costs: &'a [Cost], item: &str) -> &'a Cost {
    costs
        .iter()
        .find(|c| c.item.starts_with(item))
        .unwrap_or_else(|| panic!("no {item} in {costs:?}"))
}

#[test]
fn an_hour_of_the_stack_standing() {
    // db.t4g.medium at $0.065 an hour, Multi-AZ: two instances, $0.13;
    // 20 GB of gp3 twice for 1/730 of a month at $0.115: $0.0063;
    // 2 endpoints in 2 zones, 4 endpoint-hours at $0.01: $0.04;
    // 29 alarms and 3 secrets for 1/730 of a month at $0.10 and $0.40;
    // the token client, $6 a month: $0.0082; 10 idle pollers, one 20 s
    // poll each: 1,800 SQS requests at $0.40 a million.
    let costs = standing(&prices(), "db.t4g.medium", 60.0);
    assert!(close(line(&costs, "RDS db.t4g.medium").usd(), 0.13));
    assert!(close(line(&costs, "RDS gp3").usd(), 40.0 / 730.0 * 0.115));
    assert!(close(line(&costs, "VPC interface endpoints").usd(), 0.04));
    assert!(close(
        line(&costs, "CloudWatch alarms").usd(),
        29.0 / 730.0 * 0.1
    ));
    assert!(close(
        line(&costs, "Secrets Manager secrets").usd(),
        3.0 / 730.0 * 0.4
    ));
    assert!(close(line(&costs, "Cognito app client").usd(), 6.0 / 730.0));
    assert!(close(
        line(&costs, "SQS: the mappings' idle").usd(),
        1800.0 * 0.4 / 1e6
    ));
    let hour = sum(&costs);
    assert!(close(
        hour,
        0.13 + 40.0 / 730.0 * 0.115 + 0.04 + 2.9 / 730.0 + 1.2 / 730.0 + 6.0 / 730.0 + 0.00072
    ));
    // Pro rata: 15 minutes cost a quarter.
    assert!(close(
        sum(&standing(&prices(), "db.t4g.medium", 15.0)),
        hour / 4.0
    ));
}

#[test]
fn the_endpoints_last_hour_is_billed_whole() {
    // 61 minutes standing: billed 2 hours each, 59 minutes not yet in the
    // standing lines: 4 endpoints x 59/60 h x $0.01.
    let c = endpoint_rounding(&prices(), 61.0);
    assert!(close(c.quantity, 4.0 * 59.0 / 60.0));
    assert!(close(c.usd(), 4.0 * 59.0 / 60.0 * 0.01));
    assert_eq!(
        endpoint_rounding(&prices(), 120.0).usd(),
        0.0,
        "whole hours: nothing more"
    );
}

#[test]
fn the_sales_reads_are_bounded_by_the_profiles_polls() {
    // flash-sale: each buyer polls 2 s after the 202 and every 2 s for 30 s
    // (1 + 28/2 = 15 polls at most), a tenth read the stock, and 5 s of 50
    // reads a second before the sale opens.
    let flash = Profile::from_arg("flash-sale").unwrap();
    assert!(close(reads_of(&flash, 1000.0), 1000.0 * 15.1 + 250.0));
    let even = Profile::from_arg("even").unwrap();
    assert_eq!(reads_of(&even, 1000.0), 0.0, "orders only");
}

#[test]
fn a_sales_traffic_by_hand() {
    // 1,000 orders, 2,000 reads, with the cold starts and the failover, on
    // the shipped settings (x86_64; ingest 800 x 256 MB reserved, read 25,
    // processor 15, notifier 5, each 256 MB).
    let t = Traffic {
        orders: 1000.0,
        reads: 2000.0,
        cold_starts: true,
        failover: true,
    };
    let costs = traffic(&prices(), &settings(), t);
    assert!(close(line(&costs, "API Gateway").usd(), 3000.0 * 1.0 / 1e6));
    assert!(close(
        line(&costs, "Lambda requests").quantity,
        3.0 * 1000.0 + 2000.0
    ));
    // GB-s: ingest 1,000 x 50 ms, reads 2,000 x 30 ms, processor 1,000 x
    // 20 ms, notifier 1,000 x 10 ms = 50 + 60 + 20 + 10 = 140 s; inits 845
    // environments x 0.5 s = 422.5 s; the failover 20 environments x 120 s
    // = 2,400 s; all at a quarter GB.
    let gb_s = (140.0 + 422.5 + 2400.0) * 0.25;
    assert!(close(line(&costs, "Lambda duration").quantity, gb_s));
    assert!(close(
        line(&costs, "Lambda duration").usd(),
        gb_s * 0.0000166667
    ));
    assert!(close(line(&costs, "SQS requests").quantity, 8000.0));
    assert!(close(line(&costs, "Secrets Manager calls").quantity, 845.0));
    // Logs: 5,000 invocations x (350 + 300) bytes, 3,000 requests x 400.
    let logs = (5000.0 * 650.0 + 3000.0 * 400.0) / (1024.0 * 1024.0 * 1024.0);
    assert!(close(line(&costs, "CloudWatch Logs").quantity, logs));
    // Without the sale's extras: no inits, no failover, no secret reads.
    let quiet = traffic(
        &prices(),
        &settings(),
        Traffic {
            orders: 1000.0,
            reads: 2000.0,
            ..Traffic::default()
        },
    );
    assert!(close(
        line(&quiet, "Lambda duration").quantity,
        140.0 * 0.25
    ));
    assert_eq!(line(&quiet, "Secrets Manager calls").quantity, 0.0);
}

#[test]
fn tokens_collect_and_the_migrate_function_by_hand() {
    assert!(close(tokens(3.0).usd(), 3.0 * 2.25 / 1000.0));
    let collect = collect();
    assert!(close(
        line(&collect, "CloudWatch GetMetricData").usd(),
        43.0 * 0.01 / 1000.0
    ));
    assert!(close(line(&collect, "Cost Explorer").usd(), 0.01));
    let migrate = migrate_invocation(&prices(), &settings());
    assert!(close(sum(&migrate), 0.2 / 1e6 + 2.5 * 0.0000166667));
}
