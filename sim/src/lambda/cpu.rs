//! The CPU time a future spends being polled, read from the polling
//! thread's CPU clock around each poll: what a handler's own work costs on
//! this machine's core (waiting on the database or a queue costs nothing),
//! which [`super::function`] stretches to the function's share of a vCPU.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

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

/// A future that adds up the CPU time its polls take.
pub struct Metered<F> {
    inner: Pin<Box<F>>,
    cpu: Duration,
}

impl<F: Future> Metered<F> {
    pub fn new(inner: F) -> Self {
        Metered {
            inner: Box::pin(inner),
            cpu: Duration::ZERO,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    /// The future's output, and the CPU time its polls took.
    type Output = (F::Output, Duration);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let before = thread_cpu();
        let polled = self.inner.as_mut().poll(cx);
        self.cpu += thread_cpu().saturating_sub(before);
        match polled {
            Poll::Ready(out) => Poll::Ready((out, self.cpu)),
            Poll::Pending => Poll::Pending,
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
        let ((), cpu) = Metered::new(async {
            std::hint::black_box(spin(Duration::from_millis(20)));
            tokio::time::sleep(Duration::from_millis(100)).await;
            std::hint::black_box(spin(Duration::from_millis(20)));
        })
        .await;
        assert!(cpu >= Duration::from_millis(40), "{cpu:?}");
        assert!(
            cpu < Duration::from_millis(90),
            "the sleep is not CPU: {cpu:?}"
        );
    }
}
