//! A run's outcome as JSON (`sim run --json PATH`): the figures a plan's
//! targets are checked against, and the bill. `sim plan` runs each
//! candidate it confirms as `sim run --json` and reads this back.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::bill::Summary;

/// What a run showed, in the terms of a plan's targets.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// The run's verdict: every scenario and invariant held, the queues
    /// drained, every request got the answer it should.
    pub passed: bool,
    pub seed: u64,
    /// Requests answered 202.
    pub accepted: u64,
    /// Requests that never got the answer they should, after the client's
    /// retries: refused customers.
    pub refused: usize,
    /// Accept-to-processed latency of the finished orders, ms.
    pub p50_ms: i64,
    pub p99_ms: i64,
    pub order_dlq: usize,
    pub processed_dlq: usize,
    pub drained: bool,
    /// The deployed shape's figures (zero with the local topology).
    pub throttled_429: u64,
    pub answered_500: u64,
    pub connections_refused: u64,
    /// Most database connections open at once (a sample every 250 ms).
    pub connections_peak: u64,
    pub bill: Option<Bill>,
}

/// A run's bill, owned, for JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Bill {
    pub region: String,
    pub read: String,
    pub seconds: f64,
    pub total: f64,
    pub per_million: Option<f64>,
    pub idle_month: f64,
    pub lines: Vec<BillLine>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BillLine {
    pub service: String,
    pub item: String,
    pub quantity: f64,
    pub unit: String,
    pub usd: f64,
    pub fixed: bool,
}

impl Bill {
    pub fn of(s: &Summary) -> Bill {
        Bill {
            region: s.region.clone(),
            read: s.read.clone(),
            seconds: s.seconds,
            total: s.total,
            per_million: s.per_million,
            idle_month: s.idle_month,
            lines: s
                .lines
                .iter()
                .map(|l| BillLine {
                    service: l.service.to_owned(),
                    item: l.item.clone(),
                    quantity: l.quantity,
                    unit: l.unit.to_owned(),
                    usd: l.usd,
                    fixed: l.fixed,
                })
                .collect(),
        }
    }
}

impl Outcome {
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        super::write_file(path, &(serde_json::to_string_pretty(self)? + "\n"))
    }

    pub fn read(path: &Path) -> anyhow::Result<Outcome> {
        let text = std::fs::read_to_string(path)?;
        Ok(serde_json::from_str(&text)?)
    }
}
