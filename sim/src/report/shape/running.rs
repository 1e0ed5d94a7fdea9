//! The shape's report read off the running shape ([`ShapeReport::of`]) and
//! its samples ([`OutageRow::of`]).

use std::sync::atomic::{AtomicU64, Ordering};

use super::{DlqCauses, FunctionRow, HostRow, MappingRow, OutageRow, ShapeReport};
use crate::aws::{Shape, ShapeSample};
use crate::load::measure::Percentiles;

impl OutageRow {
    /// The outage from `at_secs` for `lasted_secs`, read from the shape's
    /// samples.
    pub fn of(at_secs: f64, lasted_secs: f64, samples: &[ShapeSample]) -> OutageRow {
        let after = || samples.iter().filter(move |s| s.t >= at_secs);
        let end = at_secs + lasted_secs;
        OutageRow {
            at_secs,
            lasted_secs,
            oldest_order_secs: after()
                .filter_map(|s| s.oldest_order_secs)
                .fold(0.0, f64::max),
            cleared_after_secs: after()
                .find(|s| s.t >= end && s.oldest_order_secs.is_none())
                .map(|s| s.t - end),
        }
    }
}

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl ShapeReport {
    /// What `shape` did, with its samples and its DLQs' causes.
    pub fn of(shape: &Shape, samples: &[ShapeSample], dlq: Option<&DlqCauses>) -> ShapeReport {
        let s = &shape.settings;
        let b = s.connection_budget();
        let q = &shape.sqs;
        let c = &shape.rds.connections;
        let reader = shape.functions.reader();
        let read_pool = s.functions.get(reader.name).map_or(0, |f| f.pool_size);
        ShapeReport {
            model: shape.model.describe(),
            instance_class: s.instance_class.clone(),
            max_connections: s.max_connections,
            connection_limit: shape.rds.max_connections,
            rtt_ms: shape.rtt_ms,
            commit_ms: shape.rds.costs.commit_extra.as_secs_f64() * 1000.0,
            multi_az: shape.multi_az,
            statement_stretch: shape.rds.costs.statement_stretch,
            budget_needed: b.needed(),
            budget_available: b.available,
            budget_fits: b.fits(),
            functions: shape.functions.all().map(|f| function_row(f)).collect(),
            mappings: shape
                .mappings
                .iter()
                .map(|(name, m)| mapping_row(name.as_str(), m))
                .collect(),
            stage_throttle: (s.stage_throttle.rate, s.stage_throttle.burst),
            throttled_429: load(&shape.gateway.throttled),
            answered_500: load(&shape.gateway.refused),
            function_throttled: load(&shape.gateway.function_throttled),
            sqs_calls: [
                ("total", q.total()),
                ("SendMessage", load(&q.send)),
                ("SendMessageBatch", load(&q.send_batch)),
                ("ReceiveMessage", load(&q.receive)),
                ("ReceiveMessage empty", load(&q.empty_receive)),
                ("DeleteMessageBatch", load(&q.delete_batch)),
                ("ChangeMessageVisibility", load(&q.change_visibility)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            connections_opened: load(&c.opened),
            connections_refused: load(&c.refused),
            connections_cut: load(&c.cut),
            outage: None,
            connections_socket_peak: load(&c.peak),
            connections_peak: samples.iter().map(|s| s.connections).max().unwrap_or(0),
            read_connections_peak: load(&reader.stats.peak_environments) * u64::from(read_pool),
            lingering: shape
                .functions
                .all()
                .map(|f| load(&f.stats.lingering))
                .sum(),
            oldest_order_secs: (!samples.is_empty()).then(|| {
                samples
                    .iter()
                    .filter_map(|s| s.oldest_order_secs)
                    .fold(0.0, f64::max)
            }),
            dlq_causes: dlq.cloned().unwrap_or_default(),
            host: host_row(shape),
        }
    }
}

/// A function whose shortfall passes this share of its charged CPU time
/// was not emulated.
const SHORT_SHARE: f64 = 0.05;

fn host_row(shape: &crate::aws::Shape) -> HostRow {
    let emulated = shape.functions.all().all(|f| {
        let charged =
            load(&f.stats.cpu_micros) as f64 * crate::aws::cpu::host_speed() * f.costs.cpu_stretch;
        load(&f.stats.short_micros) as f64 <= SHORT_SHARE * charged
    });
    HostRow {
        speed: crate::aws::cpu::host_speed(),
        speed_range: crate::aws::cpu::host_speed_range(),
        debug_build: crate::aws::cpu::is_debug_build(),
        emulated,
        timer_lag_ms: Percentiles::of(shape.timer_lag.late_ms()),
        cpu_pressure: shape.timer_lag.cpu_pressure(),
    }
}

fn function_row(f: &crate::aws::function::Function) -> FunctionRow {
    let st = &f.stats;
    let cold = load(&st.cold_starts);
    FunctionRow {
        name: f.name.to_string(),
        invocations: load(&st.invocations),
        cold_starts: cold,
        init_ms: load(&st.init_micros) as f64 / 1000.0 / cold.max(1) as f64,
        peak_environments: load(&st.peak_environments),
        throttles: load(&st.throttles),
        timeouts: load(&st.timeouts),
        init_failures: load(&st.init_failures),
        cpu_ms: load(&st.cpu_micros) as f64 / 1000.0,
        cpu_stretch: f.costs.cpu_stretch,
        cpu_slept_ms: load(&st.stretch_micros) as f64 / 1000.0,
        cpu_short_ms: load(&st.short_micros) as f64 / 1000.0,
    }
}

fn mapping_row(name: &str, m: &crate::aws::esm::Mapping) -> MappingRow {
    let st = &m.stats;
    MappingRow {
        function: name.to_owned(),
        batches: load(&st.batches),
        messages: load(&st.messages),
        item_failures: load(&st.item_failures),
        throttled_invokes: load(&st.throttled_invokes),
        throttled_batches: load(&st.throttled_batches),
        init_failed_batches: load(&st.init_failed_batches),
        timed_out_batches: load(&st.timed_out_batches),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outage's row reads the samples from its start: the oldest order
    /// then, and when the queue was first empty after the database came
    /// back.
    #[test]
    fn an_outage_is_read_from_the_samples_after_it() {
        let sample = |t: f64, oldest: Option<f64>| ShapeSample {
            t,
            oldest_order_secs: oldest,
            ..ShapeSample::default()
        };
        let samples = [
            sample(0.5, Some(9.0)),
            sample(1.0, Some(0.2)),
            sample(5.0, Some(4.0)),
            sample(11.0, Some(10.0)),
            sample(12.0, None),
            sample(14.0, None),
        ];
        let o = OutageRow::of(1.0, 10.0, &samples);
        assert_eq!(o.oldest_order_secs, 10.0, "from the outage's start on");
        assert_eq!(o.cleared_after_secs, Some(1.0));
        assert_eq!(OutageRow::of(1.0, 20.0, &samples).cleared_after_secs, None);
    }
}
