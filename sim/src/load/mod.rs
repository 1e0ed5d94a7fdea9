//! The generated load: a seeded mix of orders on hot products (which sell
//! out), orders spread over many products, multi-line orders, orders for
//! unknown products, duplicate resubmissions and invalid requests
//! (here); when each is due and what customers read besides
//! ([`profile`]); sent open-loop over HTTP ([`send`]) and summed up
//! ([`measure`]).

pub mod args;
pub mod measure;
pub mod profile;
pub mod send;

pub use args::SaleArgs;
pub use profile::Profile;
pub use send::{Sends, Sent};

use engine::domain::{InventoryItem, ProductId};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Hot,
    Spread,
    MultiLine,
    UnknownProduct,
    Duplicate,
    Invalid,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Hot => "hot product",
            Kind::Spread => "spread products",
            Kind::MultiLine => "multi-line",
            Kind::UnknownProduct => "unknown product",
            Kind::Duplicate => "duplicate resubmission",
            Kind::Invalid => "invalid request",
        }
    }
}

pub struct Planned {
    pub kind: Kind,
    pub body: String,
    /// For a duplicate: the index of the request it repeats.
    pub repeats: Option<usize>,
    /// The `Idempotency-Key` it is sent with, when every order is one
    /// customer's ([`plan_for`]); a duplicate carries its original's.
    pub idempotency_key: Option<String>,
}

/// The hot products and their stock: the default run's flash sale sells
/// them out during its surge.
pub const HOT: [(&str, i64); 2] = [("sim-hot-1", 1500), ("sim-hot-2", 1000)];
pub const SPREAD_PRODUCTS: usize = 20;
pub const SPREAD_STOCK: i64 = 5_000;

/// The products the load uses, at their starting stock.
pub fn products() -> Vec<InventoryItem> {
    let mut out: Vec<InventoryItem> = HOT
        .iter()
        .map(|(id, qty)| item(id, "Sim hot product", *qty))
        .collect();
    for i in 1..=SPREAD_PRODUCTS {
        out.push(item(
            &format!("sim-item-{i:02}"),
            "Sim product",
            SPREAD_STOCK,
        ));
    }
    out
}

fn item(id: &str, name: &str, qty: i64) -> InventoryItem {
    InventoryItem {
        product_id: ProductId::parse(id).unwrap_or_else(|e| panic!("sim product id {id}: {e}")),
        product_name: name.to_owned(),
        quantity_available: qty,
    }
}

const INVALID: [&str; 10] = [
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":0}]}"#,
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":-5}]}"#,
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":"2"}]}"#,
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":1.5}]}"#,
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":true}]}"#,
    r#"{"items":[{"product_id":"sim-item-01","quantity":1}]}"#,
    r#"{"customer_id":"bad","items":[]}"#,
    r#"{"customer_id":"   ","items":[{"product_id":"sim-item-01","quantity":1}]}"#,
    r#"{"customer_id":"bad","items":[{"product_id":"sim-item-01","quantity":1}"#,
    r#"[{"customer_id":"bad"}]"#,
];

/// Plans `n` requests from `seed`. The same seed gives the same shapes; `tag`
/// makes the customer ids this run's own.
pub fn plan(n: usize, seed: u64, tag: &str) -> Vec<Planned> {
    plan_for(n, seed, tag, None)
}

/// [`plan`], every valid order placed by `customer` when one is given (a
/// token's subject, which an API behind a JWT authorizer holds every order
/// to). An order's id derives from its customer and items, so one
/// customer's orders of the same items would all be one order: each is
/// sent with an `Idempotency-Key` of its own instead (the customer id it
/// would otherwise have had), a duplicate with its original's. The same
/// seed gives the same shapes, with or without a customer; invalid requests
/// are left as they are (refused 400 before any customer is compared).
pub fn plan_for(n: usize, seed: u64, tag: &str, customer: Option<&str>) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed);
    let spread: Vec<String> = (1..=SPREAD_PRODUCTS)
        .map(|i| format!("sim-item-{i:02}"))
        .collect();
    let mut out: Vec<Planned> = Vec::with_capacity(n);
    for i in 0..n {
        let own = format!("load-{tag}-{i}");
        let (customer, key) = match customer {
            Some(c) => (c.to_owned(), Some(own)),
            None => (own, None),
        };
        let roll = rng.gen_range(0..100);
        let (kind, body, repeats) = match roll {
            0..=39 => {
                let (p, _) = HOT[rng.gen_range(0..HOT.len())];
                let body = json!({"customer_id": customer, "items": [{"product_id": p, "quantity": rng.gen_range(1..=3)}]});
                (Kind::Hot, body.to_string(), None)
            }
            40..=54 => {
                let p = &spread[rng.gen_range(0..spread.len())];
                let body = json!({"customer_id": customer, "items": [{"product_id": p, "quantity": rng.gen_range(1..=5)}]});
                (Kind::Spread, body.to_string(), None)
            }
            55..=74 => {
                // 2 to 4 lines, sometimes with a hot product among them, in a
                // random line order: concurrent orders lock in product order
                // whatever order their lines come in.
                let mut ids: Vec<&str> = spread.iter().map(String::as_str).collect();
                ids.shuffle(&mut rng);
                let lines = rng.gen_range(2..=4);
                let mut picked: Vec<&str> = ids.into_iter().take(lines).collect();
                if rng.gen_bool(0.3) {
                    picked[0] = HOT[rng.gen_range(0..HOT.len())].0;
                }
                let items: Vec<_> = picked
                    .iter()
                    .map(|p| json!({"product_id": p, "quantity": rng.gen_range(1..=4)}))
                    .collect();
                (
                    Kind::MultiLine,
                    json!({"customer_id": customer, "items": items}).to_string(),
                    None,
                )
            }
            75..=77 => {
                let body = json!({"customer_id": customer, "items": [{"product_id": "sim-no-such-product", "quantity": 1}]});
                (Kind::UnknownProduct, body.to_string(), None)
            }
            78..=89 if !out.is_empty() => {
                let valid: Vec<usize> = (0..out.len())
                    .filter(|&j| !matches!(out[j].kind, Kind::Invalid | Kind::Duplicate))
                    .collect();
                match valid.get(rng.gen_range(0..valid.len().max(1))) {
                    Some(&j) => (Kind::Duplicate, out[j].body.clone(), Some(j)),
                    None => (Kind::Invalid, INVALID[0].to_owned(), None),
                }
            }
            _ => (
                Kind::Invalid,
                INVALID[rng.gen_range(0..INVALID.len())].to_owned(),
                None,
            ),
        };
        let idempotency_key = match (kind, repeats) {
            (Kind::Invalid, _) => None,
            (_, Some(j)) => out[j].idempotency_key.clone(),
            _ => key,
        };
        out.push(Planned {
            kind,
            body,
            repeats,
            idempotency_key,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_workload_with_every_kind_of_request() {
        let a = plan(2000, 7, "t");
        let b = plan(2000, 7, "t");
        assert!(a
            .iter()
            .zip(&b)
            .all(|(x, y)| x.kind == y.kind && x.body == y.body));
        let c = plan(2000, 8, "t");
        assert!(
            a.iter().zip(&c).any(|(x, y)| x.body != y.body),
            "another seed, another workload"
        );
        for kind in [
            Kind::Hot,
            Kind::Spread,
            Kind::MultiLine,
            Kind::UnknownProduct,
            Kind::Duplicate,
            Kind::Invalid,
        ] {
            assert!(a.iter().any(|p| p.kind == kind), "{kind:?} missing");
        }
        for (i, p) in a.iter().enumerate() {
            if let Some(j) = p.repeats {
                assert!(j < i && a[j].body == p.body && a[j].kind != Kind::Invalid);
            }
        }
    }

    #[test]
    fn with_a_customer_every_valid_order_is_theirs_under_a_key_of_its_own() {
        let mine = plan_for(2000, 7, "t", Some("client-abc"));
        let theirs = plan(2000, 7, "t");
        let mut keys = std::collections::HashSet::new();
        for (i, (p, q)) in mine.iter().zip(&theirs).enumerate() {
            assert_eq!(p.kind, q.kind, "the same seed, the same shapes");
            assert_eq!(q.idempotency_key, None, "no key without a customer");
            if p.kind == Kind::Invalid {
                assert_eq!(p.body, q.body, "an invalid request is left as it is");
                assert_eq!(p.idempotency_key, None);
                continue;
            }
            let order = engine::validation::parse_order(p.body.as_bytes()).expect("valid");
            assert_eq!(order.customer_id().as_str(), "client-abc", "{}", p.body);
            let key = p.idempotency_key.clone().expect("a valid order has a key");
            match p.repeats {
                Some(j) => assert_eq!(Some(&key), mine[j].idempotency_key.as_ref(), "{i}"),
                None => assert!(keys.insert(key), "{i}: a key of its own"),
            }
        }
    }

    #[test]
    fn planned_requests_are_valid_exactly_when_they_should_be() {
        for p in plan(1000, 3, "t") {
            let valid = engine::validation::parse_order(p.body.as_bytes()).is_ok();
            assert_eq!(valid, p.kind != Kind::Invalid, "{:?}: {}", p.kind, p.body);
        }
    }
}
