//! How late this host wakes the simulated AWS's timers. Every latency the
//! model adds (an SQS call, a round trip, a commit, a function's CPU share)
//! is a timer in this process; a host whose cores are busy with other work,
//! or with the sim's own, wakes them late, and every figure of the run is
//! then this host's rather than the model's. A probe sleeps [`PERIOD`]
//! again and again for the whole run and notes how late it woke; the
//! report gives the percentiles, and a run whose 99th percentile passes
//! `report::shape::LIMIT_P99_MS` could not keep the model's time. Timers
//! are not all: a busy host also slows the database server that plays RDS,
//! and the handlers between their timers. So the probe also reads how much
//! of the run some task on this host waited for a CPU (Linux's pressure
//! stall information); past `report::shape::LIMIT_CPU_PRESSURE` the host
//! was too busy (see `report::shape::HostRow::no_verdict`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long the probe sleeps each time.
pub const PERIOD: Duration = Duration::from_millis(10);

/// The probe's findings: how late each wake was, ms; and the CPU pressure
/// stall total when it started.
#[derive(Debug)]
pub struct TimerLag {
    late_ms: Mutex<Vec<f64>>,
    started: std::time::Instant,
    stalled_before: Option<u64>,
}

impl Default for TimerLag {
    fn default() -> TimerLag {
        TimerLag {
            late_ms: Mutex::default(),
            started: std::time::Instant::now(),
            stalled_before: cpu_stall_micros(),
        }
    }
}

/// How long, in total since boot, some task on this host has waited for a
/// CPU, µs: the `some` line of `/proc/pressure/cpu` (none where the kernel
/// does not keep it, as on macOS).
fn cpu_stall_micros() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    let some = text.lines().find(|l| l.starts_with("some "))?;
    some.split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?
        .parse()
        .ok()
}

impl TimerLag {
    /// Starts the probe; it stops when `stop` turns true.
    pub fn spawn(mut stop: watch::Receiver<bool>) -> (Arc<TimerLag>, JoinHandle<()>) {
        let lag = Arc::new(TimerLag::default());
        let probe = lag.clone();
        let task = tokio::spawn(async move {
            loop {
                let asked = Instant::now() + PERIOD;
                tokio::select! {
                    _ = tokio::time::sleep_until(asked) => probe.note(Instant::now() - asked),
                    _ = stop.changed() => return,
                }
            }
        });
        (lag, task)
    }

    fn note(&self, late: Duration) {
        if let Ok(mut late_ms) = self.late_ms.lock() {
            late_ms.push(late.as_secs_f64() * 1e3);
        }
    }

    /// Every wake's lateness so far, ms.
    pub fn late_ms(&self) -> Vec<f64> {
        self.late_ms.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The share of the time since the probe started that some task on
    /// this host waited for a CPU (none where the kernel does not say).
    pub fn cpu_pressure(&self) -> Option<f64> {
        let stalled = cpu_stall_micros()?.checked_sub(self.stalled_before?)?;
        let elapsed = self.started.elapsed().as_secs_f64() * 1e6;
        (elapsed > 0.0).then(|| stalled as f64 / elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime whose only thread is held by other work wakes the probe
    /// as late as the work held it, and the probe says so.
    #[tokio::test(flavor = "current_thread")]
    async fn a_runtime_held_by_other_work_wakes_the_probe_late() {
        let (stop, stopped) = watch::channel(false);
        let (lag, task) = TimerLag::spawn(stopped);
        tokio::time::sleep(PERIOD * 5).await;
        // Blocks the only thread: the probe's timer fires, nobody runs it.
        std::thread::sleep(Duration::from_millis(150));
        tokio::time::sleep(PERIOD * 3).await;
        stop.send(true).unwrap();
        task.await.unwrap();
        let late = lag.late_ms();
        assert!(late.len() >= 3, "{late:?}");
        let worst = late.iter().copied().fold(0.0, f64::max);
        assert!(worst >= 100.0, "{late:?}");
    }
}
