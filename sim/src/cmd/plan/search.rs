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

/// The screen's summary: how many candidates, why each dropped one went,
/// and the cheapest kept.
fn print_screening(s: &Screening, secs: f64) {
    let kept = s.all.iter().filter(|c| c.verdict == Verdict::Kept).count();
    println!(
        "\nscreened {} candidates by arithmetic in {secs:.1} s: {kept} kept ({} shapes once the settings that cost nothing are set frugally), {} dropped:",
        s.all.len(),
        s.ranked.len(),
        s.all.len() - kept
    );
    for (reason, n) in plan::dropped_by_reason(&s.all) {
        println!("  {n:>7}  {}", reason.describe());
    }
    println!("\nthe cheapest kept, one per class and processor mapping (estimates; a month = idle + the sales):");
    println!(
        "  {:>3}  {:>9}  {:>9}  {:>8}  shape",
        "#", "$/month", "est. p99", "conns"
    );
    for (rank, &i) in plan::distinct(s).iter().take(10).enumerate() {
        let c = &s.all[i];
        println!(
            "  {:>3}  {:>9.2}  {:>6.0} ms  {:>3} of {:<3}  {}",
            rank + 1,
            c.estimate.month_usd,
            c.estimate.p99_ms,
            c.estimate.connections.0,
            c.estimate.connections.1,
            c.candidate.describe()
        );
    }
}

/// Every candidate screened, one CSV row each, at `<dir>/candidates.csv`.
fn write_csv(args: &PlanArgs, s: &Screening) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir).with_context(|| args.dir.display().to_string())?;
    let path = args.dir.join("candidates.csv");
    let file = std::fs::File::create(&path).with_context(|| path.display().to_string())?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(
        w,
        "class,max_connections,ingest_reserved,throttle_rate,ingest_memory_mb,consumer_memory_mb,architecture,\
         processor_batch,processor_window_s,processor_max_concurrency,processor_pool,notifier_batch,\
         notifier_window_s,notifier_max_concurrency,connections_needed,est_p99_ms,est_month_usd,verdict"
    )?;
    for x in &s.all {
        let c = &x.candidate;
        let e = &x.estimate;
        let verdict = match x.verdict {
            Verdict::Kept => "kept".to_owned(),
            Verdict::Dropped(r) => format!("dropped: {}", r.describe()),
        };
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.0},{:.2},\"{verdict}\"",
            c.class,
            c.max_connections,
            c.ingest_reserved,
            c.throttle.rate,
            c.ingest_memory,
            c.processor_memory,
            c.architecture.as_str(),
            c.processor.batch_size,
            c.processor.window_secs,
            c.processor.maximum_concurrency,
            c.processor_pool,
            c.notifier.batch_size,
            c.notifier.window_secs,
            c.notifier.maximum_concurrency,
            e.connections.0,
            e.p99_ms.min(1e9),
            e.month_usd,
        )?;
    }
    w.flush()?;
    println!("  every candidate and its verdict: {}", path.display());
    Ok(())
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

/// Writes the chosen settings and the page, prints the choice, its
/// headroom and its bill; answers whether a shape was chosen.
async fn conclude(
    args: &PlanArgs,
    screen: &Screen<'_>,
    g: &Given,
    s: &Screening,
    (tried, baseline, other_end): (&[Tried], Option<&Baseline>, Option<String>),
) -> anyhow::Result<(bool, Written)> {
    let chosen = tried.iter().find(|t| t.missed.is_none());
    let mut headroom = String::from("-");
    let out = args.dir.join("settings.json");
    if let Some(t) = chosen {
        let c = &s.all[t.index].candidate;
        confirm::write_settings(&out, &c.settings(&g.base))?;
        let throttle = format!(
            "the stage throttle admits {:.2} times the peak ({}/s, the rest get 429) and ingest's {} reserved environments cover it",
            plan::throttle_headroom(c, &g.load),
            c.throttle.rate,
            c.ingest_reserved
        );
        headroom = match plan::headroom(screen, c, &g.load) {
            Some((k, reason)) => format!(
                "{throttle}; with both raised (they cost nothing), the first to break is at {k:.2} times the peak ({:.0} requests/s): {} (the screen's arithmetic)",
                g.load.peak() * k,
                reason.describe()
            ),
            None => format!("{throttle}; with both raised, nothing else breaks below 10 times the peak (the screen's arithmetic)"),
        };
        print_chosen(t, c, &out, &headroom);
    } else {
        println!(
            "\nno candidate met the targets in the sim; see the logs in {}",
            args.dir.display()
        );
    }
    let html = args.dir.join("plan.html");
    let mut page = page_of(args, g, s, tried, chosen, &headroom);
    if let Some(b) = baseline {
        page.baseline = Some((b.month_usd, &b.confirmed));
    }
    if let Some(verdict) = other_end {
        page.facts.push((
            "at the other end".into(),
            format!("the chosen shape {verdict}"),
        ));
    }
    page::write(&html, &page)?;
    println!("\nplan page: {} (open it in a browser)", html.display());
    let written = (args.json.is_some() || args.summary.is_some()).then(|| {
        let result = plan_result(
            args,
            s,
            tried,
            chosen.map(|t| (t, out.as_path())),
            &headroom,
        );
        (result, args.json.clone(), args.summary.clone())
    });
    Ok((chosen.is_some(), written))
}

/// The plan as a result (`--json`): the chosen candidate's run, with every
/// confirming run's metrics and verdict.
fn plan_result(
    args: &PlanArgs,
    s: &Screening,
    tried: &[Tried],
    chosen: Option<(&Tried, &std::path::Path)>,
    headroom: &str,
) -> RunResult {
    let mut r = match chosen {
        Some((t, _)) => t.confirmed.outcome.clone(),
        None => RunResult::new("plan", Some(args.seed)),
    };
    r.command = "plan".into();
    r.passed = chosen.is_some();
    r.plan = Some(PlanReport {
        chosen: chosen.map(|(_, out)| out.display().to_string()),
        chosen_shape: chosen.map(|(t, _)| s.all[t.index].candidate.describe()),
        headroom: headroom.to_owned(),
        confirmed: tried
            .iter()
            .map(|t| Confirmation {
                name: t.confirmed.settings.display().to_string(),
                shape: s.all[t.index].candidate.describe(),
                settings: t.confirmed.settings.display().to_string(),
                model: args.model.as_str().to_owned(),
                passed: t.missed.is_none(),
                missed: t.missed.clone(),
                metrics: t.confirmed.outcome.metrics.clone(),
            })
            .collect(),
    });
    r
}

fn print_chosen(t: &Tried, c: &space::Candidate, out: &std::path::Path, headroom: &str) {
    println!("\nchosen: {}", c.describe());
    println!("  settings: {}", out.display());
    println!("  headroom: {headroom}");
    if let Some(b) = &t.confirmed.outcome.bill {
        println!(
            "  its run's bill ${:.4} ({:.0} s of the stack); idle month ${:.2}; per million orders {}",
            b.total,
            b.seconds,
            b.idle_month,
            b.per_million.map_or("-".into(), |m| format!("${m:.2}"))
        );
        for l in b.lines.iter().filter(|l| l.usd > 0.0) {
            println!("    {:<16} {:<44} ${:.6}", l.service, l.item, l.usd);
        }
    }
    let from_pulumi = match out.is_absolute() {
        true => out.display().to_string(),
        false => format!("../{}", out.display()),
    };
    println!(
        "  run it again: sim --topology lambda --settings {}\n  deploy it: cd pulumi && pulumi config set settingsFile {from_pulumi}",
        out.display()
    );
}

/// What a plan was made for, one line each, for its page.
fn facts_of(args: &PlanArgs, g: &Given, s: &Screening) -> Vec<(String, String)> {
    vec![
        (
            "load".into(),
            format!(
                "{} ({:.0} requests/s at the peak)",
                g.load.profile.describe(),
                g.load.peak()
            ),
        ),
        (
            "targets".into(),
            format!(
                "{}, inside the connection budget",
                targets_of(args)
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (
            "model".into(),
            format!(
                "{} end of deploy/model.json{}",
                args.model.as_str(),
                if args.aws.multi_az { ", Multi-AZ" } else { "" }
            ),
        ),
        (
            "prices".into(),
            format!(
                "{}, read {}; a month is the stack idle plus {} sales",
                args.aws.region, g.prices.read, args.sales_per_month
            ),
        ),
        (
            "screened".into(),
            format!("{} candidates, {} shapes kept", s.all.len(), s.ranked.len()),
        ),
    ]
}

fn page_of<'a>(
    args: &PlanArgs,
    g: &Given,
    s: &Screening,
    tried: &'a [Tried],
    chosen: Option<&'a Tried>,
    headroom: &str,
) -> PlanPage<'a> {
    let month = |i: usize| s.all[i].estimate.month_usd;
    let label = |i: usize| {
        let c = &s.all[i].candidate;
        format!(
            "{}, batches of {} at most {} at once",
            c.class, c.processor.batch_size, c.processor.maximum_concurrency
        )
    };
    // One point per class and processor mapping: the frontier, each class
    // a band of cost, each mapping its speed.
    let mut points: Vec<Point> = plan::distinct(s)
        .into_iter()
        .map(|i| Point {
            label: label(i),
            month_usd: month(i),
            p99_ms: s.all[i].estimate.p99_ms,
            confirmed: false,
            chosen: false,
        })
        .collect();
    points.extend(tried.iter().map(|t| Point {
        label: label(t.index),
        month_usd: month(t.index),
        p99_ms: t.confirmed.outcome.p99_ms() as f64,
        confirmed: true,
        chosen: chosen.is_some_and(|c| c.index == t.index),
    }));
    PlanPage {
        title: format!(
            "orderflow plan: {} requests over {} s",
            g.load.orders, g.load.duration
        ),
        facts: facts_of(args, g, s),
        points,
        target_p99_ms: p99_target_ms(&targets_of(args)),
        chosen: chosen.map(|t| (s.all[t.index].candidate.describe(), &t.confirmed)),
        headroom: headroom.to_owned(),
        baseline: None,
        dropped: plan::dropped_by_reason(&s.all).into_iter().collect(),
        confirmed: tried
            .iter()
            .map(|t| {
                (
                    s.all[t.index].candidate.describe(),
                    &t.confirmed,
                    t.missed.clone(),
                )
            })
            .collect(),
    }
}
