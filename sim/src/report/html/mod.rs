//! The run report as one self-contained HTML page: the figures, the charts
//! (inline SVG drawn with plotters, no scripts, nothing fetched) and the
//! verdicts of the scenarios and invariants.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use engine::domain::OrderRecord;

use super::result::{Bill, CheckRow, RunResult};
use crate::targets::show;
use crate::timeline::Sample;

pub(crate) mod charts;

use charts::{latency, queue_chart, shape_charts, stock_chart, throughput_chart};

/// The page: the run's result, and the series its charts draw.
pub struct Page<'a> {
    pub title: String,
    pub result: &'a RunResult,
    pub load_start: DateTime<Utc>,
    pub finished: &'a [OrderRecord],
    pub samples: &'a [Sample],
    pub hot: &'a [String],
    /// With `--topology lambda`: the deployed shape over time.
    pub shape: &'a [crate::aws::ShapeSample],
}

/// Writes the page to `path`, creating its folder if needed.
pub fn write(path: &Path, page: &Page) -> anyhow::Result<()> {
    crate::report::write_file(path, &render(page)?)
}

pub fn render(p: &Page) -> anyhow::Result<String> {
    let r = p.result;
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\
         <h1>{title}</h1><p class=\"{cls}\">{verdict}</p>",
        title = esc(&p.title),
        cls = if r.passed { "pass" } else { "fail" },
        verdict = match r.exit_status() {
            0 => "Every scenario passed, every invariant held and every target was met.".into(),
            2 => format!(
                "NO VERDICT: nothing failed outright, but targets were missed on a machine that could not keep the model ({}).",
                esc(r.no_verdict.as_deref().unwrap_or(""))
            ),
            _ => "FAILED: see the targets and checks below.".to_owned(),
        },
    );
    summary(&mut out, r);
    targets(&mut out, r);
    customers(&mut out, r);
    out.push_str("<h2>Throughput</h2>");
    out.push_str(&throughput_chart(p)?);
    out.push_str("<h2>Accept-to-processed latency</h2>");
    latency(&mut out, p)?;
    out.push_str("<h2>Queues and DLQs</h2>");
    out.push_str(&queue_chart(p)?);
    out.push_str("<h2>Stock of the hot products</h2>");
    out.push_str(&stock_chart(p)?);
    if !p.shape.is_empty() {
        out.push_str("<h2>The deployed shape (--topology lambda)</h2>");
        for chart in shape_charts(p.shape)? {
            out.push_str(&chart);
        }
    }
    if let Some(bill) = &r.bill {
        bill_table(&mut out, bill);
    }
    let group = |g: &'static str| r.checks.iter().filter(move |c| c.group == g);
    checks(
        &mut out,
        "Scenarios (the original system's verification tests)",
        group("scenario"),
    );
    checks(&mut out, "Invariants", group("invariant"));
    checks(&mut out, "The run itself", group("run"));
    out.push_str("</body></html>\n");
    Ok(out)
}

pub(crate) const STYLE: &str =
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;\
padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;\
padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}.pass{color:#1a7f37;\
font-weight:bold}.fail{color:#cf222e;font-weight:bold}svg{max-width:100%;height:auto}\
.num{text-align:right;font-variant-numeric:tabular-nums}";

fn table(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<table>");
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    out.push_str("</table>");
}

fn summary(out: &mut String, r: &RunResult) {
    let s = &r.setup;
    let mut rows = vec![
        (
            "seed",
            r.seed.map_or("-".into(), |seed| {
                format!("{seed} (replay with --seed {seed})")
            }),
        ),
        ("commit", r.commit.clone().unwrap_or_else(|| "-".into())),
        ("store", s.store.clone()),
        ("queues", s.queues.clone()),
        ("faults", s.faults.clone()),
    ];
    if let Some(p) = &s.profile {
        rows.push((
            "load",
            format!(
                "{} requests over {} s: {}",
                p.requests, p.duration_secs, p.description
            ),
        ));
    }
    if let Some(settings) = &s.settings {
        rows.push((
            "settings",
            format!("{} (sha256 {})", settings.file, settings.sha256),
        ));
    }
    if let Some(p) = &r.pipeline {
        rows.push((
            "finished orders",
            format!(
                "{} ({} PROCESSED, {} FAILED), {:.0} orders/s from the first load request to drained ({:.2} s)",
                p.finished, p.processed, p.failed, p.throughput, p.drain_secs
            ),
        ));
    }
    table(out, &rows);
}

fn targets(out: &mut String, r: &RunResult) {
    if r.targets.is_empty() {
        return;
    }
    out.push_str("<h2>Targets</h2><table><tr><th></th><th>target</th><th>measured</th></tr>");
    for t in &r.targets {
        let _ = write!(
            out,
            "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            if t.passed { "pass" } else { "fail" },
            match (t.passed, t.withheld) {
                (true, _) => "PASS",
                (false, true) => "NO VERDICT",
                (false, false) => "MISS",
            },
            esc(&t.target),
            esc(&t.detail)
        );
    }
    out.push_str("</table>");
}

/// What the customers saw: the load as planned and sent, first tries,
/// the client's latency, the reads.
fn customers(out: &mut String, r: &RunResult) {
    let Some(l) = &r.load else { return };
    let join = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let p = &l.submit_to_202_ms;
    let mut rows = vec![
        (
            "sent",
            match (l.planned_peak_rps, l.offered) {
                (Some(planned), Some(offered)) => format!(
                    "open loop: {} requests, planned peak {planned:.0}/s, sent {:.0}/s ({:.1} % offered), late by p99 {:.1} ms",
                    l.requests, l.achieved_peak_rps, offered * 100.0, l.send_lag_ms.p99
                ),
                _ => format!("closed loop: {} requests as fast as answered", l.requests),
            },
        ),
        ("first try", join(&l.first_try)),
        ("after retries", join(&l.after_retries)),
        (
            "submit-to-202",
            format!("p50 {:.0} ms, p90 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms", p.p50, p.p90, p.p95, p.p99, p.max),
        ),
    ];
    if let Some(reads) = r.reads.as_ref().filter(|r| r.requests > 0) {
        for route in &reads.routes {
            rows.push((
                "reads",
                format!(
                    "{}: {} ({}), p99 {}",
                    route.route,
                    route.requests,
                    join(&route.answers),
                    show("p99_read", route.latency_ms.p99)
                ),
            ));
        }
    }
    out.push_str("<h2>What the customers saw</h2>");
    table(out, &rows);
}

/// The bill as a table: each item, its quantity and cost, the total, and
/// the two figures a team plans with.
fn bill_table(out: &mut String, b: &Bill) {
    let _ = write!(
        out,
        "<h2>What this run would cost on AWS</h2><p>{} prices from deploy/prices.json, read {}, in {}; \
         {:.0} s of the stack.</p><table><tr><th>service</th><th>item</th><th>quantity</th>\
         <th>unit</th><th>cost</th></tr>",
        esc(&b.region),
        esc(&b.read),
        esc(&b.currency),
        b.seconds
    );
    for l in &b.lines {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">${:.6}</td></tr>",
            esc(&l.service),
            esc(&l.item),
            crate::report::bill::quantity(l.quantity),
            esc(&l.unit),
            l.usd
        );
    }
    let _ = write!(
        out,
        "<tr><th colspan=\"4\">total</th><th class=\"num\">${:.6}</th></tr></table>",
        b.total
    );
    if let Some(per_million) = b.per_million {
        let _ = write!(
            out,
            "<p>Per million orders at this run's mix: <b>${per_million:.2}</b>.</p>"
        );
    }
    let _ = write!(
        out,
        "<p>The same shape idle for a month: <b>${:.2}</b>.</p>",
        b.idle_month
    );
}

fn checks<'a>(out: &mut String, title: &str, checks: impl Iterator<Item = &'a CheckRow>) {
    let checks: Vec<&CheckRow> = checks.collect();
    if checks.is_empty() {
        return;
    }
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
            esc(&c.name),
            esc(&c.detail)
        );
    }
    out.push_str("</table>");
}

/// Seconds from the load's start.
fn secs(at: DateTime<Utc>, start: DateTime<Utc>) -> f64 {
    (at - start).num_milliseconds() as f64 / 1000.0
}

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
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
    use engine::domain::{CustomerId, OrderId, OrderStatus};

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
        let mut result = RunResult::new("run", Some(9));
        result.checks.push(CheckRow {
            group: "invariant".into(),
            name: "1. no oversell".into(),
            passed: false,
            detail: "sim-hot-1 -1 < 0".into(),
        });
        result.derive_metrics();
        result.judge(&[], true);
        let page = Page {
            title: "orderflow sim, seed 9".into(),
            result: &result,
            load_start: start,
            finished: &finished,
            samples: &samples,
            hot: &["sim-hot-1".to_owned(), "sim-hot-2".to_owned()],
            shape: &[],
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
        assert!(html.contains("FAILED: see the targets and checks below."));
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
