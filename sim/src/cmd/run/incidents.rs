//! What a run does to the pipeline beyond the load: a code update and a
//! database outage or failover at their seconds (`--deploy-at`,
//! `--db-outage`, `--failover`), and the redrive of what faults sent to
//! the DLQ.

use super::*;

impl Started {
    /// The code update `--deploy-at` asks for, if any.
    pub(super) async fn deploy(&self, args: &RunArgs) {
        let (Some(at), Some(shape)) = (args.deploy_at, &self.shape) else {
            return;
        };
        tokio::time::sleep(Duration::from_secs_f64(at.max(0.0))).await;
        let (share, lasting) = shape.redeploy();
        println!(
            "  deploy: a code update at {at:.1} s: warm environments replaced; the mappings {:.0} % over maximumConcurrency for {:.0} s",
            share * 100.0,
            lasting.as_secs_f64()
        );
    }

    /// The database outage `--db-outage` asks for, if any, from
    /// `--db-outage-at`: in the deployed shape a failover of the functions'
    /// path to the database, in the local one a stop of the server.
    pub(super) async fn outage(&self, args: &RunArgs) -> anyhow::Result<Option<Duration>> {
        let Some(secs) = args.db_outage else {
            return Ok(None);
        };
        tokio::time::sleep(Duration::from_secs_f64(args.db_outage_at.max(0.0))).await;
        if let Some(shape) = &self.shape {
            let outage = Duration::from_secs(secs);
            println!(
                "  failover: the database is unreachable for {secs} s (at {:.1} s), every open connection dropped",
                args.db_outage_at
            );
            shape.fail_over(outage).await;
            println!("  failover: the database answers again");
            return Ok(Some(outage));
        }
        match (args.db_outage, &self.store) {
            (Some(secs), OpenedStore::MySql(_)) => chaos::db_outage(
                &*self.app.store,
                &args.db_stop_cmd,
                &args.db_start_cmd,
                secs,
            )
            .await
            .map(Some),
            (Some(_), OpenedStore::Memory(_)) => {
                Err(anyhow::anyhow!("--db-outage needs a MySQL store"))
            }
            (None, _) => Ok(None),
        }
    }
}

/// `--failover` as the options it stands for (`--multi-az`, the model's
/// failover time from second 5), and a drain timeout long enough for the
/// orders an outage handed back to come back after it.
pub(super) fn resolve_outage(args: &mut RunArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.deploy_at.is_none() || args.pipeline.shape.is_lambda(),
        "--deploy-at is the deployed shape's: add --topology lambda"
    );
    anyhow::ensure!(
        args.observed.is_none() || args.pipeline.shape.is_lambda(),
        "--observed writes what AWS would have shown of the deployed shape: add --topology lambda"
    );
    if args.failover {
        anyhow::ensure!(
            args.pipeline.shape.is_lambda(),
            "--failover is the deployed shape's: add --topology lambda (the local topology's \
             outage is --db-outage, which stops your server)"
        );
        args.pipeline.shape.aws.multi_az = true;
        // The model's failover time (a build without `aws` never gets
        // here: it refuses --topology lambda before the run).
        #[cfg(feature = "aws")]
        if args.db_outage.is_none() {
            let model = args.pipeline.shape.model(0)?;
            args.db_outage = Some(model.v(&model.c.rds_failover_secs).round() as u64);
        }
        if args.db_outage_at == 0.0 {
            args.db_outage_at = 5.0;
        }
    }
    if let Some(secs) = args.db_outage {
        // The last hand-back before an order's final receive is 135 s.
        let needed = (args.db_outage_at.max(0.0) + secs as f64).ceil() as u64 + 240;
        if args.drain_timeout < needed {
            println!(
                "  the drain timeout is {needed} s: the outage's orders come back up to 135 s after it"
            );
            args.drain_timeout = needed;
        }
    }
    Ok(())
}

/// After a faulty run: stops the faults (the outage is over), prints what
/// the DLQs hold and why, redrives them, and waits for the queues to drain
/// again. Poison goes back to the DLQ; everything else is processed once.
pub(super) async fn redrive(app: &App, faults: &Faults, args: &RunArgs) -> anyhow::Result<()> {
    faults.stop();
    println!("  after the load (faults, if any, stopped):");
    let mut moved = 0;
    for q in app.queues.dead_letters() {
        let letters = dlq::list(&q, &app.failures, usize::MAX).await?;
        if letters.is_empty() {
            continue;
        }
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        for l in &letters {
            *why.entry(l.last_error.clone().unwrap_or_else(|| "unknown".into()))
                .or_default() += 1;
        }
        println!(
            "    {} DLQ: {} messages; last errors:",
            q.name,
            letters.len()
        );
        for (error, n) in why {
            println!("      {n:>5}  {error}");
        }
        let n = dlq::redrive(&q, usize::MAX).await?;
        moved += n;
    }
    if moved > 0 {
        println!("    redrove {moved} dead letters to their queues");
        if !app
            .wait_drained(Duration::from_secs(args.drain_timeout))
            .await
        {
            anyhow::bail!("queues did not drain after the redrive");
        }
    }
    Ok(())
}
