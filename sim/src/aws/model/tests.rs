//! Tests of the model: the shipped file's sources and ends, and the
//! latencies drawn from it.

use super::*;

#[test]
fn every_constant_has_a_source_and_a_date_or_says_it_is_assumed() {
    for (name, c) in table(SHIPPED).unwrap() {
        assert!(c.url.starts_with("https://"), "{name}: {}", c.url);
        assert!(
            c.read.len() == 10 && c.read.starts_with("20"),
            "{name}: read {}",
            c.read
        );
        assert!(c.source.len() > 20, "{name}: a source, or why assumed");
        assert!(
            c.is_fixed() || c.is_assumed() || c.source.contains("assumed"),
            "{name}: a range is an assumption and must say so"
        );
        assert!(c.if_aws_differs.len() > 10, "{name}: what changes");
    }
    Model::shipped(End::Central, 1).unwrap();
}

#[test]
fn the_ends_move_every_uncertain_constant_the_costly_way() {
    let o = Model::shipped(End::Optimistic, 1).unwrap();
    let c = Model::shipped(End::Central, 1).unwrap();
    let p = Model::shipped(End::Pessimistic, 1).unwrap();
    let rtt = |m: &Model| m.v(&m.c.rtt_cross_az_ms);
    assert!(rtt(&o) < rtt(&c) && rtt(&c) < rtt(&p));
    assert!(o.cpu_stretch(256) < c.cpu_stretch(256) && c.cpu_stretch(256) < p.cpu_stretch(256));
    let reads = |m: &Model| m.v(&m.c.esm_parallel_receives);
    assert!(reads(&o) > reads(&c) && reads(&c) > reads(&p));
    // A file whose range runs the wrong way is refused.
    let wrong = SHIPPED.replace(
        r#""optimistic": 0.6, "central": 1.0, "pessimistic": 2.0"#,
        r#""optimistic": 2.0, "central": 1.0, "pessimistic": 0.6"#,
    );
    assert_ne!(wrong, SHIPPED);
    let e = Model::parse(&wrong, "test", End::Central, 1).unwrap_err();
    assert!(format!("{e:#}").contains("rtt_cross_az_ms"), "{e:#}");
    // And so is one that lacks a constant the sim uses.
    let missing = SHIPPED.replace("\"secret_read_ms\"", "\"secret_read\"");
    assert!(Model::parse(&missing, "test", End::Central, 1).is_err());
}

#[test]
fn the_cpu_share_is_memory_over_1769_mb_of_a_vcpu_and_at_most_one() {
    let m = Model::shipped(End::Central, 1).unwrap();
    assert!((m.cpu_stretch(256) - 1769.0 / 256.0).abs() < 1e-9);
    assert!((m.cpu_stretch(1769) - 1.0).abs() < 1e-9);
    assert!((m.cpu_stretch(4096) - 1.0).abs() < 1e-9);
}

#[test]
fn latencies_are_drawn_with_the_documented_median_and_tail() {
    assert!((lognormal(16.2, 105.0, 0.0) - 16.2).abs() < 1e-9);
    assert!((lognormal(16.2, 105.0, 2.326_347_874) - 105.0).abs() < 1e-6);
    let m = Model::shipped(End::Central, 7).unwrap();
    let mut draws: Vec<f64> = (0..20_000)
        .map(|_| m.sqs_call().as_secs_f64() * 1000.0)
        .collect();
    draws.sort_by(f64::total_cmp);
    let (p50, p99) = (draws[10_000], draws[19_800]);
    assert!((7.0..9.0).contains(&p50), "p50 {p50}");
    assert!((32.0..50.0).contains(&p99), "p99 {p99}");
}

#[test]
fn the_slowest_of_k_calls_is_what_the_sim_waits_for() {
    assert!((normal_quantile(0.5)).abs() < 1e-9);
    assert!((normal_quantile(0.99) - 2.326_347_874).abs() < 1e-6);
    assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-6);
    // Against draws: the mean of the slowest of 5 and of 20.
    let m = Model::shipped(End::Central, 11).unwrap();
    for k in [5u32, 20] {
        let n = 4000;
        let mean = (0..n)
            .map(|_| {
                (0..k)
                    .map(|_| m.sqs_call().as_secs_f64() * 1000.0)
                    .fold(0.0, f64::max)
            })
            .sum::<f64>()
            / f64::from(n);
        let screen = lognormal_max_mean(8.0, 40.0, k);
        assert!(
            (screen / mean - 1.0).abs() < 0.1,
            "k {k}: {screen} against {mean}"
        );
    }
    assert!(lognormal_max_mean(8.0, 40.0, 20) > lognormal_max_mean(8.0, 40.0, 5));
    assert_eq!(lognormal_max_mean(8.0, 40.0, 1), lognormal_mean(8.0, 40.0));
}

/// The measured delivery (a send, the mapping's receive and the invoke)
/// bounds the assumed API latency: a model whose send and receive do not
/// fit inside it is refused.
#[test]
fn a_send_and_a_receive_must_fit_inside_the_measured_delivery() {
    for end in [End::Optimistic, End::Central, End::Pessimistic] {
        Model::shipped(end, 1).unwrap();
    }
    let slow = SHIPPED.replacen("\"central\": 8,", "\"central\": 9,", 1);
    assert_ne!(slow, SHIPPED, "sqs_api_p50_ms's central value is 8");
    let e = Model::parse(&slow, "slow", End::Central, 1).unwrap_err();
    assert!(format!("{e:#}").contains("measured delivery"), "{e:#}");
}
