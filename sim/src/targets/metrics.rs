//! The metric table: every metric of a run's result a target or `sim
//! compare` may name ([`METRICS`]), with its unit, which way is better and
//! what it measures, and which of them the host's speed moves
//! ([`depends_on_host`]). Apart from the targets (the parent): the table is
//! data the book lists, the targets read and judge against it.

/// What a metric measures, so a value can carry a unit and a change a
/// direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds; a target may say `2s` or `2000ms`.
    Ms,
    /// A share, 0 to 1; a target says `0.1%` or `0.001`.
    Share,
    Count,
    /// Per second.
    Rate,
    Usd,
}

/// Whether more of a metric is better or worse (for `sim compare`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// Describes the run rather than judges it.
    Neither,
}

/// Every metric a result may carry: name, unit, which way is better, what
/// it is.
pub const METRICS: &[(&str, Unit, Better, &str)] = &[
    (
        "requests",
        Unit::Count,
        Better::Neither,
        "order requests sent",
    ),
    (
        "accepted",
        Unit::Count,
        Better::Neither,
        "order requests answered 202",
    ),
    (
        "planned_peak_rps",
        Unit::Rate,
        Better::Neither,
        "the busiest second's requests, as planned",
    ),
    (
        "achieved_peak_rps",
        Unit::Rate,
        Better::Higher,
        "the busiest second's requests, as sent",
    ),
    (
        "offered",
        Unit::Share,
        Better::Higher,
        "the achieved peak over the planned peak (open loop)",
    ),
    (
        "p99_send_lag",
        Unit::Ms,
        Better::Lower,
        "how late the client sent, 99th percentile",
    ),
    (
        "max_send_lag",
        Unit::Ms,
        Better::Lower,
        "how late the client sent, at most",
    ),
    (
        "first_try_5xx",
        Unit::Share,
        Better::Lower,
        "order requests whose first try got a 5xx",
    ),
    (
        "first_try_429",
        Unit::Share,
        Better::Lower,
        "order requests whose first try got a 429",
    ),
    (
        "first_try_timeout",
        Unit::Share,
        Better::Lower,
        "order requests whose first try got no answer in time or no connection",
    ),
    (
        "first_try_errors",
        Unit::Share,
        Better::Lower,
        "order requests whose first try got anything but what it should",
    ),
    (
        "refused",
        Unit::Count,
        Better::Lower,
        "order requests that never got what they should, after the retries",
    ),
    (
        "p50_submit_to_202",
        Unit::Ms,
        Better::Lower,
        "due to 202, retries included, median",
    ),
    (
        "p90_submit_to_202",
        Unit::Ms,
        Better::Lower,
        "due to 202, 90th percentile",
    ),
    (
        "p95_submit_to_202",
        Unit::Ms,
        Better::Lower,
        "due to 202, 95th percentile",
    ),
    (
        "p99_submit_to_202",
        Unit::Ms,
        Better::Lower,
        "due to 202, 99th percentile",
    ),
    (
        "max_submit_to_202",
        Unit::Ms,
        Better::Lower,
        "due to 202, at most",
    ),
    (
        "p50_accept_to_processed",
        Unit::Ms,
        Better::Lower,
        "202 to PROCESSED or FAILED, median",
    ),
    (
        "p90_accept_to_processed",
        Unit::Ms,
        Better::Lower,
        "202 to final, 90th percentile",
    ),
    (
        "p95_accept_to_processed",
        Unit::Ms,
        Better::Lower,
        "202 to final, 95th percentile",
    ),
    (
        "p99_accept_to_processed",
        Unit::Ms,
        Better::Lower,
        "202 to final, 99th percentile",
    ),
    (
        "max_accept_to_processed",
        Unit::Ms,
        Better::Lower,
        "202 to final, at most",
    ),
    (
        "throughput",
        Unit::Rate,
        Better::Higher,
        "orders finished a second, first request to drained",
    ),
    (
        "reads",
        Unit::Count,
        Better::Neither,
        "status polls and stock reads sent",
    ),
    (
        "read_first_try_5xx",
        Unit::Share,
        Better::Lower,
        "reads answered 5xx, or not at all",
    ),
    (
        "read_first_try_429",
        Unit::Share,
        Better::Lower,
        "reads answered 429",
    ),
    (
        "p99_read",
        Unit::Ms,
        Better::Lower,
        "due to answer of a read, 99th percentile",
    ),
    (
        "dlq",
        Unit::Count,
        Better::Lower,
        "messages in the order and processed DLQs after the run",
    ),
    (
        "undrained",
        Unit::Count,
        Better::Lower,
        "1 if the queues did not drain in time",
    ),
    (
        "throttled_429",
        Unit::Count,
        Better::Lower,
        "requests API Gateway's throttles answered 429 (deployed shape)",
    ),
    (
        "answered_500",
        Unit::Count,
        Better::Lower,
        "requests answered 500 for a function's concurrency, init or timeout (deployed shape)",
    ),
    (
        "connections_refused",
        Unit::Count,
        Better::Lower,
        "database connections the server refused (deployed shape)",
    ),
    (
        "connections_peak",
        Unit::Count,
        Better::Lower,
        "database connections open at once, at most (deployed shape)",
    ),
    (
        "read_connections_peak",
        Unit::Count,
        Better::Lower,
        "the read function's environments at once, each with its pool (deployed shape)",
    ),
    (
        "bill_usd",
        Unit::Usd,
        Better::Lower,
        "what the run would have cost on AWS (deployed shape)",
    ),
    (
        "echo_rps",
        Unit::Rate,
        Better::Neither,
        "sim bench: a bare axum JSON echo handler, requests/s",
    ),
    (
        "ingest_rps",
        Unit::Rate,
        Better::Higher,
        "sim bench: ingest alone, requests/s",
    ),
    (
        "ingest_vs_echo",
        Unit::Share,
        Better::Higher,
        "sim bench: ingest over the echo handler measured beside it",
    ),
    (
        "autocommit_updates_per_s",
        Unit::Rate,
        Better::Neither,
        "sim bench: the reference of autocommit UPDATEs of one row",
    ),
    (
        "bare_sql_orders_per_s",
        Unit::Rate,
        Better::Neither,
        "sim bench: the reference of the bare SQL of batched transactions",
    ),
    (
        "processor_store_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench: the processor's store step",
    ),
    (
        "processor_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench: the whole processor on a full queue",
    ),
    (
        "e2e_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench: end to end over HTTP at the offered rate",
    ),
    (
        "p99_e2e",
        Unit::Ms,
        Better::Lower,
        "sim bench: end-to-end accept-to-processed, 99th percentile",
    ),
    (
        "local_shape_orders_per_s",
        Unit::Rate,
        Better::Neither,
        "sim bench --topology lambda: the local shape's processor",
    ),
    (
        "deployed_central_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench --topology lambda: the processor function, central model",
    ),
    (
        "deployed_optimistic_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench --topology lambda: the same, optimistic model",
    ),
    (
        "deployed_pessimistic_orders_per_s",
        Unit::Rate,
        Better::Higher,
        "sim bench --topology lambda: the same, pessimistic model",
    ),
];

pub(super) fn metric(name: &str) -> Option<&'static (&'static str, Unit, Better, &'static str)> {
    METRICS.iter().find(|m| m.0 == name)
}

pub fn unit_of(name: &str) -> Option<Unit> {
    metric(name).map(|m| m.1)
}

pub fn better_of(name: &str) -> Better {
    metric(name).map_or(Better::Neither, |m| m.2)
}

/// Whether a metric's value depends on the speed of the machine that ran
/// the sim: every time, rate, share and price does, and the counts that
/// timing drives (500s, connections at once, what did not drain). What was
/// lost or refused outright (refused, DLQ, connections refused), what was
/// sent, and API Gateway's 429s do not: a throttle's token bucket answers
/// the client's schedule, which the run checks it kept.
pub fn depends_on_host(name: &str) -> bool {
    if matches!(
        name,
        "first_try_429" | "read_first_try_429" | "throttled_429"
    ) {
        return false;
    }
    match metric(name) {
        Some((_, Unit::Count, _, _)) => matches!(
            name,
            "answered_500" | "connections_peak" | "read_connections_peak" | "undrained"
        ),
        Some(_) => true,
        None => false,
    }
}
