//! The sim's own doings and checks in a running rehearsal ([`Action`]):
//! each answers what went wrong, which fails its step.

mod http;
mod watch;

use serde_json::Value;

use super::actions::{self, Action, FUNCTIONS, OUTPUTS};
use super::run::Ctx;

/// Does or checks `action`.
pub async fn act(ctx: &mut Ctx, action: &Action) -> Result<(), String> {
    match action {
        Action::ZipsThere { architecture } => zips_there(ctx, architecture),
        Action::Outputs => outputs(ctx),
        Action::Applied => {
            watch::logged(ctx, None, actions::APPLIED_PATTERN, "migrations applied").await
        }
        Action::RanAgain => {
            let since = ctx.vars.get("redeploy_start_ms").cloned();
            watch::logged(
                ctx,
                since.as_deref(),
                actions::STARTED_PATTERN,
                "an invocation since the redeploy began",
            )
            .await
        }
        Action::WriteStock => write_stock(ctx),
        Action::Answered {
            invoke,
            answer,
            says,
        } => answered(ctx, invoke, answer, says),
        Action::Token => http::token(ctx).await,
        Action::Order { token, expect, .. } => http::order(ctx, *token, *expect).await,
        Action::Mark { var, millis } => {
            let now = chrono::Utc::now();
            let value = match millis {
                true => now.timestamp_millis().to_string(),
                false => now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            };
            ctx.say(&format!("  {{{var}}} = {value}"));
            ctx.vars.insert((*var).to_owned(), value);
            Ok(())
        }
        Action::Drained { at_most_mins } => watch::drained(ctx, *at_most_mins).await,
        Action::OnlyMigrateChanged { events } => watch::only_migrate_changed(ctx, events),
        Action::Window => window(ctx),
        Action::NewVersion => match (ctx.vars.get("new_version"), ctx.vars.get("live_version")) {
            (Some(new), Some(live)) if new != live => Ok(()),
            (new, live) => Err(format!(
                "publish-version answered {new:?} with live at {live:?}: no new version to move the alias to \
                 (Lambda saw no change of the function)"
            )),
        },
        Action::BillLater => {
            bill_later(ctx);
            Ok(())
        }
    }
}

fn read_json(ctx: &Ctx, name: &str) -> Result<Value, String> {
    let path = ctx.paths.out.join(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{name} is not JSON: {e}"))
}

fn zips_there(ctx: &Ctx, architecture: &str) -> Result<(), String> {
    let zips = ctx.paths.out.join("zips");
    for f in ["ingest", "processor", "notifier", "migrate"] {
        let zip = zips.join(f).join("bootstrap.zip");
        if !zip.is_file() {
            return Err(format!("no {}", zip.display()));
        }
    }
    let manifest = read_json(ctx, "zips/manifest.json")?;
    match manifest.get("architecture").and_then(Value::as_str) {
        Some(a) if a == architecture => Ok(()),
        built => Err(format!(
            "the zips were built for {}, and the settings file deploys {architecture}: rebuild them",
            built.unwrap_or("no architecture")
        )),
    }
}

/// outputs.json: every output the rehearsal reads, kept as `{name}`; the
/// function names as `{<function>_function}`; the client's secret in
/// memory only.
fn outputs(ctx: &mut Ctx) -> Result<(), String> {
    let out = read_json(ctx, "outputs.json")?;
    let missing: Vec<&str> = OUTPUTS
        .iter()
        .copied()
        .filter(|k| out.get(k).and_then(Value::as_str).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!("outputs.json lacks {}", missing.join(", ")));
    }
    for key in OUTPUTS.iter().filter(|k| **k != "rehearsal_client_secret") {
        let value = out[key].as_str().unwrap_or_default().to_owned();
        ctx.vars.insert((*key).to_owned(), value);
    }
    ctx.client_secret = out["rehearsal_client_secret"].as_str().map(str::to_owned);
    for f in FUNCTIONS {
        let name = out
            .get("function_names")
            .and_then(|n| n.get(f))
            .and_then(Value::as_str);
        let name = name.ok_or_else(|| format!("outputs.json's function_names lacks {f}"))?;
        ctx.vars.insert(format!("{f}_function"), name.to_owned());
    }
    ctx.say(&format!(
        "  the API: {}; the database: {}",
        ctx.vars["api_endpoint"], ctx.vars["db_instance_id"]
    ));
    Ok(())
}

fn write_stock(ctx: &mut Ctx) -> Result<(), String> {
    let stock = serde_json::json!({ "stock": crate::load::products() });
    let path = ctx.paths.out.join("stock.json");
    std::fs::write(&path, stock.to_string())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The hand invocation answered: no FunctionError in what aws said of it,
/// and a line of its answer saying `says`.
fn answered(ctx: &mut Ctx, invoke: &str, answer: &str, says: &str) -> Result<(), String> {
    let said = read_json(ctx, invoke)?;
    if let Some(error) = said.get("FunctionError") {
        let answer = std::fs::read_to_string(ctx.paths.out.join(answer)).unwrap_or_default();
        return Err(format!("the migrate function failed ({error}): {answer}"));
    }
    let done = read_json(ctx, answer)?;
    let lines: Vec<&str> = done
        .get("done")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match lines.iter().find(|l| l.contains(says)) {
        Some(line) => {
            ctx.say(&format!("  the migrate function: {line}"));
            Ok(())
        }
        None => Err(format!(
            "the migrate function did not say `{says}`: it said {lines:?}"
        )),
    }
}

/// window.json: the load's start (the visitors' browsing begins, then
/// the sale opens `browse_secs` later) and the drain's end, RFC 3339; the
/// failover's second counts from the sale's opening.
fn window(ctx: &mut Ctx) -> Result<(), String> {
    let s = &ctx.setup;
    let window = serde_json::json!({
        "start": ctx.vars.get("sale_start"),
        "end": ctx.vars.get("sale_end"),
        "browse_secs": s.browse_secs(),
        "failover_at_secs": s.failover_at,
        "profile": s.args.profile,
        "requests": s.args.requests,
        "duration_secs": s.args.duration,
    });
    let path = ctx.paths.out.join("window.json");
    std::fs::write(&path, format!("{window:#}\n"))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The Cost Explorer query for the sale's day and how to feed it to
/// collect: the bill lags about a day, and the `stack` tag must be active
/// as a cost allocation tag (Billing, Cost allocation tags) before it
/// filters anything.
fn bill_later(ctx: &mut Ctx) {
    let start = ctx.vars.get("sale_start").cloned().unwrap_or_default();
    let day = start.get(..10).unwrap_or("YYYY-MM-DD").to_owned();
    let next = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .map_or("<the next day>".to_owned(), |d| d.to_string());
    let (stack, out) = (
        ctx.setup.args.stack.clone(),
        ctx.paths.out.display().to_string(),
    );
    ctx.say(&format!(
        "  the bill: Cost Explorer has the day about a day later ($0.01 a request). With the `stack` tag active as a \
         cost allocation tag, run then:\n    aws ce get-cost-and-usage --time-period Start={day},End={next} \
         --granularity DAILY --metrics UnblendedCost --filter '{{\"Tags\":{{\"Key\":\"stack\",\"Values\":[\"{stack}\"]}}}}' \
         > {out}/bill.json\n    and sim collect again with --bill {out}/bill.json"
    ));
}
