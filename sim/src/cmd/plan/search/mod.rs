//! The plan's search, for [`super::PlanArgs`]: what it is given, checked;
//! the screen of every candidate; the confirming runs of the cheapest; the
//! choice, its headroom, its files and its result.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::aws::settings::DeploymentSettings;
use anyhow::Context as _;

use crate::aws::bill::{self, Prices};
use crate::aws::model::{End, Model};
use crate::plan::confirm::{self, Confirmed, Runner};
use crate::plan::page::{self, PlanPage, Point};
use crate::plan::screen::{Screen, Verdict};
use crate::plan::{self, space, Load, Screening};
use crate::report::result::{Confirmation, PlanReport, RunResult};
use crate::targets::{self, Target};

use super::PlanArgs;

mod output;

use output::{conclude, print_screening, write_csv};

pub async fn plan(args: PlanArgs) -> ExitCode {
    crate::console::init_tracing("warn,engine=off,sqlx=off");
    // `--json -`: the JSON alone on standard output, the plan's text on stderr.
    let stdout = match crate::console::keep_stdout_for(args.json.as_deref()) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("sim plan: cannot keep standard output for the JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let done = plan_inner(args).await.and_then(|(chosen, result)| {
        if let Some((result, json, summary)) = result {
            result.emit(json.as_deref(), stdout, summary.as_deref())?;
        }
        Ok(chosen)
    });
    match done {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sim plan: {}", engine::report::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// The plan's result and where it goes (`--json`, `--summary`), if asked.
type Written = Option<(RunResult, Option<PathBuf>, Option<PathBuf>)>;

/// What a plan is given, checked.
struct Given {
    load: Load,
    model: Model,
    prices: Prices,
    base: DeploymentSettings,
}

fn given(args: &PlanArgs) -> anyhow::Result<Given> {
    let duration = args.duration.unwrap_or(args.profile.duration_secs);
    if !(duration > 0.0 && duration.is_finite()) {
        anyhow::bail!("--duration must be a positive number of seconds");
    }
    if args.confirm == 0 || args.sales_per_month < 0.0 {
        anyhow::bail!("--confirm must be at least 1, --sales-per-month not negative");
    }
    let orders = match args.peak {
        Some(peak) if peak > 0.0 && peak.is_finite() => {
            args.profile.requests_for_peak(peak, duration)
        }
        Some(_) => anyhow::bail!("--peak must be a positive rate"),
        None => args.orders.unwrap_or(args.profile.requests),
    };
    if orders == 0 {
        anyhow::bail!("the load has no requests: raise --requests or --peak");
    }
    let base = match &args.settings {
        Some(path) => DeploymentSettings::load(path)?,
        None => DeploymentSettings::shipped()?,
    };
    let prices = Prices::of(bill::SHIPPED, &args.aws.region)?;
    let set = |name| std::env::var(name).is_ok_and(|v| !v.is_empty());
    if !set("DATABASE_URL") && !set("DB_HOST") {
        anyhow::bail!(
            "sim plan confirms its candidates with `sim run --topology lambda`, which needs MySQL: \
             set DATABASE_URL (or DB_HOST)"
        );
    }
    Ok(Given {
        load: Load {
            orders,
            duration,
            profile: args.profile.clone(),
        },
        model: Model::load(args.aws.model_file.as_deref(), args.model, args.seed)?,
        prices,
        base,
    })
}

/// The targets each confirming run is held to: those given, or the sale's
/// defaults.
fn targets_of(args: &PlanArgs) -> Vec<Target> {
    match args.targets.is_empty() {
        false => args.targets.clone(),
        true => targets::SALE_DEFAULTS
            .iter()
            .filter_map(|t| t.parse().ok())
            .collect(),
    }
}

/// The p99 the screen plans for: the `p99_accept_to_processed` target's.
fn p99_target_ms(targets: &[Target]) -> f64 {
    targets
        .iter()
        .find(|t| t.metric == "p99_accept_to_processed")
        .map_or(2000.0, |t| t.value)
}

async fn plan_inner(args: PlanArgs) -> anyhow::Result<(bool, Written)> {
    let g = given(&args)?;
    let targets = targets_of(&args);
    let p99_ms = p99_target_ms(&targets);
    let screen = Screen {
        model: &g.model,
        prices: &g.prices,
        base: &g.base,
        multi_az: args.aws.multi_az,
        p99_target_ms: p99_ms,
        sales_per_month: args.sales_per_month,
        cache: Default::default(),
    };
    println!(
        "sim plan: {} requests over {} s, {} (peak {:.0}/s), p99 target {} ms, model {}, {}, prices {}",
        g.load.orders,
        g.load.duration,
        g.load.profile.describe(),
        g.load.peak(),
        p99_ms,
        args.model.as_str(),
        if args.aws.multi_az { "Multi-AZ" } else { "single-AZ" },
        args.aws.region,
    );
    let started = Instant::now();
    let classes = space::classes()?;
    for (name, c) in &classes {
        println!(
            "  {name}: {} GiB, {} vCPUs, max_connections {} (deploy/instance-classes.json), ${}/hour",
            c.memory_gib,
            c.vcpus,
            c.max_connections,
            g.prices.rds_instance_hour.classes.get(name).copied().unwrap_or(f64::NAN)
        );
    }
    let mut searched = space::Space::full();
    if let Some(arch) = &args.architecture {
        searched.architecture.retain(|a| a.as_str() == arch);
    }
    let candidates = searched.candidates(&classes, g.load.peak());
    let screening = plan::screen_all(&screen, candidates, &g.load);
    print_screening(&screening, started.elapsed().as_secs_f64());
    write_csv(&args, &screening)?;
    let runner = Runner {
        load: g.load.clone(),
        seed: args.seed,
        model: args.model,
        model_file: args.aws.model_file.clone(),
        multi_az: args.aws.multi_az,
        region: args.aws.region.clone(),
        time_scale: args.time_scale,
        // None given: each run applies the sale's defaults that its load
        // measures (an `even` load has no reads to hold to a target).
        targets: args.targets.clone(),
        outage: None,
        observed: false,
        dir: args.dir.clone(),
    };
    let confirmed = confirm_cheapest(&args, &runner, &screening, &g.base).await?;
    let baseline = match args.quick {
        true => None,
        false => Some(baseline(&runner, &screen, &g).await?),
    };
    let other_end = match args.quick {
        true => None,
        false => at_the_other_end(&runner, &screening, &confirmed, &g).await?,
    };
    conclude(
        &args,
        &screen,
        &g,
        &screening,
        (&confirmed, baseline.as_ref(), other_end),
    )
    .await
}

/// The chosen shape run once more at the other end of the model (central
/// for a plan made at the pessimistic end, else pessimistic): whether the
/// choice holds there too.
async fn at_the_other_end(
    runner: &Runner,
    s: &Screening,
    tried: &[Tried],
    g: &Given,
) -> anyhow::Result<Option<String>> {
    let Some(t) = tried.iter().find(|t| t.missed.is_none()) else {
        return Ok(None);
    };
    let other = match runner.model {
        End::Pessimistic => End::Central,
        _ => End::Pessimistic,
    };
    let at_other = Runner {
        model: other,
        ..runner.clone()
    };
    let settings = s.all[t.index].candidate.settings(&g.base);
    let name = format!("chosen-{}", other.as_str());
    let run = at_other.confirm(&name, &settings).await?;
    let verdict = match confirm::missed(&run.outcome) {
        None => format!("holds at the {} end (p99 {} ms)", other.as_str(), run.outcome.p99_ms()),
        Some(missed) => format!(
            "does not hold at the {} end: {missed}; plan with --model pessimistic for a shape that holds at both",
            other.as_str()
        ),
    };
    println!("  the chosen shape, run at the other end of the model: {verdict}");
    Ok(Some(verdict))
}

/// The settings the plan started from, run the same way: what the chosen
/// shape is set beside.
pub struct Baseline {
    pub confirmed: Confirmed,
    /// The screen's month for them, if they are settings a plan could write.
    pub month_usd: Option<f64>,
}

async fn baseline(runner: &Runner, screen: &Screen<'_>, g: &Given) -> anyhow::Result<Baseline> {
    let confirmed = runner.confirm("start", &g.base).await?;
    let o = &confirmed.outcome;
    let month_usd = space::Candidate::of(&g.base).map(|c| screen.judge(&c, &g.load).1.month_usd);
    println!(
        "  the settings the plan started from, run the same way: p99 {} ms, refused {}, DLQ {}, connections at most {}, the run's bill ${:.4}{}",
        o.p99_ms(),
        o.refused(),
        o.dlq(),
        o.metric("connections_peak"),
        o.bill.as_ref().map_or(0.0, |b| b.total),
        month_usd.map_or(String::new(), |m| format!(", ${m:.2} a month"))
    );
    Ok(Baseline {
        confirmed,
        month_usd,
    })
}

/// A candidate run in the sim: its rank among the screened, the run, and
/// the first target it missed (none: it meets them all).
pub struct Tried {
    pub index: usize,
    pub confirmed: Confirmed,
    pub missed: Option<String>,
}

/// Runs the cheapest screened shapes in the sim, cheapest first, until
/// `--confirm` have run and one met the targets (or twice that ran).
async fn confirm_cheapest(
    args: &PlanArgs,
    runner: &Runner,
    s: &Screening,
    base: &DeploymentSettings,
) -> anyhow::Result<Vec<Tried>> {
    let wanted = if args.quick { 1 } else { args.confirm };
    println!(
        "\nconfirming in the sim (`sim run --topology lambda --settings <file>`, logs in {}):",
        args.dir.display()
    );
    let mut tried: Vec<Tried> = Vec::new();
    for (n, index) in plan::distinct(s).into_iter().enumerate() {
        let passed = tried.iter().any(|t| t.missed.is_none());
        if n >= 2 * wanted || (n >= wanted && passed) {
            break;
        }
        let c = &s.all[index].candidate;
        let name = format!("candidate-{}", n + 1);
        let confirmed = runner.confirm(&name, &c.settings(base)).await?;
        let mut missed = confirm::missed(&confirmed.outcome);
        let o = &confirmed.outcome;
        println!(
            "  #{:<2} p99 {:>5} ms (est. {:>5.0}), refused {}, DLQ {}, connections at most {} ({} refused), the run's bill ${:.4}: {}",
            n + 1,
            o.p99_ms(),
            s.all[index].estimate.p99_ms,
            o.refused(),
            o.dlq(),
            o.metric("connections_peak"),
            o.metric("connections_refused"),
            o.bill.as_ref().map_or(0.0, |b| b.total),
            missed.as_deref().unwrap_or("meets the targets")
        );
        println!(
            "       {} (log: {})",
            confirmed.settings.display(),
            confirmed.log.display()
        );
        if missed.is_none() {
            let seeds = if args.quick { 1 } else { args.seeds.max(1) };
            missed = other_seeds(runner, (&name, &c.settings(base)), o, seeds).await?;
        }
        tried.push(Tried {
            index,
            confirmed,
            missed,
        });
    }
    Ok(tried)
}

/// A shape that met the targets on the plan's seed, run on `seeds - 1`
/// more (the next seeds): the first target one of them missed, if any, and
/// the spread of p99 over all of them, printed.
async fn other_seeds(
    runner: &Runner,
    (name, settings): (&str, &DeploymentSettings),
    first: &crate::report::result::RunResult,
    seeds: u64,
) -> anyhow::Result<Option<String>> {
    let mut p99s = vec![first.p99_ms()];
    for k in 1..seeds {
        let seed = runner.seed + k;
        let run = runner
            .confirm_with_seed(&format!("{name}-seed-{seed}"), settings, seed)
            .await?;
        p99s.push(run.outcome.p99_ms());
        if let Some(miss) = confirm::missed(&run.outcome) {
            println!("       seed {seed}: {miss} (log: {})", run.log.display());
            return Ok(Some(format!("on seed {seed}: {miss}")));
        }
    }
    if seeds > 1 {
        p99s.sort_unstable();
        println!(
            "       met the targets on {seeds} seeds ({}-{}): p99 {} / {} / {} ms (least / median / most)",
            runner.seed,
            runner.seed + seeds - 1,
            p99s[0],
            p99s[p99s.len() / 2],
            p99s[p99s.len() - 1]
        );
    }
    Ok(None)
}
