//! Order ids that make retries harmless. The same payload always gets the
//! same id (SHA-256 of a canonical form); with an `Idempotency-Key` header the
//! id derives from the customer and the key instead, so a client can place the
//! same basket twice on purpose and still retry each placement safely.

use serde_json::json;
use sha2::{Digest, Sha256};

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

/// Derives the order id. The canonical form is compact JSON with the lines
/// already sorted by `product_id` (a `ValidOrder` keeps them so), and the two
/// forms cannot collide because they have different keys.
pub fn order_id(order: &ValidOrder, key: Option<&IdempotencyKey>) -> OrderId {
    let canonical = match key {
        None => json!({ "customer_id": order.customer_id(), "items": order.items() }),
        Some(key) => json!({ "customer_id": order.customer_id(), "idempotency_key": key.0 }),
    };
    let digest = Sha256::digest(canonical.to_string().as_bytes());
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
        let key = key.map(|k| IdempotencyKey::parse(k.as_bytes()).unwrap());
        order_id(&parse_order(body.as_bytes()).unwrap(), key.as_ref())
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
