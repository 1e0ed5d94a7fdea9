//! The store contract, run against both stores: all-or-nothing orders,
//! at-most-once per order id, no oversell under concurrency, no deadlocks.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;

use engine::domain::{FailureReason, OrderStatus};
use engine::store::{Claim, ClaimRequest, OrderStore, StoreAdmin};
use std::time::Duration;

use common::{apply_concurrently, order, product, raw_order, stock};

async fn an_order_takes_all_its_lines_or_none(store: Arc<dyn StoreAdmin>) {
    let short = order("c1", &[("prod-104", 2), ("prod-105", 9)]);
    let a = store.apply(std::slice::from_ref(&short)).await.unwrap();
    assert_eq!(a[0].status, OrderStatus::Failed);
    assert_eq!(a[0].reason, Some(FailureReason::InsufficientStock));
    assert_eq!(
        stock(&*store, "prod-104").await,
        10,
        "nothing taken from the line that had stock"
    );
    assert_eq!(stock(&*store, "prod-105").await, 5);

    let ok = order("c2", &[("prod-104", 2), ("prod-105", 5)]);
    let a = store.apply(&[ok]).await.unwrap();
    assert_eq!(a[0].status, OrderStatus::Processed);
    assert_eq!(a[0].reason, None);
    assert_eq!(stock(&*store, "prod-104").await, 8);
    assert_eq!(stock(&*store, "prod-105").await, 0);
}
both_stores!(
    an_order_takes_all_its_lines_or_none,
    an_order_takes_all_its_lines_or_none
);

async fn an_unknown_product_fails_the_order_and_takes_nothing(store: Arc<dyn StoreAdmin>) {
    let o = order("c", &[("prod-101", 1), ("prod-999", 1)]);
    let a = store.apply(std::slice::from_ref(&o)).await.unwrap();
    assert_eq!(a[0].status, OrderStatus::Failed);
    assert_eq!(a[0].reason, Some(FailureReason::UnknownProduct));
    assert_eq!(stock(&*store, "prod-101").await, 50);
    let record = store.order(o.order_id).await.unwrap().expect("recorded");
    assert_eq!(record.status, OrderStatus::Failed);
    assert_eq!(record.failure_reason, Some(FailureReason::UnknownProduct));
}
both_stores!(
    an_unknown_product_fails_the_order_and_takes_nothing,
    an_unknown_product_fails_the_order_and_takes_nothing
);

async fn an_order_id_is_applied_at_most_once(store: Arc<dyn StoreAdmin>) {
    let o = order("c", &[("prod-103", 5)]);
    // Twice within one batch, then again in a later batch.
    let a = store.apply(&[o.clone(), o.clone()]).await.unwrap();
    assert!(a[0].first_time);
    assert!(!a[1].first_time);
    assert_eq!(a[1].status, OrderStatus::Processed);
    let again = store.apply(std::slice::from_ref(&o)).await.unwrap();
    assert!(!again[0].first_time);
    assert_eq!(again[0].status, OrderStatus::Processed);
    assert_eq!(
        again[0].processed_at, a[0].processed_at,
        "answers the recorded outcome"
    );
    assert_eq!(stock(&*store, "prod-103").await, 30, "taken once");

    // A recorded FAILED stays FAILED even once stock would allow it.
    let big = order("c", &[("prod-105", 6)]);
    assert_eq!(
        store.apply(std::slice::from_ref(&big)).await.unwrap()[0].status,
        OrderStatus::Failed
    );
    store
        .upsert_products(&[product("prod-105", 100)])
        .await
        .unwrap();
    let retry = store.apply(&[big]).await.unwrap();
    assert_eq!(retry[0].status, OrderStatus::Failed);
    assert!(!retry[0].first_time);
    assert_eq!(stock(&*store, "prod-105").await, 100);
}
both_stores!(
    an_order_id_is_applied_at_most_once,
    an_order_id_is_applied_at_most_once
);

async fn a_failed_order_does_not_disturb_its_batch(store: Arc<dyn StoreAdmin>) {
    let batch = [
        order("a", &[("prod-102", 5)]),
        order("b", &[("prod-102", 9999)]),
        order("c", &[("prod-102", 15)]),
        order("d", &[("prod-102", 1)]),
    ];
    let a = store.apply(&batch).await.unwrap();
    let statuses: Vec<_> = a.iter().map(|a| a.status).collect();
    use OrderStatus::*;
    assert_eq!(
        statuses,
        [Processed, Failed, Processed, Failed],
        "taken in batch order"
    );
    assert_eq!(stock(&*store, "prod-102").await, 0);
}
both_stores!(
    a_failed_order_does_not_disturb_its_batch,
    a_failed_order_does_not_disturb_its_batch
);

async fn a_record_reads_back_as_written(store: Arc<dyn StoreAdmin>) {
    let o = raw_order("reader", &[("prod-103", 1), ("prod-101", 2)]);
    let applied = store
        .apply(std::slice::from_ref(&o))
        .await
        .unwrap()
        .remove(0);
    let r = store.order(o.order_id).await.unwrap().expect("recorded");
    assert_eq!(r.customer_id.as_str(), "reader");
    let lines: Vec<_> = r
        .items
        .iter()
        .map(|l| (l.product_id.as_str().to_owned(), l.quantity.get()))
        .collect();
    assert_eq!(
        lines,
        [("prod-101".to_owned(), 2), ("prod-103".to_owned(), 1)],
        "lines sorted by product"
    );
    assert_eq!(
        r.created_at, o.timestamp,
        "created_at is the accept time, to the millisecond"
    );
    assert_eq!(r.processed_at, Some(applied.processed_at));
    assert!(r.processed_at.unwrap() >= r.created_at);
    let since = store.orders_processed_since(o.timestamp).await.unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(
        store.recent_orders(10).await.unwrap()[0].order_id,
        o.order_id
    );
    assert!(store
        .order(order("nobody", &[("prod-101", 1)]).order_id)
        .await
        .unwrap()
        .is_none());
}
both_stores!(
    a_record_reads_back_as_written,
    a_record_reads_back_as_written
);

async fn a_notification_is_claimed_once_and_an_in_doubt_claim_is_retaken(
    store: Arc<dyn OrderStore>,
) {
    let o = order("n", &[("prod-101", 1)]).order_id;
    let lease = Duration::from_secs(30);
    let claim = |who: &'static str, lease: Duration| {
        let store = store.clone();
        async move {
            let request = ClaimRequest {
                order_id: o,
                status: OrderStatus::Processed,
                claimant: who,
            };
            let claims = store.claim_notifications(&[request], lease).await.unwrap();
            claims[0]
        }
    };
    assert_eq!(claim("m1", lease).await, Claim::Granted);
    assert_eq!(
        claim("m2", lease).await,
        Claim::HeldElsewhere,
        "a live claim is respected"
    );
    assert_eq!(
        claim("m1", lease).await,
        Claim::Granted,
        "its holder, in doubt, may retry"
    );
    assert_eq!(
        claim("m2", Duration::ZERO).await,
        Claim::Granted,
        "an expired claim is taken over"
    );
    assert_eq!(
        claim("m1", lease).await,
        Claim::HeldElsewhere,
        "and the old holder lost it"
    );
    store.confirm_notifications(&[o]).await.unwrap();
    assert_eq!(claim("m2", lease).await, Claim::AlreadySent);
    assert_eq!(
        claim("m3", Duration::ZERO).await,
        Claim::AlreadySent,
        "sent is final"
    );
}
both_stores!(
    a_notification_is_claimed_once_and_an_in_doubt_claim_is_retaken,
    a_notification_is_claimed_once_and_an_in_doubt_claim_is_retaken
);

async fn seeding_happens_only_into_an_empty_inventory(store: Arc<dyn StoreAdmin>) {
    assert!(!store.seed_if_empty(&[product("other", 1)]).await.unwrap());
    let ids: Vec<_> = store
        .inventory()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.product_id.to_string())
        .collect();
    assert_eq!(
        ids,
        ["prod-101", "prod-102", "prod-103", "prod-104", "prod-105"]
    );
}
both_stores!(
    seeding_happens_only_into_an_empty_inventory,
    seeding_happens_only_into_an_empty_inventory
);

async fn oversell_is_impossible_under_race(store: Arc<dyn StoreAdmin>) {
    store
        .upsert_products(&[product("scarce", 50)])
        .await
        .unwrap();
    let orders: Vec<_> = (0..300)
        .map(|i| order(&format!("racer-{i}"), &[("scarce", 1)]))
        .collect();
    let applied = apply_concurrently(&store, orders, 30, 3).await;
    let sold = applied
        .iter()
        .filter(|a| a.status == OrderStatus::Processed)
        .count();
    assert_eq!(sold, 50, "exactly the stock is sold");
    assert_eq!(
        applied
            .iter()
            .filter(|a| a.reason == Some(FailureReason::InsufficientStock))
            .count(),
        250
    );
    assert_eq!(stock(&*store, "scarce").await, 0);
}
both_stores!(
    oversell_is_impossible_under_race,
    oversell_is_impossible_under_race
);

async fn opposite_line_orders_never_deadlock(store: Arc<dyn StoreAdmin>) {
    store
        .upsert_products(&[
            product("pa", 100_000),
            product("pb", 100_000),
            product("pc", 100_000),
        ])
        .await
        .unwrap();
    let mut orders = Vec::new();
    for i in 0..400 {
        let lines: &[(&str, u32)] = match i % 4 {
            0 => &[("pa", 1), ("pb", 2)],
            1 => &[("pb", 2), ("pa", 1)],
            2 => &[("pc", 3), ("pb", 1), ("pa", 2)],
            _ => &[("pa", 2), ("pc", 3), ("pb", 1)],
        };
        orders.push(raw_order(&format!("dl-{i}"), lines));
    }
    // Small batches from many tasks: many transactions contend for the same
    // three rows, listing them in every order. `apply_concurrently` panics
    // on any error, deadlocks included.
    let applied = apply_concurrently(&store, orders.clone(), 16, 2).await;
    assert!(applied.iter().all(|a| a.status == OrderStatus::Processed));

    // Conservation.
    let mut sold: HashMap<String, i64> = HashMap::new();
    for o in &orders {
        for l in &o.items {
            *sold.entry(l.product_id.to_string()).or_default() += i64::from(l.quantity.get());
        }
    }
    for p in ["pa", "pb", "pc"] {
        assert_eq!(stock(&*store, p).await, 100_000 - sold[p], "{p}");
    }
}
both_stores!(
    opposite_line_orders_never_deadlock,
    opposite_line_orders_never_deadlock
);

async fn concurrent_claim_batches_grant_each_order_once(store: Arc<dyn StoreAdmin>) {
    // Eight notifiers claim overlapping batches of the same 100 orders, in
    // different orders, all at once: each order is granted exactly once.
    let ids: Vec<_> = (0..100)
        .map(|i| order(&format!("claim-{i}"), &[("prod-101", 1)]).order_id)
        .collect();
    let mut tasks = Vec::new();
    for t in 0..8usize {
        let store = store.clone();
        let mut mine = ids.clone();
        if t % 2 == 1 {
            mine.reverse();
        }
        tasks.push(tokio::spawn(async move {
            let who = format!("notifier-{t}");
            let mut granted = Vec::new();
            for chunk in mine.chunks(25) {
                let requests: Vec<_> = chunk
                    .iter()
                    .map(|&order_id| engine::store::ClaimRequest {
                        order_id,
                        status: OrderStatus::Processed,
                        claimant: &who,
                    })
                    .collect();
                let claims = loop {
                    match store
                        .claim_notifications(&requests, Duration::from_secs(60))
                        .await
                    {
                        Ok(c) => break c,
                        Err(e) if e.is_transient() => tokio::task::yield_now().await,
                        Err(e) => panic!("claim failed: {e}"),
                    }
                };
                granted.extend(
                    chunk
                        .iter()
                        .zip(claims)
                        .filter(|(_, c)| *c == Claim::Granted)
                        .map(|(id, _)| *id),
                );
            }
            granted
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "no order granted twice");
    assert_eq!(all.len(), 100, "every order granted once");
}
both_stores!(
    concurrent_claim_batches_grant_each_order_once,
    concurrent_claim_batches_grant_each_order_once
);
