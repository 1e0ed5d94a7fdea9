//! `sim compare --observed`: the observed sale run in the sim at the three
//! model ends (the same settings, profile, size, seed, Multi-AZ and
//! failover), and what the stack did set beside their range, metric by
//! metric. A verdict figure (throughput, the p99 from 202 to processed,
//! refusals, the DLQ) outside the range is a model that does not hold for
//! this stack: exit 1.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use super::{names, Observed};
use crate::aws::End;
use crate::load::Profile;
use crate::plan::confirm::Runner;
use crate::plan::Load;
use crate::report::result::RunResult;

/// The figures that decide: outside the model's range, the exit status is 1.
pub const VERDICTS: [&str; 4] = ["throughput", "p99_accept_to_processed", "refused", "dlq"];

/// How far outside the three runs' span a figure may fall and still count
/// as inside: each run is one draw of a noisy system, so the span is
/// widened by this share either side, and by a floor in the figure's unit
/// (50 ms for a time, nothing for a count).
pub const SLACK: f64 = 0.15;

/// One figure beside the model's range.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: String,
    pub observed: f64,
    /// Its value at the optimistic, central and pessimistic ends.
    pub ends: [f64; 3],
    pub inside: bool,
    pub verdict: bool,
}

/// Judges `observed`'s figures against the three runs' (`ends`, each the
/// run's metrics and its own observed file).
pub fn judge(observed: &Observed, ends: &[(RunResult, Observed); 3]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut row = |metric: String, value: Option<f64>, at: [Option<f64>; 3], floor: f64| {
        let (Some(v), [Some(o), Some(c), Some(p)]) = (value, at) else {
            return;
        };
        let lo = o.min(c).min(p);
        let hi = o.max(c).max(p);
        let inside = v >= lo - lo.abs() * SLACK - floor && v <= hi + hi.abs() * SLACK + floor;
        let verdict = VERDICTS.contains(&metric.as_str());
        rows.push(Row {
            metric,
            observed: v,
            ends: [o, c, p],
            inside,
            verdict,
        });
    };
    for metric in VERDICTS
        .iter()
        .chain(&["p99_submit_to_202", "first_try_429", "first_try_5xx"])
    {
        let floor = if metric.starts_with("p99") { 50.0 } else { 0.0 };
        let at = |i: usize| ends[i].0.metrics.get(*metric).copied();
        row(
            (*metric).to_owned(),
            observed.outcome.get(*metric).copied(),
            [at(0), at(1), at(2)],
            floor,
        );
    }
    for function in observed.functions.keys() {
        let peak = |o: &Observed| o.function_metric(function, names::CONCURRENT)?.max();
        let colds = |o: &Observed| {
            let f = o.functions.get(function)?;
            Some(f.reports.iter().filter(|r| r.init_ms.is_some()).count() as f64)
        };
        row(
            format!("{function} peak concurrency"),
            peak(observed),
            [peak(&ends[0].1), peak(&ends[1].1), peak(&ends[2].1)],
            1.0,
        );
        row(
            format!("{function} cold starts"),
            colds(observed),
            [colds(&ends[0].1), colds(&ends[1].1), colds(&ends[2].1)],
            1.0,
        );
    }
    let age = |o: &Observed| o.queue_metric("orders", names::AGE_OF_OLDEST)?.max();
    row(
        "order queue's oldest message, s".into(),
        age(observed),
        [age(&ends[0].1), age(&ends[1].1), age(&ends[2].1)],
        1.0,
    );
    rows
}

/// Where the three runs go, and whether they are there already.
#[derive(Debug, Clone, Copy, Default)]
pub struct Runs<'a> {
    /// Their results and observed files stay here; `None`: a temporary
    /// directory removed afterwards.
    pub keep: Option<&'a Path>,
    /// Take the three runs already in `keep` (of the same sale) rather
    /// than run them again.
    pub reuse: bool,
}

/// `sim compare --observed FILE`: runs, prints, and answers the status.
pub async fn compare_observed(path: &Path, model_file: Option<&Path>, runs: Runs<'_>) -> ExitCode {
    match run(path, model_file, runs).await {
        Ok(rows) => {
            print(&rows);
            let outside: Vec<&Row> = rows.iter().filter(|r| r.verdict && !r.inside).collect();
            if outside.is_empty() {
                println!("\nverdict: every verdict figure of what the stack did is inside the model's range");
                ExitCode::SUCCESS
            } else {
                let names: Vec<&str> = outside.iter().map(|r| r.metric.as_str()).collect();
                println!(
                    "\nverdict: OUTSIDE the model's range: {} (sim calibrate fits the constants behind them)",
                    names.join(", ")
                );
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("sim compare: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(path: &Path, model_file: Option<&Path>, runs: Runs<'_>) -> anyhow::Result<Vec<Row>> {
    let keep = runs.keep;
    let observed = Observed::read(path)?;
    let missing: Vec<&str> = VERDICTS
        .iter()
        .copied()
        .filter(|m| !observed.outcome.contains_key(*m))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "the observed file's outcome has no {}: no verdict without them (a load of a deployed \
         stack measures throughput and the p99 with `sim load --follow`; `sim collect` reads \
         the DLQs)",
        missing.join(", ")
    );
    if let (Some(dir), true) = (keep, runs.reuse) {
        let ends = reuse(&observed, dir)?;
        return Ok(judge(&observed, &ends));
    }
    let dir = keep.map_or_else(
        || std::env::temp_dir().join(format!("orderflow-compare-{}", std::process::id())),
        Path::to_path_buf,
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot make {}", dir.display()))?;
    let clean = || {
        if keep.is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    };
    let runner = runner(&observed, model_file, &dir)?;
    let mut ends = Vec::new();
    for end in [End::Optimistic, End::Central, End::Pessimistic] {
        println!(
            "running the observed sale in the sim at the {} end...",
            end.as_str()
        );
        let ran = run_end(&runner, &observed, end).await;
        if ran.is_err() {
            clean();
        }
        ends.push(ran?);
    }
    clean();
    let ends: [(RunResult, Observed); 3] =
        ends.try_into().map_err(|_| anyhow::anyhow!("three runs"))?;
    Ok(judge(&observed, &ends))
}

/// The three runs an earlier comparison kept in `dir`, refused unless they
/// ran `observed`'s sale.
fn reuse(observed: &Observed, dir: &Path) -> anyhow::Result<[(RunResult, Observed); 3]> {
    let mut ends = Vec::new();
    for end in [End::Optimistic, End::Central, End::Pessimistic] {
        let at = |name: String| dir.join(name);
        let result = RunResult::read(&at(format!("{}.result.json", end.as_str())))?;
        let ran = Observed::read(&at(format!("{}.observed.json", end.as_str())))?;
        anyhow::ensure!(
            ran.sale == observed.sale,
            "the {} end's run in {} was of another sale (its profile, size, seed, settings, \
             Multi-AZ or failover differ): run the comparison without --reuse-runs",
            end.as_str(),
            dir.display()
        );
        println!(
            "the observed sale at the {} end: the run kept in {}",
            end.as_str(),
            dir.display()
        );
        ends.push((result, ran));
    }
    ends.try_into().map_err(|_| anyhow::anyhow!("three runs"))
}

/// How the observed sale is run in the sim: its size, profile, seed,
/// Multi-AZ and failover, under `model_file`, each run's files in `dir`.
fn runner(observed: &Observed, model_file: Option<&Path>, dir: &Path) -> anyhow::Result<Runner> {
    let sale = &observed.sale;
    let profile = Profile::from_arg(&sale.profile)
        .with_context(|| format!("the observed sale's profile {:?}", sale.profile))?;
    Ok(Runner {
        load: Load {
            orders: sale.requests,
            duration: sale.duration_secs,
            profile,
        },
        seed: sale.seed,
        model: End::Central,
        model_file: model_file.map(Path::to_path_buf),
        multi_az: sale.multi_az,
        region: observed.region.clone(),
        time_scale: 1.0,
        // The run's own verdict is not the comparison's: its figures are.
        targets: Vec::new(),
        outage: sale
            .failover
            .as_ref()
            .map(|f| (f.at_secs, f.lasted_secs.round() as u64)),
        observed: true,
        dir: dir.to_path_buf(),
    })
}

/// One run of the observed sale at `end`: its result and its observed file.
async fn run_end(
    runner: &Runner,
    observed: &Observed,
    end: End,
) -> anyhow::Result<(RunResult, Observed)> {
    let at_end = Runner {
        model: end,
        ..runner.clone()
    };
    let ran = at_end
        .confirm(end.as_str(), &observed.sale.settings)
        .await?;
    let file = ran
        .observed
        .ok_or_else(|| anyhow::anyhow!("the {} end's run wrote no observed file", end.as_str()))?;
    Ok((ran.outcome, Observed::read(&file)?))
}

fn print(rows: &[Row]) {
    println!(
        "\n{:<36} {:>12} {:>12} {:>12} {:>12}  in the model's range?",
        "figure", "observed", "optimistic", "central", "pessimistic"
    );
    for r in rows {
        let mark = match (r.inside, r.verdict) {
            (true, _) => "inside",
            (false, true) => "OUTSIDE (verdict)",
            (false, false) => "outside",
        };
        println!(
            "{:<36} {:>12.1} {:>12.1} {:>12.1} {:>12.1}  {mark}",
            r.metric, r.observed, r.ends[0], r.ends[1], r.ends[2]
        );
    }
}
