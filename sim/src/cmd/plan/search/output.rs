//! What the plan says and writes once it has searched: the screen's
//! summary and its table of candidates, the choice with its headroom, the
//! chosen settings, the result and the page.

use super::*;

/// The screen's summary: how many candidates, why each dropped one went,
/// and the cheapest kept.
pub(super) fn print_screening(s: &Screening, secs: f64) {
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
pub(super) fn write_csv(args: &PlanArgs, s: &Screening) -> anyhow::Result<()> {
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

/// Writes the chosen settings and the page, prints the choice, its
/// headroom and its bill; answers whether a shape was chosen.
pub(super) async fn conclude(
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
