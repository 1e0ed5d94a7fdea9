//! Tests of the event source mapping: its scaling rules, and the running
//! mapping's slots and timeouts.

use super::*;
use crate::aws::model::{End, Model};

/// The concurrency after `secs` of steps with messages waiting (or not).
fn after(scaling: &Scaling, cap: usize, from: usize, secs: u64, waiting: bool) -> usize {
    let steps = secs * 1000 / scaling.tick().as_millis() as u64;
    (0..steps).fold(from, |now, n| {
        next_concurrency(scaling, cap, now, waiting, n)
    })
}

fn scaling(end: End) -> Scaling {
    Scaling::of(&Model::shipped(end, 1).unwrap())
}

#[test]
fn a_mapping_starts_at_5_adds_up_to_300_a_minute_up_to_1250_or_its_maximum_concurrency() {
    // The optimistic end is AWS's documented bound, smoothly.
    let fast = scaling(End::Optimistic);
    assert_eq!((fast.initial, fast.per_minute, fast.max), (5, 300, 1250));
    assert_eq!(fast.tick(), Duration::from_millis(200));
    let uncapped = fast.cap(None);
    assert_eq!(uncapped, 1250);
    assert_eq!(after(&fast, uncapped, 5, 60, true), 305);
    assert_eq!(after(&fast, uncapped, 5, 120, true), 605);
    assert_eq!(after(&fast, uncapped, 5, 600, true), 1250);
    // maximumConcurrency caps it, and AWS's ceiling caps that.
    assert_eq!(after(&fast, fast.cap(Some(8)), 5, 60, true), 8);
    assert_eq!(fast.cap(Some(2000)), 1250);
    // maximumConcurrency below the start: the start is the cap.
    assert_eq!(after(&fast, fast.cap(Some(2)), 2, 60, true), 2);
    // An empty queue winds it back down, not below the start.
    assert_eq!(after(&fast, uncapped, 305, 10, false), 255);
    assert_eq!(after(&fast, uncapped, 305, 600, false), 5);
}

/// "Up to 300 a minute" is a bound: the central end ramps at a measured
/// rate inside it, and the pessimistic end slower still, in coarse steps
/// (nothing for a whole step after the surge starts).
#[test]
fn the_ramp_is_up_to_the_documented_rate_and_stepped_at_the_pessimistic_end() {
    let (o, c, p) = (
        scaling(End::Optimistic),
        scaling(End::Central),
        scaling(End::Pessimistic),
    );
    let minute = |s: &Scaling| after(s, 1250, 5, 60, true) - 5;
    assert_eq!(minute(&o), 300);
    assert!((157..=297).contains(&minute(&c)), "{}", minute(&c));
    assert!(minute(&p) < minute(&c), "{}", minute(&p));
    assert!(p.tick() > c.tick() && c.tick() > o.tick());
    // A step's worth at once, and nothing before the first step ends.
    assert_eq!(after(&p, 1250, 5, 9, true), 5);
    assert_eq!(after(&p, 1250, 5, 10, true), 5 + 25);
    for end in [o, c, p] {
        let whole = (0..600).map(|n| end.per_step(n)).sum::<usize>() as f64;
        let expected = f64::from(end.per_minute) * 600.0 * end.step.as_secs_f64() / 60.0;
        assert!((whole - expected).abs() <= 1.0, "fractions are carried");
    }
}

/// The error back-off against its measurement (rehanvdm.com, 50 ms
/// handlers, an uncapped mapping at 60): 1 / 5 / 10 % of invocations
/// failing held concurrency at 25 / 16 / 13. The rule, run as a fluid
/// model of the same test at the central end, lands within a factor
/// of two of each point, falls as errors rise, and cuts less than the
/// errors' share would if every error stopped a slot for good.
#[test]
fn failed_invocations_back_a_mapping_off_as_the_measured_curve_does() {
    let s = scaling(End::Central);
    let held = |error_rate: f64| {
        let (cap, handler_secs) = (60usize, 0.05);
        let mut now = 60usize;
        let (mut errors, mut t, mut n) = (0.0, 0.0, 0u64);
        let mut next_step = s.tick().as_secs_f64();
        let mut sum = 0.0;
        let mut draws = 0.0;
        let dt = 0.001;
        while t < 300.0 {
            // Each slot finishes an invocation every 50 ms.
            errors += now as f64 * dt / handler_secs * error_rate;
            while errors >= 1.0 {
                errors -= 1.0;
                draws = (draws + 0.618_034) % 1.0;
                now = after_error(&s, cap, now, draws);
            }
            if t >= next_step {
                now = next_concurrency(&s, cap, now, true, n);
                n += 1;
                next_step += s.tick().as_secs_f64();
            }
            if t >= 60.0 {
                sum += now as f64 * dt;
            }
            t += dt;
        }
        sum / 240.0
    };
    let measured = [(0.01, 25.0), (0.05, 16.0), (0.10, 13.0)];
    let mut last = f64::INFINITY;
    for (rate, aws) in measured {
        let modelled = held(rate);
        assert!(
            modelled > aws / 2.0 && modelled < aws * 2.0,
            "{}% errors: {modelled:.1} against {aws} measured",
            rate * 100.0
        );
        assert!(modelled < last, "more errors, less concurrency");
        last = modelled;
    }
    // A step back never goes below the floor.
    assert_eq!(after_error(&s, 15, 5, 0.99), 5);
    assert_eq!(after_error(&s, 3, 3, 0.99), 3);
    assert_eq!(after_error(&s, 60, 60, 0.0), 59, "3 % of 60 is 1.8");
    assert_eq!(after_error(&s, 60, 60, 0.5), 58);
}

/// A processor function over `queues` with `permits` environments and
/// `timeout`, costing nothing but its own time.
fn function(
    config: &engine::config::Config,
    queues: &engine::queues::Queues,
    permits: usize,
    timeout: Duration,
) -> Arc<Function> {
    use futures::FutureExt;
    use orderflow_lambda::Startup;

    use super::super::function::{Costs, Init};

    let init: Init = {
        let (config, queues) = (config.clone(), queues.clone());
        Box::new(move |_zone| {
            let (config, queues) = (config.clone(), queues.clone());
            let startup = Startup {
                migrate: false,
                secret: None,
            };
            async move { Environment::init(config, None, queues, startup).await }.boxed()
        })
    };
    let costs = Costs {
        start: Duration::ZERO,
        queue_checks: 0,
        connect_round_trips: 0.0,
        rtt_near: Duration::ZERO,
        rtt_far: Duration::ZERO,
        far_share: 0.0,
        cpu_stretch: 1.0,
        timeout,
        idle: Duration::from_secs(60),
        linger_share: 0.0,
        wait_timeout: Duration::from_secs(60),
    };
    let model = Arc::new(Model::shipped(End::Central, 1).unwrap());
    Function::new(
        crate::aws::settings::FunctionName::Processor,
        Arc::new(tokio::sync::Semaphore::new(permits)),
        costs,
        model,
        init,
    )
}

/// A mapping's settings at the central end: batches of `batch_size`, no
/// window, at most `cap` at once.
fn settings(batch_size: usize, cap: usize, overlap: bool, visibility: Duration) -> MappingSettings {
    MappingSettings {
        batch_size,
        window: Duration::ZERO,
        maximum_concurrency: Some(cap),
        time_scale: 1.0,
        scaling: scaling(End::Central),
        parallel_receives: 1,
        overlap,
        backoff_first: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        visibility,
    }
}

/// The poller fleet: a batch gathered while every slot was busy goes to
/// the first slot that frees, not to the slot whose poller gathered it.
/// With two slots and the first held by a batch that does not finish,
/// the other two messages are both handled by the second slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_batch_goes_to_the_first_free_slot() {
    use engine::config::Config;
    use engine::queues::Queues;
    use futures::FutureExt;

    let config = Config {
        visibility_timeout_secs: 60,
        ..Config::default()
    };
    let queues = Queues::channel(&config);
    let function = function(&config, &queues, 2, Duration::from_secs(60));
    let (release, released) = watch::channel(false);
    let handled: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let handler: Handler = {
        let handled = handled.clone();
        Arc::new(move |_env, event: SqsEvent| {
            let (handled, mut released) = (handled.clone(), released.clone());
            async move {
                let body = event.records[0].body.clone().unwrap_or_default();
                handled.lock().unwrap().push(body.clone());
                if body == "held" {
                    let _ = released.wait_for(|r| *r).await;
                }
                BatchResponse::default()
            }
            .boxed()
        })
    };
    let mapping = Mapping::new(
        queues.orders.clone(),
        function,
        handler,
        settings(1, 2, true, config.visibility_timeout()),
    );
    let (stop, stopped) = watch::channel(false);
    let tasks = mapping.spawn(stopped);
    queues.orders.send("held".into()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while handled.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for body in ["second", "third"] {
        queues.orders.send(body.into()).await.unwrap();
    }
    while handled.lock().unwrap().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = handled.lock().unwrap().clone();
    release.send(true).unwrap();
    stop.send(true).unwrap();
    for t in tasks {
        let _ = t.await;
    }
    assert_eq!(
        seen,
        ["held", "second", "third"],
        "handled while the first slot was held"
    );
    assert_eq!(
        queues.orders.depth().await.unwrap().total(),
        0,
        "all deleted"
    );
}

/// A batch whose invocation runs past the function's timeout stays on
/// the queue, comes back once its visibility timeout ends (a second
/// receive), and is then processed: nothing lost, nothing in the DLQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_function_timeout_comes_back_after_the_visibility_timeout() {
    use engine::config::Config;
    use engine::queues::Queues;
    use futures::FutureExt;

    let config = Config {
        visibility_timeout_secs: 1,
        max_receive_count: 5,
        ..Config::default()
    };
    let queues = Queues::channel(&config);
    let function = function(&config, &queues, 1, Duration::from_millis(200));
    // The first invocation hangs past the timeout; later ones succeed,
    // noting each receive count they were handed.
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let handler: Handler = {
        let seen = seen.clone();
        Arc::new(move |_env, event: SqsEvent| {
            let seen = seen.clone();
            async move {
                let count = event.records[0]
                    .attributes
                    .get("ApproximateReceiveCount")
                    .cloned()
                    .unwrap_or_default();
                let first = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(count);
                    seen.len() == 1
                };
                if first {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                BatchResponse::default()
            }
            .boxed()
        })
    };
    let mapping = Mapping::new(
        queues.orders.clone(),
        function.clone(),
        handler,
        settings(10, 1, false, config.visibility_timeout()),
    );
    queues.orders.send("an order".into()).await.unwrap();
    let (stop, stopped) = watch::channel(false);
    let tasks = mapping.spawn(stopped);
    let deadline = Instant::now() + Duration::from_secs(10);
    while queues.orders.depth().await.unwrap().total() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    for t in tasks {
        let _ = t.await;
    }

    assert_eq!(queues.orders.depth().await.unwrap().total(), 0, "deleted");
    assert_eq!(*seen.lock().unwrap(), ["1", "2"], "received twice");
    assert_eq!(function.stats.timeouts.load(Ordering::Relaxed), 1);
    assert_eq!(mapping.stats.timed_out_batches.load(Ordering::Relaxed), 1);
    let dlq = queues.order_dlq.as_ref().unwrap();
    assert_eq!(dlq.depth().await.unwrap().total(), 0, "nothing in the DLQ");
}
