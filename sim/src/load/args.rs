//! The options a load is sent with, the same for `sim run` and `sim load`:
//! the profile and what overrides it, how the client behaves, and the
//! targets the run is held to.

use std::time::Duration;

use clap::Args;

use super::{send, Profile};
use crate::targets::Target;

#[derive(Args, Clone)]
#[command(next_help_heading = "Load")]
pub struct SaleArgs {
    /// The load's profile: `flash-sale` (a burst of a tenth of the requests
    /// in the first second, a quiet start, a surge to about 8 times the
    /// quiet rate, a tail; buyers poll their order, a tenth read the
    /// stock, visitors browse for 5 s before it opens), `even` (a steady
    /// rate, orders only), or a profile file of your own (the book's Load testing
    /// chapter, "Profiles").
    #[arg(long, default_value = "flash-sale", value_parser = |s: &str| Profile::from_arg(s))]
    pub profile: Profile,
    /// Order requests in the generated load (valid orders, duplicates and
    /// invalid ones; the profile's reads come on top); default: the
    /// profile's (5,000 for the shipped ones).
    #[arg(long = "requests", value_name = "N")]
    pub orders: Option<usize>,
    /// Seconds the load is spread over, as its profile shapes it; default:
    /// the profile's (10 for the shipped ones). With `sim run`, 0 sends as
    /// fast as answered, --concurrency at a time (a closed loop: no
    /// schedule, no offered rate).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Requests (orders and reads) in flight at most in an open-loop load:
    /// far above a healthy run's (the flash sale's 2,571 a second at 20,000
    /// over 20 s, answered within 1.9 s on average), and within what the
    /// process's open files allow (two sockets a request when the API runs
    /// in this process). Past it, requests wait for a free slot, the client
    /// falls behind its schedule, and a run whose p99 send lag passes 1 s
    /// fails, saying so.
    #[arg(long, value_name = "N", default_value_t = 5_000)]
    pub max_in_flight: usize,
    /// How often a client tries an order again after a 429, a 5xx or a
    /// timeout (0: never, as a browser's POST); default: the profile's.
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Seconds a request waits for its answer before the client counts a
    /// timeout (API Gateway's own limit for an HTTP API is 30 s).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub request_timeout: f64,
    /// A target the run must meet, e.g. 'p99_accept_to_processed<2s';
    /// repeat for more. See below for the metrics and the defaults.
    #[arg(long = "target", value_name = "EXPR", value_parser = |s: &str| s.parse::<Target>())]
    pub targets: Vec<Target>,
}

impl SaleArgs {
    pub fn orders(&self) -> usize {
        self.orders.unwrap_or(self.profile.requests)
    }

    pub fn duration(&self) -> f64 {
        self.duration.unwrap_or(self.profile.duration_secs)
    }

    /// When each request is due: none for a closed loop (`--duration 0`).
    pub fn due(&self) -> Option<Vec<Duration>> {
        let (orders, duration) = (self.orders(), self.duration());
        (duration > 0.0).then(|| self.profile.due(orders, Duration::from_secs_f64(duration)))
    }

    /// How the load is sent: on `due`'s schedule with `--max-in-flight`,
    /// or closed-loop with `closed_in_flight`; `seed` picks who reads.
    pub fn send_options(
        &self,
        due: Option<Vec<Duration>>,
        closed_in_flight: usize,
        seed: u64,
    ) -> send::Options {
        send::Options {
            max_in_flight: match due {
                Some(_) => self.max_in_flight,
                None => closed_in_flight,
            },
            due,
            retries: self.retries.unwrap_or(self.profile.retries),
            timeout: Duration::from_secs_f64(self.request_timeout.max(0.001)),
            reads: self.profile.reads,
            seed,
        }
    }
}
