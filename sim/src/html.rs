//! The run report as one self-contained HTML page: the figures, the charts
//! (inline SVG drawn with plotters, no scripts, nothing fetched) and the
//! verdicts of the scenarios and invariants.

use anyhow::Context;
use engine::report::Latencies;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use engine::domain::{OrderRecord, OrderStatus};
use engine::harness::faults::{FaultKind, Faults};
use plotters::prelude::*;

use crate::invariants::Check;
use crate::load::Sent;
use crate::timeline::{Sample, QUEUE_NAMES};

pub struct Page<'a> {
    pub title: String,
    pub seed: u64,
    pub store: &'a str,
    pub queue: &'a str,
    pub faults: &'a Faults,
    pub sent: &'a [Sent],
    pub send_secs: f64,
    pub drain_secs: f64,
    pub load_start: DateTime<Utc>,
    pub finished: &'a [OrderRecord],
    pub samples: &'a [Sample],
    pub hot: &'a [String],
    pub scenarios: &'a [Check],
    pub invariants: &'a [Check],
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

type Series = (String, Vec<(f64, f64)>);

/// Writes the page to `path`, creating its folder if needed.
pub fn write(path: &Path, page: &Page) -> anyhow::Result<()> {
    let html = render(page)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    std::fs::write(path, html).with_context(|| path.display().to_string())
}

pub fn render(p: &Page) -> anyhow::Result<String> {
    let all_passed = p.scenarios.iter().chain(p.invariants).all(|c| c.passed);
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\
         <h1>{title}</h1><p class=\"{cls}\">{verdict}</p>",
        title = esc(&p.title),
        cls = if all_passed { "pass" } else { "fail" },
        verdict = if all_passed {
            "Every scenario passed and every invariant held."
        } else {
            "FAILED: see the scenarios and invariants below."
        },
    );
    summary(&mut out, p);
    out.push_str("<h2>Throughput</h2>");
    out.push_str(&throughput_chart(p)?);
    out.push_str("<h2>Accept-to-processed latency</h2>");
    latency(&mut out, p)?;
    out.push_str("<h2>Queues and DLQs</h2>");
    out.push_str(&queue_chart(p)?);
    out.push_str("<h2>Stock of the hot products</h2>");
    out.push_str(&stock_chart(p)?);
    checks(
        &mut out,
        "Scenarios (the seed's verification tests)",
        p.scenarios,
    );
    checks(&mut out, "Invariants", p.invariants);
    out.push_str("</body></html>\n");
    Ok(out)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;\
padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;\
padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}.pass{color:#1a7f37;\
font-weight:bold}.fail{color:#cf222e;font-weight:bold}svg{max-width:100%;height:auto}";

fn summary(out: &mut String, p: &Page) {
    let processed = p
        .finished
        .iter()
        .filter(|o| o.status == OrderStatus::Processed)
        .count();
    let faults: Vec<String> = FaultKind::ALL
        .iter()
        .filter(|k| p.faults.plan().rate(**k) > 0.0)
        .map(|k| format!("{k} {} injected", p.faults.injected(*k)))
        .collect();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for s in p.sent {
        *by_status.entry(s.status).or_default() += 1;
    }
    let answers: Vec<String> = by_status
        .iter()
        .map(|(st, n)| format!("{st}: {n}"))
        .collect();
    let rows = [
        ("seed", format!("{} (replay with --seed {})", p.seed, p.seed)),
        ("store", p.store.to_owned()),
        ("queues", p.queue.to_owned()),
        (
            "faults",
            if faults.is_empty() {
                "none".to_owned()
            } else {
                faults.join(", ")
            },
        ),
        (
            "load",
            format!(
                "{} requests in {:.2} s ({:.0}/s); answers {}",
                p.sent.len(),
                p.send_secs,
                p.sent.len() as f64 / p.send_secs.max(1e-9),
                answers.join(", ")
            ),
        ),
        (
            "finished orders",
            format!(
                "{} ({processed} PROCESSED, {} FAILED), {:.0} orders/s from the first load request to drained ({:.2} s)",
                p.finished.len(),
                p.finished.len() - processed,
                p.finished.len() as f64 / p.drain_secs.max(1e-9),
                p.drain_secs
            ),
        ),
    ];
    out.push_str("<table>");
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    out.push_str("</table>");
}

fn checks(out: &mut String, title: &str, checks: &[Check]) {
    let _ = write!(
        out,
        "<h2>{}</h2><table><tr><th></th><th>check</th><th>detail</th></tr>",
        esc(title)
    );
    for c in checks {
        let _ = write!(
            out,
            "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            if c.passed { "pass" } else { "fail" },
            if c.passed { "PASS" } else { "FAIL" },
            esc(c.name),
            esc(&c.detail)
        );
    }
    out.push_str("</table>");
}

/// Seconds from the load's start.
fn secs(at: DateTime<Utc>, start: DateTime<Utc>) -> f64 {
    (at - start).num_milliseconds() as f64 / 1000.0
}

/// Orders accepted and finished per second, in buckets of a hundredth of
/// the run (at least 50 ms).
fn throughput_chart(p: &Page) -> anyhow::Result<String> {
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

fn latency(out: &mut String, p: &Page) -> anyhow::Result<()> {
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

fn queue_chart(p: &Page) -> anyhow::Result<String> {
    let series: Vec<Series> = QUEUE_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let points = p
                .samples
                .iter()
                .filter_map(|s| Some((s.t, s.queues[i]? as f64)))
                .collect();
            ((*name).to_owned(), points)
        })
        .collect();
    line_chart(
        "messages in each queue, visible and in flight (sampled every 50 ms)",
        "messages",
        &series,
    )
}

fn stock_chart(p: &Page) -> anyhow::Result<String> {
    let series: Vec<Series> = p
        .hot
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let points = p
                .samples
                .iter()
                .filter_map(|s| Some((s.t, (*s.stock.get(i)?)? as f64)))
                .collect();
            (name.clone(), points)
        })
        .collect();
    line_chart(
        "quantity_available (sampled every 50 ms; never below 0)",
        "units in stock",
        &series,
    )
}

fn line_chart(caption: &str, y_desc: &str, series: &[Series]) -> anyhow::Result<String> {
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

fn chart_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {e}")
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Kind;
    use engine::domain::{CustomerId, OrderId};

    fn order(i: u32, start: DateTime<Utc>, latency_ms: i64) -> OrderRecord {
        let created = start + chrono::Duration::milliseconds(i64::from(i) * 10);
        OrderRecord {
            order_id: OrderId::parse(&format!("00000000-0000-8000-8000-{i:012}"))
                .expect("a valid id"),
            customer_id: CustomerId::parse("c").expect("a valid customer"),
            items: Vec::new(),
            status: if i % 3 == 0 {
                OrderStatus::Failed
            } else {
                OrderStatus::Processed
            },
            failure_reason: None,
            created_at: created,
            processed_at: Some(created + chrono::Duration::milliseconds(latency_ms)),
        }
    }

    #[test]
    fn the_page_has_every_chart_and_every_verdict() {
        let start = Utc::now();
        let finished: Vec<OrderRecord> = (0..200)
            .map(|i| order(i, start, 5 + i64::from(i % 40)))
            .collect();
        let samples: Vec<Sample> = (0u32..20)
            .map(|k| Sample {
                t: f64::from(k) * 0.05,
                queues: [Some(u64::from(20 - k)), Some(3), Some(0), None],
                stock: vec![Some(i64::from(100 - k)), None],
            })
            .collect();
        let sent = vec![Sent {
            kind: Kind::Invalid,
            status: 400,
            order_id: None,
            repeats: None,
            message: "<bad>".into(),
        }];
        let checks = [Check {
            name: "1. no oversell",
            passed: false,
            detail: "sim-hot-1 -1 < 0".into(),
        }];
        let faults = Faults::none();
        let page = Page {
            title: "orderflow sim, seed 9".into(),
            seed: 9,
            store: "in-memory",
            queue: "in-process channels",
            faults: &faults,
            sent: &sent,
            send_secs: 1.0,
            drain_secs: 2.0,
            load_start: start,
            finished: &finished,
            samples: &samples,
            hot: &["sim-hot-1".to_owned(), "sim-hot-2".to_owned()],
            scenarios: &[],
            invariants: &checks,
        };
        let html = render(&page).expect("renders");
        assert!(html.starts_with("<!doctype html>"));
        assert_eq!(
            html.matches("<svg").count(),
            4,
            "throughput, latency, queues, stock"
        );
        for heading in [
            "Throughput",
            "Accept-to-processed latency",
            "Queues and DLQs",
            "Stock of the hot products",
        ] {
            assert!(html.contains(heading), "{heading}");
        }
        assert!(html.contains("FAILED: see the scenarios and invariants below."));
        assert!(html.contains("sim-hot-1 -1 &lt; 0"), "details are escaped");
        assert!(
            !html.contains("<script"),
            "self-contained, nothing to run or fetch"
        );
        assert!(html.contains("p99"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
    }
}
