//! The run report as one self-contained HTML page: the figures, the charts
//! (inline SVG drawn with plotters, no scripts, nothing fetched) and the
//! verdicts of the scenarios and invariants.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use engine::domain::{OrderRecord, OrderStatus};
use engine::harness::faults::{FaultKind, Faults};

use crate::invariants::Check;
use crate::load::Sent;
use crate::timeline::Sample;

pub(crate) mod charts;

use charts::{latency, queue_chart, shape_charts, stock_chart, throughput_chart};

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
    /// With `--topology lambda`: the deployed shape over time.
    pub shape: &'a [crate::lambda::ShapeSample],
    /// With `--topology lambda`: what the run would have cost on AWS.
    pub bill: Option<&'a crate::report::bill::Summary>,
}

/// Writes the page to `path`, creating its folder if needed.
pub fn write(path: &Path, page: &Page) -> anyhow::Result<()> {
    crate::report::write_file(path, &render(page)?)
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
    if !p.shape.is_empty() {
        out.push_str("<h2>The deployed shape (--topology lambda)</h2>");
        for chart in shape_charts(p.shape)? {
            out.push_str(&chart);
        }
    }
    if let Some(bill) = p.bill {
        bill_table(&mut out, bill);
    }
    checks(
        &mut out,
        "Scenarios (the seed's verification tests)",
        p.scenarios,
    );
    checks(&mut out, "Invariants", p.invariants);
    out.push_str("</body></html>\n");
    Ok(out)
}

pub(crate) const STYLE: &str =
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;\
padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;\
padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}.pass{color:#1a7f37;\
font-weight:bold}.fail{color:#cf222e;font-weight:bold}svg{max-width:100%;height:auto}\
.num{text-align:right;font-variant-numeric:tabular-nums}";

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

/// The bill as a table: each item, its quantity and cost, the total, and
/// the two figures a team plans with.
fn bill_table(out: &mut String, b: &crate::report::bill::Summary) {
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
            esc(l.service),
            esc(&l.item),
            crate::report::bill::quantity(l.quantity),
            esc(l.unit),
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
            shape: &[],
            bill: None,
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
