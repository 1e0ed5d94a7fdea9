//! The two events that cross the queues, with the seed's field names.
//! Timestamps are RFC 3339 UTC with milliseconds (`2026-02-13T10:00:00.000Z`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{CustomerId, FailureReason, OrderId, OrderLine, OrderStatus};

/// Published by ingest once an order is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderCreated {
    #[schema(value_type = String, format = Uuid)]
    pub order_id: OrderId,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    pub items: Vec<OrderLine>,
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

/// Now, truncated to the millisecond the events and the schema carry, so a
/// value read back from MySQL equals the one that was written.
pub fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// RFC 3339, UTC, milliseconds, `Z`.
pub mod millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
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
        let event = crate::ingest::order_created(&order, None, at);
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
}
