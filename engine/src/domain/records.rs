//! What the store records: an order's outcome (its status, and why it
//! failed), an inventory row, and the seed's products. Statuses and
//! reasons are stored and sent by one name each.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::{CustomerId, OrderId, ProductId};
use super::lines::OrderLine;

/// An enum whose variants are stored and sent by name: each variant's name
/// is written once, and serde, the OpenAPI document, `as_str`, `parse`,
/// `Display` and `ALL` all follow from it (a new variant cannot be spelt
/// two ways). The name is taken as a bare token (`tt`), not a `literal`
/// fragment, which utoipa's derive would not see through.
macro_rules! stored_names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $stored:tt,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $stored)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored and sent name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $stored,)+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

stored_names! {
    /// Where an order stands. Stored and sent as the upper-case name.
    pub enum OrderStatus {
        Pending = "PENDING",
        Processed = "PROCESSED",
        Failed = "FAILED",
    }
}

stored_names! {
    /// Why an order was recorded `FAILED`. Stored and sent as the code.
    pub enum FailureReason {
        /// A line asked for more than the product had.
        InsufficientStock = "INSUFFICIENT_STOCK",
        /// A line named a product the inventory does not have.
        UnknownProduct = "UNKNOWN_PRODUCT",
    }
}

/// An order as the store records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderRecord {
    #[schema(value_type = String, format = Uuid)]
    pub order_id: OrderId,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    pub items: Vec<OrderLine>,
    pub status: OrderStatus,
    pub failure_reason: Option<FailureReason>,
    /// When ingest accepted the order (from `OrderCreated.timestamp`).
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the processor committed its outcome.
    pub processed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One inventory row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InventoryItem {
    #[schema(value_type = String, example = "prod-101")]
    pub product_id: ProductId,
    pub product_name: String,
    pub quantity_available: i64,
}

/// The seed's five products and their starting stock.
pub fn seed_products() -> Vec<InventoryItem> {
    [
        ("prod-101", "Wireless Headphones", 50),
        ("prod-102", "Mechanical Keyboard", 20),
        ("prod-103", "Gaming Mouse", 35),
        ("prod-104", "USB-C Monitor", 10),
        ("prod-105", "Ergonomic Chair", 5),
    ]
    .into_iter()
    .map(|(id, name, qty)| InventoryItem {
        product_id: ProductId(id.to_owned()),
        product_name: name.to_owned(),
        quantity_available: qty,
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_names_statuses_and_reasons_as_they_are_sent() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(crate::http::ApiDoc::openapi()).unwrap();
        let names = |schema: &str| doc["components"]["schemas"][schema]["enum"].clone();
        let sent = |all: Vec<&str>| serde_json::json!(all);
        assert_eq!(
            names("OrderStatus"),
            sent(OrderStatus::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            names("FailureReason"),
            sent(FailureReason::ALL.iter().map(|r| r.as_str()).collect())
        );
    }

    #[test]
    fn the_stored_names_are_the_serde_names() {
        for &s in OrderStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        for &r in FailureReason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(FailureReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(OrderStatus::parse("processed"), None);
    }
}
