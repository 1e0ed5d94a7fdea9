//! A function's CPU share, charged where the work happens: the CPU time of
//! each poll of a handler's future is read from the polling thread's CPU
//! clock, turned into what it costs in the function's share of a vCPU, and
//! the difference is slept before the future is polled again. Work inside a
//! transaction (deciding a batch, binding its INSERT) so holds the row lock
//! as long as it would on Lambda; waiting on the database or a queue costs
//! nothing.
//!
//! The charge does not depend on the machine that runs the sim: the CPU
//! time measured here is first scaled by this host's speed against the
//! reference host the model's `lambda_cpu_slowdown` is stated for
//! ([`host_speed`]: a fixed piece of the handlers' kind of work, timed on
//! this build and compared with its time on the reference host's release
//! build). A debug build, or a slower core, so charges what the reference
//! host would. Where this host is too slow to emulate the share (its own
//! time for the work is already longer than Lambda's), the shortfall is
//! counted and the report says so ([`Metered`]'s `short`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The reference work's CPU time on the reference host, a release build,
/// µs: measured with `cargo run --release -p sim -- model --host` on a
/// 2-vCPU cloud VM ("Intel(R) Xeon(R) Processor", 24 GiB), 2026-12-05, on
/// the commit that added the reference work: 259-260 µs in three runs, each
/// the smallest of 9. `lambda_cpu_slowdown` compares Lambda's vCPU with
/// that core; BENCHMARKS.md's figures from 6 December on were measured on it.
pub const REFERENCE_WORK_MICROS: f64 = 260.0;

/// This thread's CPU time so far.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to write; the
    // clock id is a constant Linux and the BSDs define.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// The reference work: what a processor's handler does most of, outside
/// the database: decode a batch of 200 `OrderCreated` messages and encode
/// them again. Answers a checksum, so none of it is optimised away.
pub fn reference_work() -> usize {
    let mut total = 0;
    for i in 0..200u32 {
        let body = format!(
            r#"{{"order_id":"3b1f16d4-37da-40c2-a24a-{i:012}","customer_id":"cust-{i}","items":[{{"product_id":"prod-101","quantity":2}},{{"product_id":"prod-{i}","quantity":1}}],"timestamp":"2026-02-13T10:00:00.123Z"}}"#
        );
        if let Ok(event) = engine::processor::decode_order_created(&body) {
            total += serde_json::to_string(&event).map_or(0, |s| s.len());
        }
    }
    total
}

/// How fast this host runs the reference work now, against the reference
/// host (above 1: faster; a debug build is well below). The first call
/// times it (the smallest of 9 runs) and starts a thread that times it again
/// every 200 ms and follows it: a machine whose other work slows its cores
/// (two busy vCPUs of a VM run each other's work slower, in CPU time as
/// well as in wall time) slows the handlers the same way, and the charge
/// divides it out.
pub fn host_speed() -> f64 {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        store_speed(REFERENCE_WORK_MICROS / reference_micros(9));
        let _ = std::thread::Builder::new()
            .name("host-speed".into())
            .stack_size(256 * 1024)
            .spawn(|| loop {
                std::thread::sleep(Duration::from_millis(200));
                let now = REFERENCE_WORK_MICROS / reference_micros(3);
                store_speed(0.7 * f64::from_bits(SPEED.load(Ordering::Relaxed)) + 0.3 * now);
            });
    });
    f64::from_bits(SPEED.load(Ordering::Relaxed))
}

/// The host's speed as last timed, and the least and most seen.
static SPEED: AtomicU64 = AtomicU64::new(0);
static SLOWEST: AtomicU64 = AtomicU64::new(u64::MAX);
static FASTEST: AtomicU64 = AtomicU64::new(0);

fn store_speed(speed: f64) {
    SPEED.store(speed.to_bits(), Ordering::Relaxed);
    // Positive f64s order as their bits do.
    SLOWEST.fetch_min(speed.to_bits(), Ordering::Relaxed);
    FASTEST.fetch_max(speed.to_bits(), Ordering::Relaxed);
}

/// The least and most [`host_speed`] seen so far.
pub fn host_speed_range() -> (f64, f64) {
    let speed = host_speed();
    let (lo, hi) = (
        SLOWEST.load(Ordering::Relaxed),
        FASTEST.load(Ordering::Relaxed),
    );
    match lo == u64::MAX {
        true => (speed, speed),
        false => (f64::from_bits(lo), f64::from_bits(hi)),
    }
}

/// The reference work's CPU time on this host and build, µs (the smallest
/// of `runs`).
pub fn reference_micros(runs: usize) -> f64 {
    (0..runs.max(1))
        .map(|_| {
            let before = thread_cpu();
            std::hint::black_box(reference_work());
            (thread_cpu() - before).as_secs_f64() * 1e6
        })
        .fold(f64::INFINITY, f64::min)
        .max(1.0)
}

/// Whether this is a debug build (whose verdicts rest on [`host_speed`]'s
/// scaling more than a release build's do).
pub fn is_debug_build() -> bool {
    cfg!(debug_assertions)
}

/// What a future's polls cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Charge {
    /// CPU time on this host.
    pub cpu: Duration,
    /// Time slept for the function's share beyond it.
    pub slept: Duration,
    /// Time the function owes still (under a millisecond: a sleep is at
    /// least one), or less than nothing where a sleep overran.
    pub debt: f64,
    /// Time this host took beyond what the share allows, seconds: it could
    /// not run the work as fast as Lambda would.
    pub short: f64,
}

/// A future whose polls are charged at `factor` (Lambda's time for a
/// second of this host's CPU): after each poll, the time owed beyond the
/// poll itself is slept before the next, once it reaches a millisecond.
pub struct Metered<F: Future> {
    inner: Pin<Box<F>>,
    factor: f64,
    charge: Charge,
    sleep: Option<(Pin<Box<tokio::time::Sleep>>, Instant, f64)>,
    done: Option<Box<F::Output>>,
}

impl<F: Future> Metered<F> {
    /// `inner`, charged at `factor`, owing `debt` seconds already.
    pub fn new(inner: F, factor: f64, debt: f64) -> Self {
        Metered {
            inner: Box::pin(inner),
            factor,
            charge: Charge {
                debt,
                ..Charge::default()
            },
            sleep: None,
            done: None,
        }
    }

    /// Counts `cpu` of this host's time, and what it owes beyond it.
    fn charge(&mut self, cpu: Duration) {
        let owed = cpu.as_secs_f64() * (self.factor - 1.0);
        self.charge.cpu += cpu;
        if owed < 0.0 {
            self.charge.short -= owed;
        } else {
            self.charge.debt += owed;
        }
    }
}

impl<F: Future> Future for Metered<F> {
    /// The future's output, and what its polls cost.
    type Output = (F::Output, Charge);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every field is Unpin: the inner future and its output are boxed.
        let this = self.get_mut();
        loop {
            if let Some((sleep, started, owed)) = &mut this.sleep {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let took = started.elapsed();
                this.charge.slept += took;
                this.charge.debt += *owed - took.as_secs_f64();
                this.sleep = None;
            }
            if let Some(out) = this.done.take() {
                return Poll::Ready((*out, this.charge));
            }
            let before = thread_cpu();
            let polled = this.inner.as_mut().poll(cx);
            this.charge(thread_cpu().saturating_sub(before));
            if let Poll::Ready(out) = polled {
                this.done = Some(Box::new(out));
            }
            if this.charge.debt >= 0.001 {
                let owed = std::mem::take(&mut this.charge.debt);
                let sleep = tokio::time::sleep(Duration::from_secs_f64(owed));
                this.sleep = Some((Box::pin(sleep), Instant::now(), owed));
                continue;
            }
            return match this.done.take() {
                Some(out) => Poll::Ready((*out, this.charge)),
                None => Poll::Pending,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(for_cpu: Duration) -> u64 {
        let start = thread_cpu();
        let mut x = 0u64;
        while thread_cpu() - start < for_cpu {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        x
    }

    #[tokio::test]
    async fn counts_the_work_of_its_polls_and_not_its_waits() {
        let ((), charge) = Metered::new(
            async {
                std::hint::black_box(spin(Duration::from_millis(20)));
                tokio::time::sleep(Duration::from_millis(100)).await;
                std::hint::black_box(spin(Duration::from_millis(20)));
            },
            1.0,
            0.0,
        )
        .await;
        assert!(charge.cpu >= Duration::from_millis(40), "{charge:?}");
        assert!(
            charge.cpu < Duration::from_millis(90),
            "the sleep is not CPU: {charge:?}"
        );
        assert_eq!(charge.slept, Duration::ZERO, "charged at this host's speed");
    }

    /// The stretch is slept right after the work, before the future goes
    /// on: work done holding a lock holds it for the stretched time. Here
    /// the "lock" is the span between the two marks around the work.
    #[tokio::test]
    async fn the_stretch_lands_inside_the_span_that_did_the_work() {
        let marks = std::sync::Mutex::new(Vec::new());
        let mark = |what: &'static str| marks.lock().unwrap().push((what, Instant::now()));
        let ((), charge) = Metered::new(
            async {
                mark("locked");
                std::hint::black_box(spin(Duration::from_millis(10)));
                // The next step (the commit) waits on I/O.
                tokio::task::yield_now().await;
                mark("committed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            },
            5.0,
            0.0,
        )
        .await;
        let marks = marks.into_inner().unwrap();
        let held = marks[1].1 - marks[0].1;
        // 10 ms of work at 5x: the span holds at least 50 ms of it, though
        // the sleep after it costs nothing.
        assert!(held >= Duration::from_millis(48), "held {held:?}");
        assert!(charge.slept >= Duration::from_millis(38), "{charge:?}");
        assert_eq!(charge.short, 0.0);
    }

    /// Charged below this host's own time (a host too slow for the share),
    /// the shortfall is counted rather than slept.
    #[tokio::test]
    async fn a_host_slower_than_the_share_counts_its_shortfall() {
        let ((), charge) = Metered::new(
            async {
                std::hint::black_box(spin(Duration::from_millis(20)));
            },
            0.5,
            0.0,
        )
        .await;
        assert!(charge.short >= 0.009, "{charge:?}");
        assert_eq!(charge.slept, Duration::ZERO);
    }

    #[test]
    fn the_reference_work_decodes_every_order() {
        assert!(
            reference_work() > 200 * 100,
            "each of the 200 decoded and encoded"
        );
        assert!(host_speed() > 0.0);
    }
}
