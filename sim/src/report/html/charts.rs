//! The page's charts, as inline SVG drawn by plotters.

use std::fmt::Write as _;

use engine::domain::OrderRecord;
use orderflow_client::Latencies;
use plotters::prelude::*;

use super::{secs, Page};
use crate::aws::ShapeSample;
use crate::timeline::{Sample, QUEUE_NAMES};

pub(crate) const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

pub(crate) type Series = (String, Vec<(f64, f64)>);

/// Orders accepted and finished per second, in buckets of a hundredth of
/// the run (at least 50 ms).
pub(crate) fn throughput_chart(p: &Page) -> anyhow::Result<String> {
    let load: Vec<&OrderRecord> = p
        .finished
        .iter()
        .filter(|o| o.created_at >= p.load_start)
        .collect();
    let end = load
        .iter()
        .filter_map(|o| o.processed_at)
        .map(|t| secs(t, p.load_start))
        .fold(0.0_f64, f64::max);
    let width = (end / 100.0).max(0.05);
    let buckets = (end / width).ceil() as usize + 1;
    let rate = |times: Vec<f64>| -> Vec<(f64, f64)> {
        let mut counts = vec![0u64; buckets];
        for t in times {
            let i = ((t / width).floor().max(0.0) as usize).min(buckets - 1);
            counts[i] += 1;
        }
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| (i as f64 * width, *n as f64 / width))
            .collect()
    };
    let accepted = rate(
        load.iter()
            .map(|o| secs(o.created_at, p.load_start))
            .collect(),
    );
    let finished = rate(
        load.iter()
            .filter_map(|o| o.processed_at)
            .map(|t| secs(t, p.load_start))
            .collect(),
    );
    line_chart(
        &format!(
            "orders/s (accepted: created_at; finished: processed_at; {:.0} ms buckets)",
            width * 1000.0
        ),
        "orders/s",
        &[
            ("accepted".to_owned(), accepted),
            ("finished".to_owned(), finished),
        ],
    )
}

pub(crate) fn latency(out: &mut String, p: &Page) -> anyhow::Result<()> {
    let latencies = Latencies::of(p.finished.iter().map(|o| (o.created_at, o.processed_at)));
    if latencies.is_empty() {
        out.push_str("<p>No finished orders.</p>");
        return Ok(());
    }
    let pct = |q| latencies.percentile(q) as f64;
    let ms: Vec<f64> = latencies.sorted().iter().map(|v| *v as f64).collect();
    out.push_str("<table><tr>");
    for (label, q) in [
        ("p50", 0.5),
        ("p90", 0.9),
        ("p95", 0.95),
        ("p99", 0.99),
        ("p99.9", 0.999),
        ("max", 1.0),
    ] {
        let _ = write!(out, "<th>{label}</th><td>{:.0} ms</td>", pct(q));
    }
    out.push_str("</tr></table>");
    // The histogram up to p99, so a few stragglers (a crashed batch waits
    // out its visibility timeout) do not flatten it.
    // Latencies are whole milliseconds: bins of at least 1 ms, over at
    // least 10 ms.
    let top = pct(0.99).max(10.0);
    let width = (top / 50.0).ceil();
    let bins = (top / width) as usize + 1;
    let top = bins as f64 * width;
    let mut counts = vec![0u64; bins];
    for v in ms.iter().filter(|v| **v <= top) {
        counts[((v / width) as usize).min(bins - 1)] += 1;
    }
    let ymax = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "orders by accept-to-processed time ({width:.0} ms bins; the slowest 1 % beyond {top:.0} ms not shown)"
                ),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..top, 0.0..ymax)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc("milliseconds")
            .y_desc("orders")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, n)| {
                let x = i as f64 * width;
                Rectangle::new([(x, 0.0), (x + width, *n as f64)], COLOURS[0].filled())
            }))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    out.push_str(&svg);
    Ok(())
}

/// One series per name, its points read from each sample by `value`
/// (none where it has no value).
fn sampled(
    p: &Page,
    names: impl IntoIterator<Item = String>,
    value: impl Fn(&Sample, usize) -> Option<f64>,
) -> Vec<Series> {
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let points = p
                .samples
                .iter()
                .filter_map(|s| Some((s.t, value(s, i)?)))
                .collect();
            (name, points)
        })
        .collect()
}

pub(crate) fn queue_chart(p: &Page) -> anyhow::Result<String> {
    let names = QUEUE_NAMES.iter().map(|n| (*n).to_owned());
    let series = sampled(p, names, |s, i| Some(s.queues[i]? as f64));
    line_chart(
        "messages in each queue, visible and in flight (sampled every 50 ms)",
        "messages",
        &series,
    )
}

pub(crate) fn stock_chart(p: &Page) -> anyhow::Result<String> {
    let series = sampled(p, p.hot.iter().cloned(), |s, i| {
        Some((*s.stock.get(i)?)? as f64)
    });
    line_chart(
        "quantity_available (sampled every 50 ms; never below 0)",
        "units in stock",
        &series,
    )
}

pub(crate) fn line_chart(caption: &str, y_desc: &str, series: &[Series]) -> anyhow::Result<String> {
    let xmax = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.0))
        .fold(0.1_f64, f64::max);
    let ymax = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
        .fold(1.0_f64, f64::max)
        * 1.1;
    // Whole counts: a range under 10 would label its ticks 0, 0, 1, 1.
    let ymax = ymax.max(10.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the load started")
            .y_desc(y_desc)
            // A run under a second gets ticks 0.05 s apart: two decimals,
            // or neighbouring labels read the same.
            .x_label_formatter(&|v| {
                if xmax < 2.0 {
                    format!("{v:.2}")
                } else {
                    format!("{v:.1}")
                }
            })
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(chart_error)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(chart_error)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

pub(crate) fn chart_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {e}")
}

/// The deployed shape over time: environments alive per function and cold
/// starts; database connections open and refused; requests throttled and
/// the order queue's oldest message.
pub(crate) fn shape_charts(samples: &[ShapeSample]) -> anyhow::Result<Vec<String>> {
    let series = |name: String, f: &dyn Fn(&ShapeSample) -> f64| -> Series {
        (name, samples.iter().map(|s| (s.t, f(s))).collect())
    };
    let mut environments = Vec::new();
    for (i, name) in ["ingest", "processor", "notifier"].iter().enumerate() {
        let at = |v: &[u64]| v.get(i).copied().unwrap_or(0) as f64;
        environments.push(series(format!("{name} environments"), &|s| {
            at(&s.environments)
        }));
        environments.push(series(format!("{name} cold starts (total)"), &|s| {
            at(&s.cold_starts)
        }));
    }
    Ok(vec![
        line_chart("execution environments alive, and cold starts so far", "environments", &environments)?,
        line_chart(
            "database connections open, and refused so far (the instance's limit is the user's MAX_USER_CONNECTIONS)",
            "connections",
            &[
                series("open".into(), &|s| s.connections as f64),
                series("refused (total)".into(), &|s| s.refused as f64),
            ],
        )?,
        line_chart(
            "requests throttled by the stage (429, total)",
            "requests",
            &[series("throttled".into(), &|s| s.throttled as f64)],
        )?,
        line_chart(
            "age of the oldest message in the order queue, ms",
            "ms",
            &[series("oldest order".into(), &|s| {
                s.oldest_order_secs.unwrap_or(0.0) * 1000.0
            })],
        )?,
    ])
}
