//! `sim compare BASE.json NEW.json`: two results (`--json` of `run`,
//! `bench` or `plan`) metric by metric, and a verdict a CI job can gate on:
//! it fails when a metric got worse by more than the tolerance, or a target
//! the base met is missed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::report::result::{self, RunResult};
use crate::targets::{better_of, show, unit_of, Better, Unit};

/// What `sim compare --help` says before its examples.
const NOTES: &str = "\
A metric regresses when it moved the wrong way (lower is better for latencies, errors, DLQ \
and cost; higher for throughput and the offered rate) by more than the tolerance, relative \
to the base, and by more than a floor of its unit: 5 ms for a latency, 0.1 percentage point \
for a share, nothing for counts and rates. A metric that only describes the run (requests, \
the planned peak) is shown, never judged.";

#[derive(Args, Clone, Debug)]
#[command(
    after_help = super::help::short("compare"),
    after_long_help = super::help::long("compare", NOTES)
)]
pub struct CompareArgs {
    /// The baseline result (e.g. kept from main).
    #[arg(required_unless_present_any = ["schema", "observed"])]
    pub base: Option<PathBuf>,
    /// The result to judge against it.
    #[arg(required_unless_present_any = ["schema", "observed"])]
    pub new: Option<PathBuf>,
    /// How much worse a metric may get before it is a regression, relative
    /// to the base: `10%` or `0.1`.
    #[arg(long, default_value = "10%", value_parser = parse_tolerance)]
    pub tolerance: f64,
    /// Print the JSON Schema of a result (results.schema.json) and exit.
    #[arg(long)]
    pub schema: bool,
    /// An observed file (`sim collect`): run its sale in the sim at all
    /// three model ends and judge what AWS did against the model's range
    /// (aws feature, MySQL).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["base", "new", "schema"])]
    pub observed: Option<PathBuf>,
    /// With --observed: the model the sim runs under (default: the shipped
    /// deploy/model.json), e.g. one `sim calibrate` wrote.
    #[arg(long, value_name = "PATH", requires = "observed")]
    pub model_file: Option<PathBuf>,
    /// With --observed: keep the three runs in DIR (for each end, e.g.
    /// `optimistic`: its settings `.json`, `.result.json`, `.observed.json`
    /// and `.log`), rather than in a temporary directory removed after.
    #[arg(long, value_name = "DIR", requires = "observed")]
    pub runs_dir: Option<PathBuf>,
    /// With --runs-dir: take the three runs an earlier comparison of the
    /// same sale kept there rather than run them again (refused if they
    /// were of another sale), e.g. to judge a second rehearsal of it.
    #[arg(long, requires = "runs_dir")]
    pub reuse_runs: bool,
}

fn parse_tolerance(s: &str) -> Result<f64, String> {
    let (n, scale) = match s.strip_suffix('%') {
        Some(n) => (n, 0.01),
        None => (s, 1.0),
    };
    match n.trim().parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v * scale),
        _ => Err(format!("{s:?} is not a tolerance: say 10% or 0.1")),
    }
}

pub async fn compare(args: CompareArgs) -> ExitCode {
    #[cfg(feature = "aws")]
    if let Some(observed) = &args.observed {
        let runs = crate::observed::judge::Runs {
            keep: args.runs_dir.as_deref(),
            reuse: args.reuse_runs,
        };
        return crate::observed::judge::compare_observed(
            observed,
            args.model_file.as_deref(),
            runs,
        )
        .await;
    }
    if args.schema {
        return match result::schema() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sim compare: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let (Some(base), Some(new)) = (&args.base, &args.new) else {
        eprintln!("sim compare: give two result files");
        return ExitCode::from(2);
    };
    let read = |p: &PathBuf| RunResult::read(p);
    match (read(base), read(new)) {
        (Ok(b), Ok(n)) => match judge(&b, &n, args.tolerance) {
            0 => {
                println!("\nno regression beyond {:.0} %", args.tolerance * 100.0);
                ExitCode::SUCCESS
            }
            k => {
                println!("\n{k} regressions beyond {:.0} %", args.tolerance * 100.0);
                ExitCode::FAILURE
            }
        },
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("sim compare: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// How far a metric may move the wrong way without counting.
fn floor(unit: Option<Unit>) -> f64 {
    match unit {
        Some(Unit::Ms) => 5.0,
        Some(Unit::Share) => 0.001,
        _ => 0.0,
    }
}

/// Whether `new` is worse than `base` by more than `tolerance`.
pub fn regressed(metric: &str, base: f64, new: f64, tolerance: f64) -> bool {
    let allowed = (base.abs() * tolerance).max(floor(unit_of(metric)));
    match better_of(metric) {
        Better::Lower => new - base > allowed,
        Better::Higher => base - new > allowed,
        Better::Neither => false,
    }
}

/// Prints the comparison; answers the number of regressions.
fn judge(base: &RunResult, new: &RunResult, tolerance: f64) -> usize {
    println!(
        "sim compare: base {} ({}), new {} ({})",
        base.commit.as_deref().unwrap_or("no commit"),
        base.started_at,
        new.commit.as_deref().unwrap_or("no commit"),
        new.started_at
    );
    for (what, b, n) in [
        (
            "settings",
            base.setup.settings.as_ref().map(|s| &s.sha256),
            new.setup.settings.as_ref().map(|s| &s.sha256),
        ),
        ("model", base.setup.model.as_ref(), new.setup.model.as_ref()),
        (
            "profile",
            base.setup.profile.as_ref().map(|p| &p.description),
            new.setup.profile.as_ref().map(|p| &p.description),
        ),
    ] {
        if b != n {
            println!("  note: the {what} differ between the two runs");
        }
    }
    println!(
        "\n  {:<26} {:>14} {:>14} {:>12}  verdict",
        "metric", "base", "new", "change"
    );
    let mut regressions = 0;
    for (metric, b) in &base.metrics {
        let Some(n) = new.metrics.get(metric) else {
            println!("  {metric:<26} {:>14} {:>14}", show(metric, *b), "-");
            continue;
        };
        let bad = regressed(metric, *b, *n, tolerance);
        regressions += usize::from(bad);
        let change = match *b == 0.0 {
            true if *n == 0.0 => "=".to_owned(),
            true => "new".to_owned(),
            false => format!("{:+.1} %", (n - b) / b.abs() * 100.0),
        };
        let verdict = match (bad, better_of(metric)) {
            (true, _) => "REGRESSION",
            (false, Better::Neither) => "",
            (false, _) => "ok",
        };
        println!(
            "  {metric:<26} {:>14} {:>14} {change:>12}  {verdict}",
            show(metric, *b),
            show(metric, *n)
        );
    }
    for t in &new.targets {
        let met_before = base
            .targets
            .iter()
            .any(|b| b.target == t.target && b.passed);
        if met_before && !t.passed {
            regressions += 1;
            println!(
                "  REGRESSION: target {} was met by the base, missed now: {}",
                t.target, t.detail
            );
        }
    }
    regressions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_regresses_only_the_wrong_way_and_past_the_tolerance() {
        assert!(regressed("p99_accept_to_processed", 1000.0, 1200.0, 0.1));
        assert!(!regressed("p99_accept_to_processed", 1000.0, 1080.0, 0.1));
        assert!(!regressed("p99_accept_to_processed", 1000.0, 500.0, 0.1));
        assert!(
            !regressed("p99_accept_to_processed", 1.0, 4.0, 0.1),
            "under the 5 ms floor"
        );
        assert!(regressed("throughput", 1000.0, 800.0, 0.1));
        assert!(regressed("dlq", 0.0, 1.0, 0.1), "any message in the DLQ");
        assert!(
            !regressed("requests", 100.0, 1.0, 0.1),
            "describes, never judged"
        );
        assert_eq!(parse_tolerance("10%"), Ok(0.1));
        assert!(parse_tolerance("ten").is_err());
    }
}
