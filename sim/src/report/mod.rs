//! The run report, all of it: the result as one value ([`result`]), and
//! the ways it is shown: the text printed here, what the load was and what
//! became of it; the faults injected ([`faults`]); the deployed shape's
//! functions, queues and connections ([`shape`]); its bill ([`bill`]); the
//! same as one HTML page ([`html`]) and as a Markdown summary
//! ([`markdown`]).

pub mod bill;
pub mod faults;
pub mod html;
pub mod markdown;
pub mod result;
pub mod shape;

use result::{CheckRow, PipelineReport, RunResult};

use crate::load::measure::{LoadReport, ReadsReport};

/// Writes `text` to `path`, creating its folder if needed: every file a
/// run or a plan leaves (pages, results, settings files).
pub fn write_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The text report of a run after its load, in the order it is printed
/// (the scenarios are printed as they run), up to its verdict
/// ([`print_verdict`]).
pub fn print(r: &RunResult) {
    if let Some(load) = &r.load {
        print_load(load);
    }
    if let Some(reads) = r.reads.as_ref().filter(|r| r.requests > 0) {
        print_reads(reads);
    }
    if let Some(p) = &r.pipeline {
        print_pipeline(p);
    }
    if let Some(s) = &r.shape {
        shape::print(s);
    }
    if let Some(b) = &r.bill {
        bill::print(b);
    }
    faults::print(&r.faults);
    if r.checks.iter().any(|c| c.group == "invariant") {
        println!("\ninvariants:");
        print_checks(r.checks.iter().filter(|c| c.group == "invariant"));
    }
}

pub fn print_checks<'a>(checks: impl Iterator<Item = &'a CheckRow>) {
    for c in checks {
        let verdict = if c.passed { "PASS" } else { "FAIL" };
        println!("  {verdict} {}: {}", c.name, c.detail);
    }
}

/// The run's own conditions that failed, the targets, and the result line.
pub fn print_verdict(r: &RunResult) {
    let run_failed: Vec<&CheckRow> = r
        .checks
        .iter()
        .filter(|c| c.group == "run" && !c.passed)
        .collect();
    if !run_failed.is_empty() {
        println!();
        print_checks(run_failed.into_iter());
    }
    if !r.targets.is_empty() {
        println!("\ntargets:");
        for t in &r.targets {
            println!("  {t}");
        }
    }
    print!("\n{}", result_lines(r));
}

/// What `--quiet` prints: each check that failed, each target missed, the
/// result line and the closing count.
pub fn quiet_verdict(r: &RunResult) -> String {
    let mut out = String::new();
    for c in r.checks.iter().filter(|c| !c.passed) {
        out.push_str(&format!("FAIL {}: {}\n", c.name, c.detail));
    }
    for t in r.targets.iter().filter(|t| !t.passed) {
        out.push_str(&format!("{t}\n"));
    }
    out + &result_lines(r)
}

/// The result line, and a closing line in the common "N passed, N failed"
/// shape, for CI logs.
fn result_lines(r: &RunResult) -> String {
    let failed = |group: &str| {
        r.checks
            .iter()
            .filter(|c| c.group == group && !c.passed)
            .count()
    };
    let missed = r.targets.iter().filter(|t| !t.passed).count();
    let scenarios = r.checks.iter().any(|c| c.group == "scenario");
    let result = if r.passed && scenarios {
        "every scenario passed, every invariant held and every target was met".to_owned()
    } else if r.passed {
        "the client kept its schedule and every target was met".to_owned()
    } else if r.exit_status() == 2 {
        let withheld = r.targets.iter().filter(|t| t.withheld).count();
        format!(
            "NO VERDICT: nothing failed outright, but {withheld} targets were missed on a machine that could not keep the model: {}",
            r.no_verdict.as_deref().unwrap_or("")
        )
    } else {
        let refused = r.load.as_ref().map_or(0, |l| l.refused);
        format!(
            "FAILED ({} scenarios failed, {} invariants failed, {missed} targets missed, {} run checks failed, {refused} unexpected answers)",
            failed("scenario"),
            failed("invariant"),
            failed("run"),
        )
    };
    let total = r.checks.len() + r.targets.len();
    let bad = r.checks.iter().filter(|c| !c.passed).count() + missed;
    format!(
        "result: {result}\nsim: {} passed, {bad} failed\n",
        total - bad
    )
}

/// What was sent, when, and what each kind of request got.
fn print_load(l: &LoadReport) {
    println!(
        "  sent {} order requests in {:.2} s ({:.0} a second on average, {:.0} in the busiest second)",
        l.requests, l.send_secs, l.achieved_mean_rps, l.achieved_peak_rps
    );
    match (l.planned_peak_rps, l.offered) {
        (Some(planned), Some(offered)) => println!(
            "  open loop: planned peak {planned:.0}/s, sent {:.0}/s ({:.1} % offered); sent late by p50 {:.1} ms, p99 {:.1} ms, at most {:.1} ms{}",
            l.achieved_peak_rps,
            offered * 100.0,
            l.send_lag_ms.p50,
            l.send_lag_ms.p99,
            l.send_lag_ms.max,
            if l.kept_up { "" } else { ": THE CLIENT COULD NOT KEEP UP" }
        ),
        _ => println!("  closed loop: a fixed number in flight, as fast as answered (no schedule, no offered rate)"),
    }
    let statuses = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("  first try              {}", statuses(&l.first_try));
    println!(
        "                         5xx {:.2} %, 429 {:.2} %, timeout or no connection {:.2} %, anything unexpected {:.2} %",
        l.first_try_5xx * 100.0,
        l.first_try_429 * 100.0,
        l.first_try_timeout * 100.0,
        l.first_try_errors * 100.0
    );
    println!("  after retries          {}", statuses(&l.after_retries));
    let p = &l.submit_to_202_ms;
    println!(
        "  submit-to-202          p50 {:.0} ms, p90 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms (the client's side, from when each was due)",
        p.p50, p.p90, p.p95, p.p99, p.max
    );
    for k in &l.by_kind {
        println!(
            "    {:<24} {:>6}  ({})",
            k.kind,
            k.requests,
            statuses(&k.answers)
        );
    }
    for u in &l.unexpected {
        println!("    unexpected: {u}");
    }
}

fn print_reads(r: &ReadsReport) {
    println!(
        "  reads                  {} ({:.2} % 5xx or no answer, {:.2} % 429 on the first try), due-to-answer p50 {:.0} ms, p99 {:.0} ms",
        r.requests,
        r.first_try_5xx * 100.0,
        r.first_try_429 * 100.0,
        r.latency_ms.p50,
        r.latency_ms.p99
    );
    for route in &r.routes {
        let answers: Vec<String> = route
            .answers
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        println!(
            "    {:<24} {:>6}  ({}), p99 {:.0} ms",
            route.route,
            route.requests,
            answers.join(", "),
            route.latency_ms.p99
        );
    }
    if r.pollers > 0 {
        println!(
            "    {} of {} buyers who polled saw their order final",
            r.saw_final, r.pollers
        );
    }
}

/// What became of the orders.
fn print_pipeline(p: &PipelineReport) {
    let reasons: Vec<String> = p
        .failure_reasons
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    println!("\npipeline:");
    println!(
        "  finished orders        {} (PROCESSED {}, FAILED {}: {})",
        p.finished,
        p.processed,
        p.failed,
        reasons.join(", ")
    );
    println!(
        "  throughput             {:.0} orders/s finished (first load request to queues drained, {:.2} s)",
        p.throughput, p.drain_secs
    );
    if p.finished > 0 {
        let l = &p.accept_to_processed_ms;
        println!(
            "  accept-to-processed    p50 {:.0} ms, p90 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            l.p50, l.p90, l.p95, l.p99, l.max
        );
    }
    println!(
        "  DLQ                    {} in the order DLQ, {} in the processed DLQ",
        p.order_dlq, p.processed_dlq
    );
    println!(
        "  deliveries             {} duplicates answered from the store, {} store retries, {} undecodable receives",
        p.duplicates_answered, p.store_retries, p.undecodable_receives
    );
    let stock: Vec<String> = p
        .hot_stock
        .iter()
        .map(|s| format!("{} {} -> {}", s.product_id, s.from.unwrap_or(0), s.to))
        .collect();
    println!("  hot products           {}", stock.join(", "));
}
