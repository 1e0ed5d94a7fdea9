//! The weighted scenarios, and what they remember for the verification.
//!
//! Every new order has a customer id of its own (`lt-<run>-<n>`), so its
//! payload-derived id is new; a duplicate resubmission sends the same body
//! again and must get the same id back. Every request carries the bearer
//! token when one was given; a throttled answer (429 or 503) is counted as
//! such, and is neither a failure in Goose's figures nor a wrong answer.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use goose::goose::GooseResponse;
use goose::metrics::GooseRequestMetric;
use goose::prelude::*;
use orderflow_client::HeaderValue;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::throttle::{is_throttled, Throttled};

/// What the scenarios share, across every Goose user.
pub struct Shared {
    pub hot: String,
    /// Every other product the API listed.
    pub others: Vec<String>,
    run: String,
    seed: u64,
    /// `Bearer TOKEN`, sent with every request when a token was given.
    bearer: Option<HeaderValue>,
    next: AtomicU64,
    /// Ids answered 202 to a new order, with when.
    pub accepted: Mutex<Vec<(Instant, String)>>,
    /// A resubmission answered with another id than the original.
    pub duplicate_mismatches: AtomicU64,
    /// An invalid request answered 202.
    pub invalid_accepted: AtomicU64,
    /// 429 (rate limited) and 503 (a full queue, a busy function): nothing
    /// was done, and that is not an error.
    pub throttled: Throttled,
    /// 401 or 403: the token is missing or not accepted.
    pub refused: AtomicU64,
    /// Any other answer an order should not get (5xx, or 4xx to a valid one).
    pub wrong_answers: AtomicU64,
}

impl Shared {
    pub fn new(
        hot: &str,
        catalog: &[String],
        seed: u64,
        bearer: Option<HeaderValue>,
        informational: bool,
    ) -> Result<Shared, String> {
        if !informational && !catalog.iter().any(|p| p == hot) {
            let listed: Vec<&str> = catalog.iter().map(String::as_str).collect();
            return Err(format!(
                "--hot-product {hot} is not in GET /api/inventory (it lists: {})",
                listed.join(", ")
            ));
        }
        let others = catalog.iter().filter(|p| *p != hot).cloned().collect();
        let run = format!("{:x}", chrono::Utc::now().timestamp_millis());
        Ok(Shared {
            hot: hot.to_owned(),
            others,
            run,
            seed,
            bearer,
            next: AtomicU64::new(0),
            accepted: Mutex::new(Vec::new()),
            duplicate_mismatches: AtomicU64::new(0),
            invalid_accepted: AtomicU64::new(0),
            throttled: Throttled::default(),
            refused: AtomicU64::new(0),
            wrong_answers: AtomicU64::new(0),
        })
    }

    /// A customer id no other order of any run has, and a generator seeded
    /// from it.
    fn next_customer(&self) -> (String, StdRng) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let rng = StdRng::seed_from_u64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        (format!("lt-{}-{n}", self.run), rng)
    }

    /// The order ids accepted, each once.
    pub fn accepted_ids(&self) -> Vec<String> {
        let ids = self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        let unique: HashSet<&String> = ids.iter().map(|(_, id)| id).collect();
        unique.into_iter().cloned().collect()
    }
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// Makes `shared` the state every transaction sees; answers it back.
pub fn install(shared: Shared) -> &'static Shared {
    SHARED.get_or_init(|| shared)
}

fn shared() -> &'static Shared {
    SHARED
        .get()
        .expect("scenarios::install runs before the load starts")
}

/// The scenarios with their weights: of every 20 users, 8 order the hot
/// product, 4 spread-out products, 3 multi-line baskets, 2 resubmit
/// duplicates, 2 send invalid requests and 1 polls order status.
pub fn register(attack: GooseAttack) -> Result<GooseAttack, GooseError> {
    Ok(attack
        .register_scenario(
            scenario!("HotProduct")
                .set_weight(8)?
                .register_transaction(transaction!(hot_order).set_name("hot product order")),
        )
        .register_scenario(
            scenario!("SpreadProducts")
                .set_weight(4)?
                .register_transaction(transaction!(spread_order).set_name("spread product order")),
        )
        .register_scenario(
            scenario!("MultiLine")
                .set_weight(3)?
                .register_transaction(transaction!(multi_line_order).set_name("multi-line order")),
        )
        .register_scenario(
            scenario!("DuplicateResubmission")
                .set_weight(2)?
                .register_transaction(
                    transaction!(duplicate_resubmission).set_name("order, then the same again"),
                ),
        )
        .register_scenario(
            scenario!("InvalidRequests")
                .set_weight(2)?
                .register_transaction(transaction!(invalid_request).set_name("invalid order")),
        )
        .register_scenario(
            scenario!("StatusPolling")
                .set_weight(1)?
                .register_transaction(transaction!(poll_status).set_name("order status")),
        ))
}

async fn hot_order(user: &mut GooseUser) -> TransactionResult {
    let s = shared();
    let (customer, mut rng) = s.next_customer();
    let body = json!({"customer_id": customer,
        "items": [{"product_id": s.hot, "quantity": rng.gen_range(1..=2)}]});
    new_order(user, "order: hot product", body.to_string())
        .await
        .map(drop)
}

async fn spread_order(user: &mut GooseUser) -> TransactionResult {
    let s = shared();
    let (customer, mut rng) = s.next_customer();
    let product = s.others.choose(&mut rng).unwrap_or(&s.hot);
    let body = json!({"customer_id": customer,
        "items": [{"product_id": product, "quantity": rng.gen_range(1..=3)}]});
    new_order(user, "order: spread products", body.to_string())
        .await
        .map(drop)
}

async fn multi_line_order(user: &mut GooseUser) -> TransactionResult {
    let s = shared();
    let (customer, mut rng) = s.next_customer();
    let mut products: Vec<&String> = s.others.iter().collect();
    products.shuffle(&mut rng);
    products.truncate(rng.gen_range(1..=3));
    // Often with the hot product among the lines, in any position: locks
    // are taken in product order whatever order the lines come in.
    if rng.gen_bool(0.5) {
        let at = rng.gen_range(0..=products.len());
        products.insert(at, &s.hot);
    }
    let items: Vec<_> = products
        .iter()
        .map(|p| json!({"product_id": p, "quantity": rng.gen_range(1..=3)}))
        .collect();
    let body = json!({"customer_id": customer, "items": items});
    new_order(user, "order: multi-line", body.to_string())
        .await
        .map(drop)
}

async fn duplicate_resubmission(user: &mut GooseUser) -> TransactionResult {
    let s = shared();
    let (customer, mut rng) = s.next_customer();
    let product = if rng.gen_bool(0.5) {
        &s.hot
    } else {
        s.others.choose(&mut rng).unwrap_or(&s.hot)
    };
    let body = json!({"customer_id": customer,
        "items": [{"product_id": product, "quantity": 1}]})
    .to_string();
    let Some(first) = new_order(user, "order: original", body.clone()).await? else {
        return Ok(());
    };
    let (status, again, mut request) = post(user, "order: resubmitted", body.clone(), 202).await?;
    if status == 202 && again.as_deref() != Some(first.as_str()) {
        s.duplicate_mismatches.fetch_add(1, Ordering::Relaxed);
        let why = format!("resubmission got order id {again:?}, the original {first}");
        return user.set_failure(&why, &mut request, None, Some(&body));
    }
    count_unexpected(status);
    Ok(())
}

const INVALID: [&str; 10] = [
    r#"{"customer_id":"lt-bad","items":[{"product_id":"prod-101","quantity":0}]}"#,
    r#"{"customer_id":"lt-bad","items":[{"product_id":"prod-101","quantity":-5}]}"#,
    r#"{"customer_id":"lt-bad","items":[{"product_id":"prod-101","quantity":"2"}]}"#,
    r#"{"customer_id":"lt-bad","items":[{"product_id":"prod-101","quantity":1.5}]}"#,
    r#"{"customer_id":"lt-bad","items":[{"product_id":"prod-101","quantity":true}]}"#,
    r#"{"items":[{"product_id":"prod-101","quantity":1}]}"#,
    r#"{"customer_id":"lt-bad","items":[]}"#,
    r#"{"customer_id":"   ","items":[{"product_id":"prod-101","quantity":1}]}"#,
    r#"{"customer_id":"lt-bad","items":[{"product_id":"prod-101","quantity":1}"#,
    r#"[{"customer_id":"lt-bad"}]"#,
];

async fn invalid_request(user: &mut GooseUser) -> TransactionResult {
    let s = shared();
    let (_, mut rng) = s.next_customer();
    let body = INVALID.choose(&mut rng).copied().unwrap_or(INVALID[0]);
    let (status, id, mut request) = post(user, "order: invalid", body.to_owned(), 400).await?;
    if status == 202 {
        s.invalid_accepted.fetch_add(1, Ordering::Relaxed);
        let why = format!("invalid request accepted as order {id:?}");
        return user.set_failure(&why, &mut request, None, Some(body));
    }
    if status != 400 {
        count_unexpected(status);
    }
    Ok(())
}

/// How old an accepted order must be before polling expects it finished
/// (200); a 404 after that means the pipeline is slow or lost it.
const POLL_AFTER: Duration = Duration::from_secs(2);

/// Reads back an order accepted a while ago: 200 with its outcome.
async fn poll_status(user: &mut GooseUser) -> TransactionResult {
    let s = shared();
    let (_, mut rng) = s.next_customer();
    let id = {
        let ids = s.accepted.lock().unwrap_or_else(|p| p.into_inner());
        // The newest thousand among those old enough.
        let old = ids.partition_point(|(at, _)| at.elapsed() >= POLL_AFTER);
        ids[old.saturating_sub(1_000)..old]
            .choose(&mut rng)
            .map(|(_, id)| id.clone())
    };
    let goose = match id {
        Some(id) => get(user, &format!("/api/orders/{id}"), "order status").await?,
        // Nothing old enough yet: look at the hot product's stock instead.
        None => {
            get(
                user,
                &format!("/api/inventory/{}", s.hot),
                "hot product stock",
            )
            .await?
        }
    };
    // Other answers than 200 show in Goose's figures; only a refused token
    // is worth its own check.
    let status = goose.response.as_ref().map_or(0, |r| r.status().as_u16());
    if matches!(status, 401 | 403) {
        s.refused.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Posts a new order; remembers its id when accepted.
async fn new_order(
    user: &mut GooseUser,
    name: &str,
    body: String,
) -> Result<Option<String>, Box<TransactionError>> {
    let (status, id, _) = post(user, name, body, 202).await?;
    if status == 202 {
        if let Some(id) = &id {
            shared()
                .accepted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((Instant::now(), id.clone()));
        }
    } else {
        count_unexpected(status);
    }
    Ok(id.filter(|_| status == 202))
}

/// Counts an answer an order did not expect: throttled answers were
/// counted where they came back ([`send`]).
fn count_unexpected(status: u16) {
    let s = shared();
    match status {
        202 => {}
        status if is_throttled(status) => {}
        401 | 403 => {
            s.refused.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            s.wrong_answers.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// POSTs `body` as JSON to /api/orders; answers the status (0 if no
/// answer), the `order_id` answered, and Goose's record of the request.
async fn post(
    user: &mut GooseUser,
    name: &str,
    body: String,
    expect: u16,
) -> Result<(u16, Option<String>, GooseRequestMetric), Box<TransactionError>> {
    let goose = send(
        user,
        GooseMethod::Post,
        "/api/orders",
        name,
        Some(body),
        Some(expect),
    )
    .await?;
    let (status, id) = match goose.response {
        Ok(response) => {
            let status = response.status().as_u16();
            let id = response
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v.get("order_id")?.as_str().map(str::to_owned));
            (status, id)
        }
        Err(_) => (0, None),
    };
    Ok((status, id, goose.request))
}

/// GETs `path`, expecting 200.
async fn get(
    user: &mut GooseUser,
    path: &str,
    name: &str,
) -> Result<GooseResponse, Box<TransactionError>> {
    send(user, GooseMethod::Get, path, name, None, None).await
}

/// Every request of the load goes through here: it carries the bearer token
/// (if any; the header is marked sensitive, so Goose's logs do not show
/// it), and a throttled answer is counted as throttled and marked a success
/// in Goose's figures (Goose's error table still lists it as it came).
async fn send(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    json_body: Option<String>,
    expect: Option<u16>,
) -> Result<GooseResponse, Box<TransactionError>> {
    let mut builder = user.get_request_builder(&method, path)?;
    if let Some(bearer) = &shared().bearer {
        builder = builder.header("authorization", bearer.clone());
    }
    if let Some(body) = json_body {
        builder = builder
            .header("content-type", "application/json")
            .body(body);
    }
    let mut request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder);
    if let Some(status) = expect {
        request = request.expect_status_code(status);
    }
    let mut goose = user.request(request.build()).await?;
    let status = goose.response.as_ref().map(|r| r.status().as_u16());
    if status.is_ok_and(|status| shared().throttled.count(status)) {
        // Cleared, so that the update does not list the error a second time.
        goose.request.error.clear();
        user.set_success(&mut goose.request)?;
    }
    Ok(goose)
}
