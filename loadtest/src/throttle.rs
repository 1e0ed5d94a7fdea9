//! The API's throttles, seen from the client: which answers mean "slow
//! down" rather than "wrong" (429 from a gateway's rate limit, 503 from a
//! full queue or a busy function), how many of them came back, how long to
//! wait before asking again, and a pacer that keeps the verification's reads
//! under a rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// A 429 (rate limited) or a 503 (unavailable: a full queue, a throttled
/// function): nothing was done, and asking later may succeed.
pub fn is_throttled(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// Throttled answers, by status.
#[derive(Default)]
pub struct Throttled {
    rate_limited: AtomicU64,
    unavailable: AtomicU64,
}

impl Throttled {
    /// Counts `status` if it is a throttled answer; answers whether it was.
    pub fn count(&self, status: u16) -> bool {
        let counter = match status {
            429 => &self.rate_limited,
            503 => &self.unavailable,
            _ => return false,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        true
    }

    pub fn total(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed) + self.unavailable.load(Ordering::Relaxed)
    }

    /// `12 reads (10 × 429 rate limited, 2 × 503 unavailable)`, for `what`
    /// "reads".
    pub fn describe(&self, what: &str) -> String {
        format!(
            "{} {what} ({} × 429 rate limited, {} × 503 unavailable)",
            self.total(),
            self.rate_limited.load(Ordering::Relaxed),
            self.unavailable.load(Ordering::Relaxed)
        )
    }
}

/// The longest wait between two tries of a throttled read, whatever
/// `Retry-After` asks.
const MAX_WAIT: Duration = Duration::from_secs(5);

/// How long to wait before trying a throttled request again: its
/// `Retry-After` in seconds if the answer had one, else 100 ms doubled with
/// each `attempt` (from 0), both at most [`MAX_WAIT`].
pub fn wait_before_retry(retry_after: Option<&str>, attempt: u32) -> Duration {
    let asked = retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let backoff = Duration::from_millis(100).saturating_mul(1 << attempt.min(6));
    asked.unwrap_or(backoff).min(MAX_WAIT)
}

/// The verification's pace against a deployed API, in reads a second. Its
/// busiest route, `GET /api/orders/{order_id}`, is throttled at 1,000/s
/// (burst 25) in deploy/settings.json's `route_throttles` as shipped: 200,
/// evenly paced, stays well under that, and leaves room for the buyers
/// reading through the same route meanwhile (the throttle is the route's,
/// not the client's).
pub const DEPLOYED_READ_RATE: u32 = 200;

/// The verification's pace when none is given: none against a loopback
/// host (a local `sim serve` has no gateway and no throttle, and a local run
/// accepts tens of thousands of orders to read back), else
/// [`DEPLOYED_READ_RATE`].
pub fn default_read_rate(base: &str) -> Option<u32> {
    let authority = base
        .split_once("://")
        .map_or(base, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        // [::1]:3000
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then_some(DEPLOYED_READ_RATE)
}

/// Lets requests through at most `rate` a second, evenly spaced, across
/// every task that shares it: no bursts, even after a pause.
pub struct Pacer {
    period: Duration,
    ticks: Mutex<Interval>,
}

impl Pacer {
    /// A pacer of `rate` requests a second (at least one).
    pub fn new(rate: u32) -> Pacer {
        let period = Duration::from_secs(1) / rate.max(1);
        let mut ticks = tokio::time::interval_at(Instant::now(), period);
        // After a pause, carry on at the rate rather than catch up at once.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Pacer {
            period,
            ticks: Mutex::new(ticks),
        }
    }

    /// How long `requests` take at this pace, at least.
    pub fn time_for(&self, requests: usize) -> Duration {
        self.period
            .saturating_mul(u32::try_from(requests).unwrap_or(u32::MAX))
    }

    /// Waits for the next request's turn.
    pub async fn turn(&self) {
        self.ticks.lock().await.tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_429_and_503_count_as_throttled() {
        let throttled = Throttled::default();
        for status in [200, 202, 400, 401, 403, 404, 429, 500, 503, 503] {
            assert_eq!(throttled.count(status), is_throttled(status));
        }
        assert_eq!(throttled.total(), 3);
        assert_eq!(
            throttled.describe("answers"),
            "3 answers (1 × 429 rate limited, 2 × 503 unavailable)"
        );
    }

    #[test]
    fn a_retry_waits_as_the_answer_asks_or_backs_off() {
        assert_eq!(wait_before_retry(Some("2"), 0), Duration::from_secs(2));
        assert_eq!(wait_before_retry(Some("3600"), 0), MAX_WAIT);
        assert_eq!(wait_before_retry(None, 0), Duration::from_millis(100));
        assert_eq!(wait_before_retry(None, 3), Duration::from_millis(800));
        // An HTTP date is not read: the backoff instead.
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(wait_before_retry(Some(date), 1), Duration::from_millis(200));
        assert_eq!(wait_before_retry(None, 40), MAX_WAIT);
    }

    #[test]
    fn only_a_remote_api_is_paced_by_default() {
        for local in [
            "http://127.0.0.1:3000",
            "http://localhost:3000/",
            "http://[::1]:3000",
            "127.0.0.1",
        ] {
            assert_eq!(default_read_rate(local), None, "{local}");
        }
        for remote in [
            "https://abc123.execute-api.eu-west-1.amazonaws.com",
            "https://api.example.com/prod",
            "http://10.0.0.7:3000",
        ] {
            assert_eq!(
                default_read_rate(remote),
                Some(DEPLOYED_READ_RATE),
                "{remote}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_requests_evenly() {
        let pacer = Pacer::new(10);
        let started = Instant::now();
        for _ in 0..11 {
            pacer.turn().await;
        }
        // The first goes at once, the next ten 100 ms apart.
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!(pacer.time_for(10), Duration::from_secs(1));
    }
}
