//! The checks that wait for AWS or read what it did: the migrate
//! function's log, the queues draining, pulumi's events of a redeploy.

use std::time::Duration;

use serde_json::Value;

use super::super::actions;
use super::super::preflight::interrupted;
use super::super::run::Ctx;

/// The migrate log group has an event matching `pattern` (since
/// `since_ms`), looked for again every few seconds for a few minutes.
pub async fn logged(
    ctx: &mut Ctx,
    since_ms: Option<&str>,
    pattern: &str,
    what: &str,
) -> Result<(), String> {
    let argv = actions::log_events(&ctx.setup.args.region, since_ms, pattern);
    let tries = (actions::LOG_POLL_MINS * 60.0 / actions::LOG_POLL_SECS as f64) as usize;
    for _ in 0..tries.max(1) {
        let answer: Value = serde_json::from_str(&ctx.capture(&argv).await?)
            .map_err(|e| format!("filter-log-events: {e}"))?;
        let events = answer
            .get("events")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if events > 0 {
            ctx.say(&format!("  the migrate log: {events} events ({what})"));
            return Ok(());
        }
        if interrupted() {
            return Err("interrupted".into());
        }
        tokio::time::sleep(Duration::from_secs(actions::LOG_POLL_SECS)).await;
    }
    Err(format!(
        "the migrate function's log shows no {what} within {:.0} minutes",
        actions::LOG_POLL_MINS
    ))
}

/// One reading of a queue: its messages visible, in flight and delayed.
async fn depth(ctx: &mut Ctx, queue: &str) -> Result<u64, String> {
    let argv = actions::queue_attributes(&ctx.setup.args.region, &format!("{{{queue}}}"));
    let answer: Value = serde_json::from_str(&ctx.capture(&argv).await?)
        .map_err(|e| format!("get-queue-attributes: {e}"))?;
    let attributes = answer
        .get("Attributes")
        .ok_or("get-queue-attributes answered no Attributes")?;
    Ok(attributes
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| v.as_str().and_then(|n| n.parse::<u64>().ok()))
        .sum())
}

/// The order and processed queues empty in two readings running, the
/// DLQs empty at every reading.
pub async fn drained(ctx: &mut Ctx, at_most_mins: f64) -> Result<(), String> {
    let every = Duration::from_secs(actions::QUEUE_POLL_SECS);
    let readings = (at_most_mins * 60.0 / every.as_secs_f64()).ceil() as usize;
    let mut empty_before = false;
    for _ in 0..readings.max(2) {
        let mut left = Vec::new();
        for queue in [
            "order_queue_url",
            "processed_queue_url",
            "order_dlq_url",
            "processed_dlq_url",
        ] {
            left.push((queue, depth(ctx, queue).await?));
        }
        let dead: Vec<String> = left
            .iter()
            .filter(|(q, n)| q.contains("dlq") && *n > 0)
            .map(|(q, n)| format!("{n} in {{{q}}}"))
            .collect();
        if !dead.is_empty() {
            return Err(format!(
                "dead letters: {} (read them with aws sqs receive-message)",
                dead.join(", ")
            ));
        }
        let waiting: u64 = left.iter().map(|(_, n)| n).sum();
        ctx.say(&format!("  queues: {waiting} messages left"));
        if waiting == 0 && empty_before {
            return Ok(());
        }
        empty_before = waiting == 0;
        if interrupted() {
            return Err("interrupted".into());
        }
        tokio::time::sleep(every).await;
    }
    Err(format!(
        "the queues did not drain within {at_most_mins:.0} minutes"
    ))
}

/// pulumi up's JSON events: every resource an operation other than
/// `same` (or a read) touched is the migrate function or its step.
pub fn only_migrate_changed(ctx: &mut Ctx, events: &str) -> Result<(), String> {
    let path = ctx.paths.out.join(events);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let changed = changed_resources(&text);
    let allowed = |(ty, urn): &(String, String)| {
        urn.ends_with("::orderflow-migrate")
            && (ty == "aws:lambda/function:Function" || ty == "aws:lambda/invocation:Invocation")
    };
    let others: Vec<String> = changed
        .iter()
        .filter(|r| !allowed(r))
        .map(|(ty, urn)| format!("{ty} {urn}"))
        .collect();
    let kinds: std::collections::BTreeSet<&str> = changed
        .iter()
        .filter(|r| allowed(r))
        .map(|(ty, _)| ty.as_str())
        .collect();
    if !others.is_empty() {
        return Err(format!("pulumi up also changed: {}", others.join("; ")));
    }
    if kinds.len() != 2 {
        return Err(format!(
            "pulumi up changed {kinds:?}, not both the migrate function and its step"
        ));
    }
    ctx.say("  pulumi up changed the migrate function and its step, nothing else");
    Ok(())
}

/// `(type, urn)` of each resource pulumi's JSON events (one object a
/// line) show an operation on other than `same`, a read or a refresh; the
/// stack itself and providers left out.
pub fn changed_resources(events: &str) -> Vec<(String, String)> {
    let mut changed = Vec::new();
    for line in events.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        for kind in ["resourcePreEvent", "resOutputsEvent"] {
            let Some(meta) = event.get(kind).and_then(|e| e.get("metadata")) else {
                continue;
            };
            let field = |k: &str| {
                meta.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (op, ty, urn) = (field("op"), field("type"), field("urn"));
            let quiet = matches!(op.as_str(), "same" | "read" | "refresh" | "");
            let ours = ty != "pulumi:pulumi:Stack" && !ty.starts_with("pulumi:providers:");
            if !quiet && ours && !changed.contains(&(ty.clone(), urn.clone())) {
                changed.push((ty, urn));
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redeploys_changes_are_read_from_pulumis_events() {
        let event = |kind: &str, op: &str, ty: &str, name: &str| {
            serde_json::json!({ "sequence": 1, kind: { "metadata": {
                "op": op, "type": ty, "urn": format!("urn:pulumi:rehearsal::orderflow::{ty}::{name}")
            }}})
            .to_string()
        };
        let events = [
            event(
                "resourcePreEvent",
                "same",
                "pulumi:pulumi:Stack",
                "orderflow-rehearsal",
            ),
            event(
                "resourcePreEvent",
                "same",
                "aws:lambda/function:Function",
                "orderflow-ingest",
            ),
            event(
                "resourcePreEvent",
                "update",
                "aws:lambda/function:Function",
                "orderflow-migrate",
            ),
            event(
                "resOutputsEvent",
                "update",
                "aws:lambda/function:Function",
                "orderflow-migrate",
            ),
            event(
                "resourcePreEvent",
                "replace",
                "aws:lambda/invocation:Invocation",
                "orderflow-migrate",
            ),
            event(
                "resourcePreEvent",
                "read",
                "aws:index/getRegion:getRegion",
                "region",
            ),
            "not JSON: a line of pulumi's own".to_owned(),
            event(
                "resourcePreEvent",
                "update",
                "pulumi:providers:aws",
                "default",
            ),
        ]
        .join("\n");
        let changed = changed_resources(&events);
        assert_eq!(
            changed,
            [
                (
                    "aws:lambda/function:Function".to_owned(),
                    "urn:pulumi:rehearsal::orderflow::aws:lambda/function:Function::orderflow-migrate".to_owned()
                ),
                (
                    "aws:lambda/invocation:Invocation".to_owned(),
                    "urn:pulumi:rehearsal::orderflow::aws:lambda/invocation:Invocation::orderflow-migrate".to_owned()
                ),
            ]
        );
        let more = format!(
            "{events}\n{}",
            event(
                "resourcePreEvent",
                "update",
                "aws:lambda/alias:Alias",
                "orderflow-ingest-live"
            )
        );
        assert_eq!(
            changed_resources(&more).len(),
            3,
            "another resource changed is seen"
        );
    }
}
