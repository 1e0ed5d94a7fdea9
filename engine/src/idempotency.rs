//! Order ids that make retries harmless. The same payload always gets the
//! same id (HMAC-SHA-256 of a canonical form, under the deployment's
//! [`OrderIdKey`]); with an `Idempotency-Key` header the id derives from the
//! customer and the key instead, so a client can place the same basket twice
//! on purpose and still retry each placement safely. The hash is keyed so
//! that nobody without the key can compute another customer's order id and
//! read it with `GET /api/orders/{id}`.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::domain::{OrderId, ValidOrder};

/// Longest `Idempotency-Key` accepted.
pub const MAX_KEY_LEN: usize = 255;

/// A client-chosen idempotency key: 1..=255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self, &'static str> {
        if raw.is_empty() || raw.len() > MAX_KEY_LEN {
            return Err("Idempotency-Key header must be 1 to 255 characters");
        }
        if !raw.iter().all(|b| b.is_ascii_graphic()) {
            return Err("Idempotency-Key header must be visible ASCII without spaces");
        }
        Ok(IdempotencyKey(String::from_utf8_lossy(raw).into_owned()))
    }
}

/// The secret under which order ids are derived. On AWS it lives in Secrets
/// Manager (`ORDER_ID_KEY_SECRET_ARN`); locally `ORDER_ID_KEY`, or the
/// [development key](OrderIdKey::development), which anyone can read in
/// this file and must never serve real customers.
///
/// It holds the HMAC already keyed (the key's inner and outer pads hashed
/// once), so deriving an id clones that state instead of keying again.
#[derive(Clone)]
pub struct OrderIdKey {
    mac: Hmac<Sha256>,
    development: bool,
}

/// Shortest key accepted: 128 bits, written as 16 or more characters.
pub const MIN_KEY_LEN: usize = 16;

/// An order id key shorter than [`MIN_KEY_LEN`] (its length).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the order id key must be at least {MIN_KEY_LEN} characters (it has {0})")]
pub struct KeyTooShort(pub usize);

impl OrderIdKey {
    /// The key every local run uses unless `ORDER_ID_KEY` is set: public, so
    /// ids derived with it are as guessable as an unkeyed hash.
    pub const DEVELOPMENT: &'static str = "orderflow-development-key-not-secret";

    pub fn development() -> Self {
        Self::keyed(Self::DEVELOPMENT.as_bytes())
    }

    fn keyed(key: &[u8]) -> Self {
        OrderIdKey {
            mac: Hmac::new_from_slice(key).expect("HMAC takes a key of any length"),
            development: key == Self::DEVELOPMENT.as_bytes(),
        }
    }

    /// A key from configuration or a secret: at least [`MIN_KEY_LEN`] bytes.
    pub fn new(key: &str) -> Result<Self, KeyTooShort> {
        let key = key.trim();
        if key.len() < MIN_KEY_LEN {
            return Err(KeyTooShort(key.len()));
        }
        Ok(Self::keyed(key.as_bytes()))
    }

    pub fn is_development(&self) -> bool {
        self.development
    }
}

impl std::fmt::Debug for OrderIdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_development() {
            "OrderIdKey(development)"
        } else {
            "OrderIdKey(..)"
        })
    }
}

/// Derives the order id under `secret`. The canonical form is compact JSON with the lines
/// already sorted by `product_id` (a `ValidOrder` keeps them so), and the two
/// forms cannot collide because they have different keys.
pub fn order_id(order: &ValidOrder, key: Option<&IdempotencyKey>, secret: &OrderIdKey) -> OrderId {
    let canonical = match key {
        None => json!({ "customer_id": order.customer_id(), "items": order.items() }),
        Some(key) => json!({ "customer_id": order.customer_id(), "idempotency_key": key.0 }),
    };
    let mut mac = secret.mac.clone();
    mac.update(canonical.to_string().as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // A version-8 ("custom") UUID: the hash bits, with the version and variant set.
    OrderId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::parse_order;

    fn id(body: &str, key: Option<&str>) -> OrderId {
        keyed(body, key, &OrderIdKey::development())
    }

    fn keyed(body: &str, key: Option<&str>, secret: &OrderIdKey) -> OrderId {
        let key = key.map(|k| IdempotencyKey::parse(k.as_bytes()).unwrap());
        order_id(&parse_order(body.as_bytes()).unwrap(), key.as_ref(), secret)
    }

    #[test]
    fn ids_depend_on_the_secret_key() {
        let body = r#"{"customer_id":"c","items":[{"product_id":"a","quantity":1}]}"#;
        let one = OrderIdKey::new("0123456789abcdef-one").unwrap();
        let two = OrderIdKey::new("0123456789abcdef-two").unwrap();
        assert_eq!(keyed(body, None, &one), keyed(body, None, &one));
        assert_ne!(keyed(body, None, &one), keyed(body, None, &two));
        assert_ne!(keyed(body, Some("k"), &one), keyed(body, Some("k"), &two));
        // Not the unkeyed SHA-256 the first version used.
        let unkeyed = {
            use sha2::Digest;
            let d =
                Sha256::digest(br#"{"customer_id":"c","items":[{"product_id":"a","quantity":1}]}"#);
            uuid::Builder::from_custom_bytes(d[..16].try_into().unwrap()).into_uuid()
        };
        assert_ne!(keyed(body, None, &one).0, unkeyed);
        assert!(OrderIdKey::new("short")
            .unwrap_err()
            .to_string()
            .contains("at least 16"));
        assert!(OrderIdKey::development().is_development() && !one.is_development());
    }

    #[test]
    fn same_payload_same_id_whatever_the_line_order_or_spacing() {
        let a = id(
            r#"{"customer_id":"c","items":[{"product_id":"a","quantity":1},{"product_id":"b","quantity":2}]}"#,
            None,
        );
        let b = id(
            r#"{ "items": [{"quantity":2,"product_id":"b"}, {"product_id":"a","quantity":1}], "customer_id": "c" }"#,
            None,
        );
        assert_eq!(a, b);
        assert_eq!(a.0.get_version_num(), 8);
    }

    #[test]
    fn different_payloads_or_keys_get_different_ids() {
        let base = r#"{"customer_id":"c","items":[{"product_id":"a","quantity":1}]}"#;
        let other_qty = r#"{"customer_id":"c","items":[{"product_id":"a","quantity":2}]}"#;
        let other_customer = r#"{"customer_id":"d","items":[{"product_id":"a","quantity":1}]}"#;
        assert_ne!(id(base, None), id(other_qty, None));
        assert_ne!(id(base, None), id(other_customer, None));
        assert_ne!(id(base, Some("k1")), id(base, Some("k2")));
        assert_ne!(id(base, None), id(base, Some("k1")));
        // With a key, the id is the customer's and the key's, whatever the basket.
        assert_eq!(id(base, Some("k1")), id(other_qty, Some("k1")));
        assert_ne!(id(base, Some("k1")), id(other_customer, Some("k1")));
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(b"has space").is_err());
        assert!(IdempotencyKey::parse(&[b'k'; 256]).is_err());
        assert!(IdempotencyKey::parse(b"order-2026-11-25#1").is_ok());
    }
}
