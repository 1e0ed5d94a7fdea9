//! The plan as one self-contained HTML page, like the run report: the
//! frontier of cost a month against p99 (inline SVG, no scripts, nothing
//! fetched), the chosen shape marked, its bill, and what was tried.

use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::confirm::Confirmed;
use super::screen::Reason;
use crate::report::html::charts::{chart_error, COLOURS};
use crate::report::html::{esc, STYLE};
use crate::report::result::Bill;

/// One point of the frontier.
pub struct Point {
    pub label: String,
    pub month_usd: f64,
    pub p99_ms: f64,
    /// Measured by a confirming run (else the screen's estimate).
    pub confirmed: bool,
    pub chosen: bool,
}

pub struct PlanPage<'a> {
    pub title: String,
    /// What was planned for: the load, targets, model end, one line each.
    pub facts: Vec<(String, String)>,
    pub points: Vec<Point>,
    pub target_p99_ms: f64,
    pub chosen: Option<(String, &'a Confirmed)>,
    pub headroom: String,
    /// The settings the plan started from, run the same way, and the
    /// screen's month for them.
    pub baseline: Option<(Option<f64>, &'a Confirmed)>,
    pub dropped: Vec<(Reason, usize)>,
    pub confirmed: Vec<(String, &'a Confirmed, Option<String>)>,
}

pub fn write(path: &Path, page: &PlanPage) -> anyhow::Result<()> {
    crate::report::write_file(path, &render(page)?)
}

pub fn render(p: &PlanPage) -> anyhow::Result<String> {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>",
        t = esc(&p.title)
    );
    match &p.chosen {
        Some((what, c)) => {
            let _ = write!(
                out,
                "<p class=\"pass\">Chosen: {} — p99 {} ms measured, {} refused, DLQ {}.</p><p>Headroom: {}</p>",
                esc(what),
                c.outcome.p99_ms(),
                c.outcome.refused(),
                c.outcome.dlq(),
                esc(&p.headroom)
            );
        }
        None => out.push_str("<p class=\"fail\">No candidate met the targets in the sim.</p>"),
    }
    out.push_str("<table>");
    for (k, v) in &p.facts {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    out.push_str("</table><h2>Cost a month against p99</h2>");
    out.push_str(&frontier(p)?);
    out.push_str(
        "<p>Each point is a shape: hollow, the screen's estimate; filled, measured by a run in \
         the sim; the ring, the one chosen; the black square, the settings the plan started from, \
         run the same way. The dashed line is the p99 target.</p>",
    );
    if let Some((_, c)) = &p.chosen {
        if let Some(bill) = &c.outcome.bill {
            bill_table(&mut out, bill);
        }
    }
    confirmed_table(&mut out, p);
    out.push_str("<h2>Dropped by the screen</h2><table><tr><th>why</th><th>candidates</th></tr>");
    for (r, n) in &p.dropped {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{n}</td></tr>",
            esc(r.describe())
        );
    }
    out.push_str("</table></body></html>\n");
    Ok(out)
}

fn confirmed_table(out: &mut String, p: &PlanPage) {
    out.push_str(
        "<h2>Confirmed in the sim</h2><table><tr><th>shape</th><th>p99 ms</th><th>refused</th>\
         <th>DLQ</th><th>connections (peak / refused)</th><th>the run's bill</th><th>verdict</th></tr>",
    );
    let start = p
        .baseline
        .map(|(_, c)| ("the settings the plan started from".to_owned(), c, None));
    for (what, c, missed) in p.confirmed.iter().cloned().chain(start) {
        let o = &c.outcome;
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{} / {}</td><td class=\"num\">${:.4}</td><td class=\"{}\">{}</td></tr>",
            esc(&what),
            o.p99_ms(),
            o.refused(),
            o.dlq(),
            o.metric("connections_peak"),
            o.metric("connections_refused"),
            o.bill.as_ref().map_or(0.0, |b| b.total),
            if missed.is_none() { "pass" } else { "fail" },
            esc(missed.as_deref().unwrap_or("meets the targets"))
        );
    }
    out.push_str("</table>");
}

fn bill_table(out: &mut String, b: &Bill) {
    let _ = write!(
        out,
        "<h2>The chosen shape's bill</h2><p>What its confirming run would have cost on AWS \
         ({}, prices read {}; {:.0} s of the stack):</p><table><tr><th>service</th><th>item</th>\
         <th>quantity</th><th>unit</th><th>USD</th></tr>",
        esc(&b.region),
        esc(&b.read),
        b.seconds
    );
    for l in &b.lines {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{:.6}</td></tr>",
            esc(&l.service),
            esc(&l.item),
            crate::report::bill::quantity(l.quantity),
            esc(&l.unit),
            l.usd
        );
    }
    let _ = write!(
        out,
        "<tr><th colspan=\"4\">total</th><td class=\"num\">{:.6}</td></tr></table>\
         <p>Idle for a month: ${:.2}. Per million orders at the run's mix: {}.</p>",
        b.total,
        b.idle_month,
        b.per_million.map_or("-".to_owned(), |m| format!("${m:.2}"))
    );
}

/// The frontier as SVG: cost a month (y) against p99 (x).
fn frontier(p: &PlanPage) -> anyhow::Result<String> {
    let start = p
        .baseline
        .and_then(|(month, c)| Some((c.outcome.p99_ms() as f64, month?)));
    let all: Vec<(f64, f64)> = p
        .points
        .iter()
        .map(|pt| (pt.p99_ms, pt.month_usd))
        .chain(start)
        .collect();
    let xmax = all.iter().map(|a| a.0).fold(p.target_p99_ms, f64::max) * 1.1;
    let ymax = all.iter().map(|a| a.1).fold(1.0, f64::max) * 1.02;
    let ymin = all.iter().map(|a| a.1).fold(ymax, f64::min) * 0.98;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "cost a month against p99 accept-to-processed",
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..xmax, ymin..ymax)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc("p99 accept-to-processed, ms")
            .y_desc("USD a month")
            .y_label_formatter(&|v| format!("{v:.2}"))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(chart_error)?;
        let target = p.target_p99_ms;
        chart
            .draw_series(DashedLineSeries::new(
                [(target, ymin), (target, ymax)],
                6,
                4,
                BLACK.stroke_width(1),
            ))
            .map_err(chart_error)?;
        points(&mut chart, p)?;
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

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The frontier's points: the screened, the measured, the chosen.
fn points(chart: &mut Chart<'_, '_>, p: &PlanPage) -> anyhow::Result<()> {
    let (screened, measured) = (COLOURS[0].mix(0.5), COLOURS[0]);
    chart
        .draw_series(
            p.points
                .iter()
                .filter(|pt| !pt.confirmed)
                .map(|pt| Circle::new((pt.p99_ms, pt.month_usd), 4, screened.stroke_width(1))),
        )
        .map_err(chart_error)?
        .label("screened (estimated p99)")
        .legend(move |(x, y)| Circle::new((x + 10, y), 4, screened.stroke_width(1)));
    chart
        .draw_series(
            p.points
                .iter()
                .filter(|pt| pt.confirmed)
                .map(|pt| Circle::new((pt.p99_ms, pt.month_usd), 5, measured.filled())),
        )
        .map_err(chart_error)?
        .label("run in the sim (measured p99)")
        .legend(move |(x, y)| Circle::new((x + 10, y), 5, measured.filled()));
    if let Some((Some(month), c)) = p.baseline {
        let at = (c.outcome.p99_ms() as f64, month);
        chart
            .draw_series(
                [EmptyElement::at(at) + Rectangle::new([(-6, -6), (6, 6)], BLACK.filled())],
            )
            .map_err(chart_error)?
            .label("the settings the plan started from")
            .legend(|(x, y)| Rectangle::new([(x + 4, y - 5), (x + 14, y + 5)], BLACK.filled()));
    }
    let chosen = COLOURS[3];
    chart
        .draw_series(p.points.iter().filter(|pt| pt.chosen).map(|pt| {
            // The label sits above and right of its ring, clear of the axis.
            EmptyElement::at((pt.p99_ms, pt.month_usd))
                + Circle::new((0, 0), 10, chosen.stroke_width(3))
                + Text::new(
                    format!("chosen: {}", pt.label),
                    (14, -28),
                    ("sans-serif", 14).into_font().color(&chosen),
                )
        }))
        .map_err(chart_error)?
        .label("chosen")
        .legend(move |(x, y)| Circle::new((x + 10, y), 7, chosen.stroke_width(3)));
    Ok(())
}
