//! Collecting what a run left behind, for the invariant checks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engine::domain::ProductId;
use engine::events::OrderProcessed;
use engine::harness::faults::{FaultKind, Faults};
use engine::harness::Harness;
use engine::notifier::{LogNotifier, Notifier};
use engine::queue::Message;
use engine::store::StoreAdmin;

use crate::invariants::Facts;
use crate::load::{Kind, Sent};

/// Counts notifications per order, so the run can check that each finished
/// order was notified exactly once, then dispatches them as the deployed
/// notifier does (a log line: the console filters it out, the deployed
/// shape's bill counts its bytes).
#[derive(Default)]
pub struct CountingNotifier(Mutex<HashMap<String, u32>>);

#[async_trait]
impl Notifier for CountingNotifier {
    async fn dispatch(&self, event: &OrderProcessed) {
        {
            let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
            *counts.entry(event.order_id.to_string()).or_default() += 1;
        }
        LogNotifier.dispatch(event).await;
    }
}

impl CountingNotifier {
    fn counts(&self) -> HashMap<String, u32> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The order ids of the messages in a DLQ (undecodable ones have none).
pub fn order_ids_in(dlq: &[Message]) -> HashSet<String> {
    dlq.iter()
        .filter_map(|m| orderflow_client::order_id_in(&m.body))
        .collect()
}

/// How many messages in a DLQ no consumer can decode.
pub fn undecodable_in(dlq: &[Message]) -> usize {
    dlq.iter()
        .filter(|m| engine::processor::decode_order_created(&m.body).is_err())
        .count()
}

/// What the run did besides the load: the scenarios' accepted orders, and
/// the faults injected.
pub struct RunRecord<'a> {
    pub initial: &'a BTreeMap<ProductId, i64>,
    pub run_start: DateTime<Utc>,
    pub sent: &'a [Sent],
    pub scenario_ids: &'a [String],
    /// 202 answers the scenarios got (happy path, its duplicate, insufficient stock).
    pub scenario_accepts: u64,
    /// 400 answers the scenarios got (the validation scenario).
    pub scenario_refusals: u64,
    pub faults: &'a Faults,
    /// Whether the database was stopped mid-run.
    pub db_outage: bool,
    /// What the DLQs hold at the end.
    pub order_dlq: &'a [Message],
    pub processed_dlq: &'a [Message],
}

pub async fn gather(
    store: &dyn StoreAdmin,
    harness: &Harness,
    notifier: &CountingNotifier,
    r: RunRecord<'_>,
) -> anyhow::Result<Facts> {
    let finished = store.orders_processed_since(r.run_start).await?;
    let inventory = store.inventory().await?;
    let answered_202 = r.sent.iter().filter(|s| s.status == 202);
    let mut accepted: HashSet<String> = r.scenario_ids.iter().cloned().collect();
    accepted.extend(answered_202.clone().filter_map(|s| s.order_id.clone()));
    let duplicate_mismatches = r
        .sent
        .iter()
        .filter(|s| s.kind == Kind::Duplicate && s.status == 202)
        .filter_map(|s| {
            // An original that was refused (a throttle's 429 after every
            // retry) has no id to compare with: its repeat is then the
            // first submission.
            let original = s
                .repeats
                .and_then(|i| r.sent.get(i))
                .filter(|o| o.status == 202)?
                .order_id
                .clone();
            (original != s.order_id)
                .then(|| format!("duplicate got {:?}, original {:?}", s.order_id, original))
        })
        .collect();
    let invalid = r.sent.iter().filter(|s| s.kind == Kind::Invalid);
    // What ingest published, counted before the faults add their copies.
    let enqueued = harness.enqueued();
    let mut awaiting_redrive = order_ids_in(r.order_dlq);
    let dead_lettered = awaiting_redrive.clone();
    awaiting_redrive.extend(order_ids_in(r.processed_dlq));
    Ok(Facts {
        initial: r.initial.clone(),
        inventory,
        finished,
        accepted_answers: r.scenario_accepts + answered_202.count() as u64,
        accepted,
        dead_lettered,
        awaiting_redrive,
        duplicate_mismatches,
        notified: notifier.counts(),
        repeats_possible: r.db_outage || r.faults.plan().rate(FaultKind::KilledConnection) > 0.0,
        enqueued,
        invalid_sent: r.scenario_refusals + invalid.clone().count() as u64,
        invalid_refused: r.scenario_refusals
            + invalid.filter(|s| (400..500).contains(&s.status)).count() as u64,
    })
}
