//! Property tests of the store contract.
//!
//! Sequentially: any sequence of orders (multi-line, random products and
//! quantities, unknown products, repeated order ids), applied in any batching,
//! gives the same statuses and stock on MySQL, in memory, and in a plain
//! reference model written independently of the engine's decision code.
//!
//! Concurrently: the same orders applied from many tasks at once to MySQL
//! keep every invariant: no oversell, conservation, all-or-nothing per order,
//! at most once per order id.
//!
//! Each MySQL property uses one database, reset between cases.

use crate::common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

use engine::domain::{FailureReason, OrderStatus};
use engine::events::OrderCreated;
use engine::store::{Applied, MemoryStore, MySqlStore, OrderStore, StoreAdmin};
use proptest::prelude::*;
use sqlx::Executor;

const PRODUCTS: [&str; 4] = ["pa", "pb", "pc", "pd"];
const UNKNOWN: &str = "ghost";

/// One order: a customer (few, so ids repeat) and its lines.
#[derive(Clone)]
struct Op {
    customer: u8,
    lines: Vec<(&'static str, u32)>,
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.lines.iter().map(|(p, q)| format!("{p}x{q}")).collect();
        write!(f, "c{}[{}]", self.customer, lines.join(" "))
    }
}

impl Op {
    fn event(&self) -> OrderCreated {
        common::order(&format!("c{}", self.customer), &self.lines)
    }
}

fn op() -> impl Strategy<Value = Op> {
    let product = prop_oneof![9 => proptest::sample::select(&PRODUCTS[..]), 1 => Just(UNKNOWN)];
    (0u8..3, proptest::collection::vec((product, 1u32..8), 1..4)).prop_map(
        |(customer, mut lines)| {
            lines.sort_by_key(|l| l.0);
            lines.dedup_by_key(|l| l.0);
            Op { customer, lines }
        },
    )
}

/// Starting stock per product, orders, and how they are cut into batches.
fn scenario() -> impl Strategy<Value = (Vec<i64>, Vec<Op>, Vec<usize>)> {
    (
        proptest::collection::vec(0i64..25, PRODUCTS.len()),
        proptest::collection::vec(op(), 1..30),
        proptest::collection::vec(1usize..6, 40),
    )
}

/// The reference: each order in turn, at most once per id, all or nothing.
type Outcomes = Vec<(OrderStatus, Option<FailureReason>, bool)>;

fn model(stock: &[i64], ops: &[Op]) -> (Outcomes, Vec<i64>) {
    let mut stock: HashMap<&str, i64> = PRODUCTS
        .iter()
        .copied()
        .zip(stock.iter().copied())
        .collect();
    let mut seen: HashMap<engine::domain::OrderId, (OrderStatus, Option<FailureReason>)> =
        HashMap::new();
    let mut out = Vec::new();
    for op in ops {
        let id = op.event().order_id;
        if let Some(&(s, r)) = seen.get(&id) {
            out.push((s, r, false));
            continue;
        }
        let outcome = if op.lines.iter().any(|(p, _)| !stock.contains_key(p)) {
            (OrderStatus::Failed, Some(FailureReason::UnknownProduct))
        } else if op.lines.iter().any(|(p, q)| stock[p] < i64::from(*q)) {
            (OrderStatus::Failed, Some(FailureReason::InsufficientStock))
        } else {
            for (p, q) in &op.lines {
                *stock.get_mut(p).unwrap() -= i64::from(*q);
            }
            (OrderStatus::Processed, None)
        };
        seen.insert(id, outcome);
        out.push((outcome.0, outcome.1, true));
    }
    (out, PRODUCTS.iter().map(|p| stock[p]).collect())
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// One MySQL database for all cases of a property, reset by [`reset`].
fn mysql(slot: &'static OnceLock<Arc<MySqlStore>>, name: &str) -> Arc<MySqlStore> {
    slot.get_or_init(|| runtime().block_on(common::TestDb::named(name).store()))
        .clone()
}

async fn reset(store: &dyn StoreAdmin, pool: Option<&sqlx::MySqlPool>, stock: &[i64]) {
    if let Some(pool) = pool {
        pool.execute("DELETE FROM orders").await.unwrap();
        pool.execute("DELETE FROM inventory").await.unwrap();
    }
    let products: Vec<_> = PRODUCTS
        .iter()
        .zip(stock)
        .map(|(p, q)| common::product(p, *q))
        .collect();
    store.upsert_products(&products).await.unwrap();
}

async fn run_batches(store: &dyn OrderStore, ops: &[Op], cuts: &[usize]) -> Vec<Applied> {
    let events: Vec<OrderCreated> = ops.iter().map(Op::event).collect();
    let mut out = Vec::new();
    let mut rest = &events[..];
    for &n in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (batch, tail) = rest.split_at(n.min(rest.len()));
        out.extend(apply(store, batch).await);
        rest = tail;
    }
    out
}

/// Applies a batch, retrying transient errors as the processor does: a
/// batch whose orders lock no row (all products unknown) can lose the race to
/// record an order to a concurrent batch, and is then told to retry.
async fn apply(store: &dyn OrderStore, batch: &[OrderCreated]) -> Vec<Applied> {
    for _ in 0..20 {
        match store.apply(batch).await {
            Ok(applied) => return applied,
            Err(e) if e.is_transient() => tokio::task::yield_now().await,
            Err(e) => panic!("apply failed: {e}"),
        }
    }
    panic!("apply kept failing transiently")
}

async fn stocks(store: &dyn OrderStore) -> Vec<i64> {
    let mut out = Vec::new();
    for p in PRODUCTS {
        out.push(common::stock(store, p).await);
    }
    out
}

fn summary(applied: &[Applied]) -> Outcomes {
    applied
        .iter()
        .map(|a| (a.status, a.reason, a.first_time))
        .collect()
}

static SEQUENTIAL_DB: OnceLock<Arc<MySqlStore>> = OnceLock::new();
static CONCURRENT_DB: OnceLock<Arc<MySqlStore>> = OnceLock::new();

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Applied one batch after another, MySQL, memory and the model agree on
    /// every outcome and on the final stock.
    #[test]
    fn mysql_memory_and_model_agree_on_any_sequence((stock, ops, cuts) in scenario()) {
        let mysql = mysql(&SEQUENTIAL_DB, "orderflow_prop_sequential");
        let (want, want_stock) = model(&stock, &ops);
        let (on_mysql, mysql_stock, in_memory, memory_stock) = runtime().block_on(async {
            reset(&*mysql, Some(mysql.pool()), &stock).await;
            let memory = MemoryStore::new();
            reset(&memory, None, &stock).await;
            let on_mysql = summary(&run_batches(&*mysql, &ops, &cuts).await);
            let in_memory = summary(&run_batches(&memory, &ops, &cuts).await);
            (on_mysql, stocks(&*mysql).await, in_memory, stocks(&memory).await)
        });
        prop_assert_eq!(&in_memory, &want, "memory store vs model");
        prop_assert_eq!(&on_mysql, &want, "MySQL store vs model");
        prop_assert_eq!(&memory_stock, &want_stock);
        prop_assert_eq!(&mysql_stock, &want_stock);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Applied from eight tasks at once, MySQL keeps every invariant.
    #[test]
    fn concurrent_orders_keep_every_invariant_on_mysql((stock, ops, cuts) in scenario()) {
        let mysql = mysql(&CONCURRENT_DB, "orderflow_prop_concurrent");
        let (applied, records, final_stock) = runtime().block_on(async {
            reset(&*mysql, Some(mysql.pool()), &stock).await;
            let mut tasks = Vec::new();
            for t in 0..8 {
                let store = mysql.clone();
                // Every task gets a share of the orders, and the first
                // eight orders go to every task: duplicates race each other.
                let mine: Vec<Op> = ops.iter().enumerate()
                    .filter(|(i, _)| i % 8 == t || *i < 8)
                    .map(|(_, o)| o.clone())
                    .collect();
                let cuts = cuts.clone();
                tasks.push(tokio::spawn(async move { run_batches(&*store, &mine, &cuts).await }));
            }
            let mut applied = Vec::new();
            for t in tasks {
                applied.extend(t.await.unwrap());
            }
            let since = chrono::DateTime::UNIX_EPOCH;
            (applied, mysql.orders_processed_since(since).await.unwrap(), stocks(&*mysql).await)
        });

        // No oversell.
        prop_assert!(final_stock.iter().all(|&q| q >= 0), "stock {:?}", final_stock);
        // Conservation: initial = final + lines of PROCESSED orders.
        let mut sold: BTreeMap<String, i64> = BTreeMap::new();
        for r in records.iter().filter(|r| r.status == OrderStatus::Processed) {
            for l in &r.items {
                *sold.entry(l.product_id.to_string()).or_default() += i64::from(l.quantity.get());
            }
        }
        for (i, p) in PRODUCTS.iter().enumerate() {
            let s = sold.get(*p).copied().unwrap_or(0);
            prop_assert_eq!(stock[i], final_stock[i] + s, "conservation of {}", p);
        }
        // At most once: one first-time outcome per distinct id, one record each.
        let distinct: HashSet<_> = ops.iter().map(|o| o.event().order_id).collect();
        let firsts: Vec<_> = applied.iter().filter(|a| a.first_time).map(|a| a.order_id).collect();
        prop_assert_eq!(firsts.len(), distinct.len(), "applied once each");
        prop_assert_eq!(records.len(), distinct.len());
        // All or nothing, and every answer agrees with the record.
        let by_id: HashMap<_, _> = records.iter().map(|r| (r.order_id, r)).collect();
        for a in &applied {
            let r = by_id[&a.order_id];
            prop_assert_eq!(a.status, r.status);
            prop_assert_eq!(a.reason, r.failure_reason);
        }
        for r in records.iter().filter(|r| r.status == OrderStatus::Failed) {
            prop_assert!(r.failure_reason.is_some());
        }
    }
}
