//! A result as a Markdown summary, fit for a CI job's page (GitHub's
//! `$GITHUB_STEP_SUMMARY`, GitLab's job summary): the verdict, what ran,
//! each target, the figures a reviewer looks at, and what failed.

use std::fmt::Write as _;

use super::result::RunResult;
use crate::targets::show;

/// The figures the summary shows, in order, where the result has them.
const SHOWN: &[&str] = &[
    "requests",
    "offered",
    "first_try_5xx",
    "first_try_429",
    "refused",
    "p99_submit_to_202",
    "p99_accept_to_processed",
    "throughput",
    "read_first_try_5xx",
    "p99_read",
    "dlq",
    "connections_refused",
    "bill_usd",
    "processor_orders_per_s",
    "e2e_orders_per_s",
    "p99_e2e",
    "deployed_central_orders_per_s",
    "deployed_pessimistic_orders_per_s",
];

pub fn render(r: &RunResult) -> String {
    let mut out = String::new();
    let verdict = match r.exit_status() {
        0 => "passed",
        2 => "NO VERDICT (this machine could not keep the model)",
        _ => "FAILED",
    };
    let _ = writeln!(out, "## orderflow `sim {}`: {verdict}\n", r.command);
    let mut setup = vec![format!("topology `{}`", r.setup.topology)];
    if let Some(p) = &r.setup.profile {
        setup.push(format!(
            "profile `{}` ({} requests over {} s)",
            p.name, p.requests, p.duration_secs
        ));
    }
    if let Some(m) = &r.setup.model {
        setup.push(format!("model {m}"));
    }
    if let Some(s) = &r.setup.settings {
        setup.push(format!(
            "settings `{}` (sha256 {})",
            s.file,
            &s.sha256[..12.min(s.sha256.len())]
        ));
    }
    if let Some(seed) = r.seed {
        setup.push(format!("seed {seed}"));
    }
    if let Some(c) = &r.commit {
        setup.push(format!("commit `{c}`"));
    }
    let _ = writeln!(out, "{}\n", setup.join(" · "));
    if !r.targets.is_empty() {
        out.push_str("| target | measured | verdict |\n|---|---|---|\n");
        for t in &r.targets {
            let measured = t
                .measured
                .map_or("not measured".into(), |m| show(&t.metric, m));
            let mark = if t.passed { "pass" } else { "**MISS**" };
            let _ = writeln!(out, "| `{}` | {measured} | {mark} |", t.target);
        }
        out.push('\n');
    }
    let shown: Vec<(&str, f64)> = SHOWN
        .iter()
        .filter_map(|k| r.metrics.get(*k).map(|v| (*k, *v)))
        .collect();
    if !shown.is_empty() {
        out.push_str("| metric | value |\n|---|---|\n");
        for (k, v) in shown {
            let _ = writeln!(out, "| `{k}` | {} |", show(k, v));
        }
        out.push('\n');
    }
    let failed: Vec<_> = r.checks.iter().filter(|c| !c.passed).collect();
    if !failed.is_empty() {
        out.push_str("Failed checks:\n\n");
        for c in failed {
            let _ = writeln!(out, "- {} ({}): {}", c.name, c.group, c.detail);
        }
        out.push('\n');
    }
    out
}
