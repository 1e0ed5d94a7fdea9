//! Notification claims when some of the batch's orders have a row already.

use super::batch::push_in_list;
use super::rows::{naive, text};
use crate::store::StoreError;
use crate::store::{lease_expired, Claim, ClaimRequest};
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::mysql::MySqlPool;
use sqlx::Row;
use sqlx::{MySql, QueryBuilder};
use std::collections::HashMap;
use std::time::Duration;

/// Inserts a claim row for each of `rows` (request index, order id, in id
/// order) that has none; answers how many it inserted.
pub(crate) async fn insert_claims(
    conn: &mut sqlx::MySqlConnection,
    requests: &[ClaimRequest<'_>],
    rows: &[(usize, &String)],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut q = QueryBuilder::<MySql>::new(
        "INSERT IGNORE INTO notifications (order_id, status, state, claimed_by, claimed_at) ",
    );
    q.push_values(rows, |mut b, (i, id)| {
        b.push_bind(id.as_str())
            .push_bind(requests[*i].status.as_str())
            .push_bind("CLAIMED")
            .push_bind(requests[*i].claimant)
            .push_bind(naive(now));
    });
    Ok(q.build().execute(&mut *conn).await?.rows_affected())
}

/// The claim when some of the orders have a notification row already, in
/// one transaction: existing rows are locked in `order_id` order (the
/// primary key's), missing ones inserted in the same order, so two
/// notifiers with overlapping batches queue instead of deadlocking; an
/// insert that loses a race to another notifier is seen as that notifier's
/// claim.
pub(crate) async fn claim_existing(
    pool: &MySqlPool,
    requests: &[ClaimRequest<'_>],
    all: &[(usize, &String)],
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Claim>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut q = QueryBuilder::<MySql>::new(
        "SELECT order_id, state, claimed_by, claimed_at FROM notifications WHERE order_id IN ",
    );
    push_in_list(&mut q, all.iter().map(|(_, id)| id.as_str()));
    q.push(" ORDER BY order_id FOR UPDATE");
    let mut existing: HashMap<String, (String, String, NaiveDateTime)> = HashMap::new();
    for row in &q.build().fetch_all(&mut *tx).await? {
        let claimed_at: NaiveDateTime = row.try_get("claimed_at")?;
        existing.insert(
            text(row, "order_id")?,
            (text(row, "state")?, text(row, "claimed_by")?, claimed_at),
        );
    }

    let mut out = vec![Claim::HeldElsewhere; requests.len()];
    let (mut insert, mut take) = (Vec::new(), Vec::new());
    for &(i, id) in all {
        match existing.get(id) {
            None => insert.push((i, id)),
            Some((state, _, _)) if state == "SENT" => out[i] = Claim::AlreadySent,
            Some((_, holder, at))
                if holder == requests[i].claimant || lease_expired(at.and_utc(), lease, now) =>
            {
                take.push((i, id))
            }
            Some(_) => {}
        }
    }

    if !insert.is_empty() {
        if insert_claims(&mut tx, requests, &insert, now).await? == insert.len() as u64 {
            for (i, _) in &insert {
                out[*i] = Claim::Granted;
            }
        } else {
            // Some were inserted meanwhile by another notifier: ours are
            // the rows that name our claimant.
            let mut q = QueryBuilder::<MySql>::new(
                "SELECT order_id, claimed_by FROM notifications WHERE order_id IN ",
            );
            push_in_list(&mut q, insert.iter().map(|(_, id)| id.as_str()));
            let mut holders = HashMap::new();
            for row in &q.build().fetch_all(&mut *tx).await? {
                holders.insert(text(row, "order_id")?, text(row, "claimed_by")?);
            }
            for (i, id) in &insert {
                if holders.get(*id).map(String::as_str) == Some(requests[*i].claimant) {
                    out[*i] = Claim::Granted;
                }
            }
        }
    }

    for (i, id) in &take {
        sqlx::query("UPDATE notifications SET claimed_by = ?, claimed_at = ? WHERE order_id = ?")
            .bind(requests[*i].claimant)
            .bind(naive(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        out[*i] = Claim::Granted;
    }
    tx.commit().await?;
    Ok(out)
}
