//! The two events that cross the queues, with the seed's field names.
//! Timestamps are written RFC 3339 UTC with milliseconds
//! (`2026-02-13T10:00:00.000Z`) and read liberally (see [`millis`]), so
//! events from the original Python system decode too.
//!
//! Events are read tolerantly: a field this version does not know is
//! ignored, at the top and in an order's lines. While a deploy moves the
//! `live` alias, processors still on the old version read the new
//! version's events; a strict read would send every new order to the DLQ.
//! The values themselves are checked as strictly as ever, and requests and
//! settings stay strict (`crate::validation`, `crate::deployment`).
//! `engine/tests/data/events/` holds each version's events, frozen; a test
//! decodes every one with this code.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    CustomerId, FailureReason, Lines, OrderId, OrderLine, OrderStatus, ProductId, Quantity,
};

/// Published by ingest once an order is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderCreated {
    #[schema(value_type = String, format = Uuid)]
    pub order_id: OrderId,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    /// 1 to 100 lines, each product once, sorted by product (decoding
    /// refuses anything else: [`Lines`]).
    #[schema(value_type = Vec<OrderLine>)]
    #[serde(deserialize_with = "tolerant_lines")]
    pub items: Lines,
    /// The accept time; becomes `orders.created_at`.
    #[serde(with = "millis")]
    pub timestamp: DateTime<Utc>,
}

/// Published by the processor once an order's outcome is committed:
/// `status` is `PROCESSED`, or `FAILED` with a `reason`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderProcessed {
    #[schema(value_type = String, format = Uuid)]
    pub order_id: OrderId,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    pub status: OrderStatus,
    #[serde(with = "millis")]
    pub processed_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
}

/// An order's lines as an event carries them: each line's fields read
/// tolerantly (a request's lines are not: `crate::validation`), the lines
/// checked as [`Lines`] checks any.
fn tolerant_lines<'de, D: Deserializer<'de>>(d: D) -> Result<Lines, D::Error> {
    #[derive(Deserialize)]
    struct Line {
        product_id: ProductId,
        quantity: Quantity,
    }
    let lines = Vec::<Line>::deserialize(d)?
        .into_iter()
        .map(|l| OrderLine {
            product_id: l.product_id,
            quantity: l.quantity,
        })
        .collect();
    Lines::new(lines).map_err(serde::de::Error::custom)
}

/// Now, truncated to the millisecond the events and the schema carry, so a
/// value read back from MySQL equals the one that was written.
pub fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// Written as RFC 3339, UTC, milliseconds, `Z`; read as any RFC 3339 time
/// (any offset, any number of fractional digits), or as a time without an
/// offset, which means UTC: the original system writes Python's
/// `datetime.utcnow().isoformat()`, `2026-02-13T10:00:00.123456`, or
/// `2026-02-13T10:00:00` when the microseconds are zero.
pub mod millis {
    use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Parses what [`format`] writes, and what the original system writes,
    /// truncated to the millisecond that the events and the schema carry.
    pub fn parse(s: &str) -> Result<DateTime<Utc>, NotATimestamp> {
        let parsed = DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                // `%.f` takes any number of fractional digits, or none.
                NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                    .map(|t| t.and_utc())
            });
        parsed
            .map(|t| DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t))
            .map_err(|_| NotATimestamp(s.to_owned()))
    }

    /// A string that is none of the times [`parse`] reads.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[error(
        "{0:?} is not a timestamp: expected RFC 3339 (2026-02-13T10:00:00.000Z) \
         or an ISO 8601 UTC time without offset (2026-02-13T10:00:00.123456)"
    )]
    pub struct NotATimestamp(pub String);

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::parse_order;

    #[test]
    fn order_created_round_trips_with_the_seed_field_names() {
        let order = parse_order(
            br#"{"customer_id":"cust-12345","items":[{"product_id":"prod-101","quantity":2}]}"#,
        )
        .unwrap();
        let at = DateTime::parse_from_rfc3339("2026-02-13T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let event = crate::ingest::order_created(
            &order,
            None,
            &crate::idempotency::OrderIdKey::development(),
            at,
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["customer_id"], "cust-12345");
        assert_eq!(json["items"][0]["product_id"], "prod-101");
        assert_eq!(json["items"][0]["quantity"], 2);
        assert_eq!(json["timestamp"], "2026-02-13T10:00:00.000Z");
        let back: OrderCreated = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn failed_order_processed_carries_a_reason_and_a_processed_one_does_not() {
        let order_id = OrderId(uuid::Uuid::nil());
        let customer_id = CustomerId::parse("c").unwrap();
        let at = now_millis();
        let ok = OrderProcessed {
            order_id,
            customer_id: customer_id.clone(),
            status: OrderStatus::Processed,
            processed_at: at,
            reason: None,
        };
        let failed = OrderProcessed {
            status: OrderStatus::Failed,
            reason: Some(FailureReason::InsufficientStock),
            ..ok.clone()
        };
        let ok = serde_json::to_value(&ok).unwrap();
        let failed = serde_json::to_value(&failed).unwrap();
        assert_eq!(ok["status"], "PROCESSED");
        assert!(ok.get("reason").is_none());
        assert_eq!(failed["status"], "FAILED");
        assert_eq!(failed["reason"], "INSUFFICIENT_STOCK");
    }

    #[test]
    fn events_with_invalid_fields_do_not_decode() {
        let bad = r#"{"order_id":"00000000-0000-0000-0000-000000000000","customer_id":" ","items":[],"timestamp":"2026-02-13T10:00:00.000Z"}"#;
        assert!(serde_json::from_str::<OrderCreated>(bad).is_err());
        let bad_qty = r#"{"order_id":"00000000-0000-0000-0000-000000000000","customer_id":"c","items":[{"product_id":"p","quantity":0}],"timestamp":"2026-02-13T10:00:00.000Z"}"#;
        assert!(serde_json::from_str::<OrderCreated>(bad_qty).is_err());
    }

    #[test]
    fn timestamps_are_read_in_every_form_the_original_system_writes() {
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        for (written, meant) in [
            // ours, and the original's README
            ("2026-02-13T10:00:00.000Z", "2026-02-13T10:00:00Z"),
            // Python's datetime.utcnow().isoformat(): microseconds, no offset
            // (kept to the millisecond, as the schema stores it)
            ("2026-02-13T10:00:00.123456", "2026-02-13T10:00:00.123Z"),
            // ... and no fraction at all when the microseconds are zero
            ("2026-02-13T10:00:00", "2026-02-13T10:00:00Z"),
            // datetime.now(timezone.utc).isoformat(), and other offsets
            ("2026-02-13T10:00:00.5+00:00", "2026-02-13T10:00:00.5Z"),
            ("2026-02-13T12:00:00+02:00", "2026-02-13T10:00:00Z"),
            // str(datetime): a space instead of the T
            ("2026-02-13 10:00:00.123", "2026-02-13T10:00:00.123Z"),
        ] {
            assert_eq!(millis::parse(written), Ok(utc(meant)), "{written}");
        }
        for bad in [
            "",
            "yesterday",
            "2026-02-13",
            "2026-02-30T10:00:00",
            "10:00:00",
        ] {
            assert!(millis::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_original_systems_events_decode_and_ours_are_written_in_rfc_3339() {
        let original = r#"{"order_id":"3b1f16d4-37da-40c2-a24a-92dfc3636d4b","customer_id":"cust-12345","items":[{"product_id":"prod-101","quantity":2}],"timestamp":"2026-02-13T10:00:00.123456"}"#;
        let event: OrderCreated = serde_json::from_str(original).unwrap();
        assert_eq!(event.timestamp.timestamp_subsec_micros(), 123_000);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["timestamp"], "2026-02-13T10:00:00.123Z");

        let processed = r#"{"order_id":"3b1f16d4-37da-40c2-a24a-92dfc3636d4b","customer_id":"cust-12345","status":"PROCESSED","processed_at":"2026-02-13T10:00:05"}"#;
        let event: OrderProcessed = serde_json::from_str(processed).unwrap();
        assert_eq!(
            millis::format(&event.processed_at),
            "2026-02-13T10:00:05.000Z"
        );
    }

    /// Each version's events, frozen in engine/tests/data/events/: `v1` is
    /// what this version writes (byte for byte), `next` what a later
    /// version that adds fields would write. This code decodes both, so a
    /// rolling deploy's old processors read the new version's events and
    /// the new ones read the old; a change to what is written fails the
    /// first check and asks for a new frozen version.
    #[test]
    fn every_versions_events_decode_and_this_version_writes_v1() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/events");
        let read = |name: &str| {
            std::fs::read_to_string(format!("{dir}/{name}"))
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .trim_end()
                .to_owned()
        };
        let created_v1 = read("order-created.v1.json");
        let processed_v1 = read("order-processed.v1.json");
        let created: OrderCreated = serde_json::from_str(&created_v1).unwrap();
        let processed: OrderProcessed = serde_json::from_str(&processed_v1).unwrap();
        assert_eq!(serde_json::to_string(&created).unwrap(), created_v1);
        assert_eq!(serde_json::to_string(&processed).unwrap(), processed_v1);

        let created_next: OrderCreated =
            serde_json::from_str(&read("order-created.next.json")).unwrap();
        assert_eq!(
            created_next, created,
            "the later version's fields are ignored"
        );
        let processed_next: OrderProcessed =
            serde_json::from_str(&read("order-processed.next.json")).unwrap();
        assert_eq!(processed_next, processed);
    }

    /// Tolerance is for fields, not values: a later version's event whose
    /// values break this version's rules still does not decode.
    #[test]
    fn an_unknown_field_is_ignored_but_a_bad_value_is_not() {
        let next = r#"{"order_id":"00000000-0000-0000-0000-000000000000","customer_id":"c","items":[{"product_id":"p","quantity":0,"unit_price_cents":100}],"timestamp":"2026-02-13T10:00:00.000Z","channel":"web"}"#;
        assert!(serde_json::from_str::<OrderCreated>(next).is_err());
        let repeated = r#"{"order_id":"00000000-0000-0000-0000-000000000000","customer_id":"c","items":[{"product_id":"p","quantity":1,"x":1},{"product_id":"p","quantity":2}],"timestamp":"2026-02-13T10:00:00.000Z"}"#;
        assert!(serde_json::from_str::<OrderCreated>(repeated).is_err());
    }
}
