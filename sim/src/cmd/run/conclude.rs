//! The end of a run: gather what it left, check the invariants, make the
//! result (one value: [`RunResult`]), stop the pipeline, print the report,
//! write the page; then the JSON and the Markdown summary, if asked.

use std::collections::BTreeMap;
use std::time::Duration;

use engine::app::Stopped;
use engine::config::QueueKind;
use engine::domain::{OrderRecord, OrderStatus};
use engine::harness::faults::FaultKind;
use engine::store::OpenedStore;
use orderflow_client::Latencies;

use std::sync::Arc;

#[cfg(feature = "aws")]
use engine::app::App;
#[cfg(feature = "aws")]
use engine::dlq;
use engine::domain::ProductId;

use super::{Loaded, RunArgs, Started};
use crate::gather::{self, RunRecord};
use crate::invariants::{self, Check};
use crate::load;
use crate::load::measure::{self, LoadReport, Percentiles, ReadsReport};
use crate::report::result::{
    settings_ref, CheckRow, PipelineReport, ProfileSetup, RunResult, Setup, StockRow,
};
#[cfg(feature = "aws")]
use crate::report::shape::DlqCauses;
#[cfg(feature = "aws")]
use crate::report::shape::{OutageRow, ShapeReport};
use crate::report::{self, faults, html};

impl Started {
    /// Gathers the facts, checks the invariants, makes the result, stops
    /// the pipeline, prints the report and writes its page.
    pub(super) async fn conclude(
        self,
        args: &RunArgs,
        scenarios: Vec<Check>,
        scenario_ids: &[String],
        load: Loaded,
    ) -> anyhow::Result<RunResult> {
        let order_dlq = peek_all(self.app.queues.order_dlq.as_ref()).await?;
        let processed_dlq = peek_all(self.app.queues.processed_dlq.as_ref()).await?;
        let record = RunRecord {
            initial: &self.initial,
            run_start: self.run_start,
            sent: &load.sends.orders,
            scenario_ids,
            scenario_accepts: 3,
            scenario_refusals: 1,
            faults: &self.faults,
            db_outage: args.db_outage.is_some(),
            order_dlq: &order_dlq,
            processed_dlq: &processed_dlq,
        };
        let admin = self.store.admin();
        let facts = gather::gather(&*admin, &self.harness, &self.notifier, record).await?;
        let invariants = invariants::check(&facts);
        let mut result = RunResult::new("run", Some(self.seed));
        result.setup = self.setup(args);
        result.load = Some(LoadReport::of(&load.sends));
        result.reads = Some(ReadsReport::of(&load.sends));
        let mut pipeline = pipeline_report(
            &facts.finished,
            &load,
            (order_dlq.len(), processed_dlq.len()),
        );
        pipeline.duplicates_answered = self.app.metrics.duplicate_deliveries.get();
        pipeline.store_retries = self.app.metrics.store_retries.get();
        pipeline.undecodable_receives = self.app.metrics.poison_messages.get();
        pipeline.hot_stock = facts
            .inventory
            .iter()
            .filter(|i| {
                crate::load::HOT
                    .iter()
                    .any(|(h, _)| *h == i.product_id.as_str())
            })
            .map(|i| StockRow {
                product_id: i.product_id.to_string(),
                from: self.initial.get(&i.product_id).copied(),
                to: i.quantity_available,
            })
            .collect();
        result.pipeline = Some(pipeline);
        #[cfg(feature = "aws")]
        self.shape_part(args, &load, &mut result).await?;
        let poison = gather::undecodable_in(&order_dlq);
        let mysql = matches!(self.store, OpenedStore::MySql(_));
        result.faults = faults::rows(&self.faults, &self.app.metrics, poison, mysql);
        result.checks = checks(&scenarios, &invariants, &result);
        result.derive_metrics();
        #[cfg(feature = "aws")]
        self.write_observed(args, &load, &result)?;
        result.judge(&args.sale.targets, args.pipeline.shape.is_lambda());
        if let Some(why) = result.shape.as_ref().and_then(|s| s.host.no_verdict()) {
            result.withhold(why);
        }
        report::print(&result);
        if !args.no_html {
            self.write_page(args, &load, &facts.finished, &result);
        }
        report::print_verdict(&result);
        self.stop(args).await;
        Ok(result)
    }

    /// The deployed shape's part of the result, its outage and its bill.
    #[cfg(feature = "aws")]
    async fn shape_part(
        &self,
        args: &RunArgs,
        load: &Loaded,
        result: &mut RunResult,
    ) -> anyhow::Result<()> {
        let Some(shape) = &self.shape else {
            return Ok(());
        };
        let causes = dlq_causes(&self.app).await?;
        let mut report = ShapeReport::of(shape, &load.shape_samples, Some(&causes));
        report.outage = args
            .db_outage
            .map(|secs| OutageRow::of(args.db_outage_at, secs as f64, &load.shape_samples));
        result.shape = Some(report);
        let accepted = load.sends.orders.iter().filter(|s| s.status == 202).count() as u64;
        match report::bill::summary(shape, accepted) {
            Ok(bill) => result.bill = Some(bill),
            Err(e) => println!("\nbill: {e}"),
        }
        Ok(())
    }

    /// The observed file (`--observed`): what AWS would have shown.
    #[cfg(feature = "aws")]
    fn write_observed(
        &self,
        args: &RunArgs,
        load: &Loaded,
        result: &RunResult,
    ) -> anyhow::Result<()> {
        let (Some(path), Some(shape)) = (&args.observed, &self.shape) else {
            return Ok(());
        };
        let sale = crate::observed::Sale {
            profile: args.sale.profile.name.clone(),
            requests: args.sale.orders(),
            duration_secs: args.sale.duration(),
            seed: self.seed,
            multi_az: shape.multi_az,
            failover: args.db_outage.map(|secs| crate::observed::Failover {
                at_secs: args.db_outage_at,
                lasted_secs: secs as f64,
            }),
            settings: shape.settings.clone(),
        };
        let observed = crate::observed::from_run::observed(
            shape,
            &load.shape_samples,
            (load.load_started, load.load_start),
            sale,
            result.metrics.clone(),
        );
        observed.write(path)?;
        println!(
            "
observed file (what CloudWatch would hold): {}",
            path.display()
        );
        Ok(())
    }

    /// What the run was made with.
    fn setup(&self, args: &RunArgs) -> Setup {
        let lambda = args.pipeline.shape.is_lambda();
        Setup {
            topology: if lambda { "lambda" } else { "local" }.into(),
            store: self.store_label.clone(),
            queues: match (args.pipeline.config.queue, lambda) {
                (_, true) => "in-process channels behind emulated SQS event source mappings, invoking the Lambda handlers (--topology lambda)",
                (QueueKind::Channel, false) => "in-process channels",
                (QueueKind::Sqs, false) => "SQS",
            }
            .into(),
            profile: Some(ProfileSetup {
                name: args.sale.profile.name.clone(),
                requests: args.sale.orders(),
                duration_secs: args.sale.duration(),
                description: args.sale.profile.describe(),
            }),
            settings: lambda.then(|| settings_ref(args.pipeline.shape.settings.as_deref())),
            model: lambda.then(|| match &args.pipeline.shape.aws.model_file {
                Some(f) => format!("{} end of {}", args.pipeline.shape.model.as_str(), f.display()),
                None => format!("{} end of deploy/model.json", args.pipeline.shape.model.as_str()),
            }),
            multi_az: lambda && args.pipeline.shape.aws.multi_az,
            region: lambda.then(|| args.pipeline.shape.aws.region.clone()),
            faults: faults_text(&self.faults),
        }
    }

    /// Stops the pipeline: the queues drained above (or the run failed for
    /// it); the graceful stop drains once more, for as long as a drain may
    /// take.
    async fn stop(self, args: &RunArgs) {
        let limit = tokio::time::sleep(Duration::from_secs(args.drain_timeout));
        if let Stopped::Abandoned(left) = self.app.shutdown(|_| {}, limit).await {
            println!(
                "  stopped with {} orders unprocessed and {} notifications unsent",
                left.orders, left.notifications
            );
        }
        if let Some(shape) = &self.shape {
            shape.stop().await;
        }
    }

    /// The report as one HTML page, at `--html`.
    fn write_page(
        &self,
        args: &RunArgs,
        load: &Loaded,
        finished: &[OrderRecord],
        result: &RunResult,
    ) {
        let hot: Vec<String> = hot_products()
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        let page = html::Page {
            title: format!("orderflow sim, seed {}", self.seed),
            result,
            load_start: load.load_start,
            finished,
            samples: &load.samples,
            hot: &hot,
            shape: &load.shape_samples,
        };
        match html::write(&args.html, &page) {
            Ok(()) => println!("\nreport: {} (open it in a browser)", args.html.display()),
            Err(e) => println!("\nreport: could not write the HTML page: {e:#}"),
        }
    }
}

fn faults_text(faults: &engine::harness::faults::Faults) -> String {
    let on: Vec<String> = FaultKind::ALL
        .iter()
        .filter(|k| faults.plan().rate(**k) > 0.0)
        .map(|k| format!("{k}={}", faults.plan().rate(*k)))
        .collect();
    match on.is_empty() {
        true => "none".into(),
        false => on.join(","),
    }
}

fn pipeline_report(
    finished: &[OrderRecord],
    load: &Loaded,
    dlqs: (usize, usize),
) -> PipelineReport {
    let processed = finished
        .iter()
        .filter(|o| o.status == OrderStatus::Processed)
        .count();
    let mut failure_reasons: BTreeMap<String, u64> = BTreeMap::new();
    for o in finished.iter().filter(|o| o.status == OrderStatus::Failed) {
        *failure_reasons
            .entry(o.failure_reason.map_or("-", |r| r.as_str()).to_owned())
            .or_default() += 1;
    }
    let latencies = Latencies::of(finished.iter().map(|o| (o.created_at, o.processed_at)));
    let drain = load.drain_time.as_secs_f64().max(1e-9);
    PipelineReport {
        finished: finished.len(),
        processed,
        failed: finished.len() - processed,
        failure_reasons,
        throughput: finished.len() as f64 / drain,
        drain_secs: drain,
        drained: load.drained,
        accept_to_processed_ms: Percentiles::of(
            latencies.sorted().iter().map(|ms| *ms as f64).collect(),
        ),
        order_dlq: dlqs.0,
        processed_dlq: dlqs.1,
        ..PipelineReport::default()
    }
}

/// The scenarios, the invariants, and the run's own conditions: the client
/// kept its schedule, the queues drained, every request got its answer.
fn checks(scenarios: &[Check], invariants: &[Check], result: &RunResult) -> Vec<CheckRow> {
    let row = |group: &str, c: &Check| CheckRow {
        group: group.into(),
        name: c.name.into(),
        passed: c.passed,
        detail: c.detail.clone(),
    };
    let mut rows: Vec<CheckRow> = scenarios.iter().map(|c| row("scenario", c)).collect();
    rows.extend(invariants.iter().map(|c| row("invariant", c)));
    let mut run = |name: &str, passed: bool, detail: String| {
        rows.push(CheckRow {
            group: "run".into(),
            name: name.into(),
            passed,
            detail,
        })
    };
    if let Some(l) = result.load.as_ref().filter(|l| l.open_loop) {
        run(
            "the client kept its schedule",
            l.kept_up,
            format!(
                "requests went out late by p99 {:.1} ms (at most {:.0} ms allowed), {:.1} % of the planned peak offered",
                l.send_lag_ms.p99,
                measure::MAX_SEND_LAG_P99_MS,
                l.offered.unwrap_or(0.0) * 100.0
            ),
        );
    }
    if let Some(p) = &result.pipeline {
        run(
            "the queues drained",
            p.drained,
            format!("{:.2} s from the first load request", p.drain_secs),
        );
    }
    if let Some(l) = &result.load {
        run(
            "every request got the answer it should",
            l.refused == 0,
            format!("{} did not, after the client's retries", l.refused),
        );
    }
    rows
}

/// What the DLQs hold, by the last error of each message.
#[cfg(feature = "aws")]
pub(crate) async fn dlq_causes(app: &App) -> anyhow::Result<DlqCauses> {
    let mut why = DlqCauses::new();
    for q in app.queues.dead_letters() {
        for l in dlq::list(&q, &app.failures, usize::MAX).await? {
            let cause = l.last_error.unwrap_or_else(|| "unknown".into());
            *why.entry(format!("{}: {cause}", q.name)).or_default() += 1;
        }
    }
    Ok(why)
}

/// The load's hot products, whose stock the report follows.
pub(crate) fn hot_products() -> Vec<ProductId> {
    load::products()
        .into_iter()
        .map(|p| p.product_id)
        .filter(|p| load::HOT.iter().any(|(h, _)| *h == p.as_str()))
        .collect()
}

/// Every message in a DLQ (none where there is no DLQ).
pub(crate) async fn peek_all(
    dlq: Option<&Arc<dyn engine::queue::QueueBackend>>,
) -> anyhow::Result<Vec<engine::queue::Message>> {
    match dlq {
        Some(q) => Ok(q.peek(usize::MAX).await?),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose client fell behind its schedule fails, whatever else
    /// held: its figures describe a lighter load than it claims.
    #[test]
    fn a_run_whose_client_fell_behind_fails() {
        let mut result = RunResult::new("run", Some(1));
        result.load = Some(LoadReport {
            open_loop: true,
            kept_up: false,
            offered: Some(0.4),
            ..LoadReport::default()
        });
        result.checks = checks(&[], &[], &result);
        result.derive_metrics();
        result.judge(&[], false);
        assert!(!result.passed);
        let miss = result.first_miss().unwrap();
        assert!(miss.starts_with("the client kept its schedule"), "{miss}");
    }
}
