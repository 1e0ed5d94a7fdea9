//! Domain types: the words of the design (order, line, inventory, status) as
//! types that carry their rules. A `ValidOrder` can only be built by
//! [`crate::validation`], an [`OrderId`] only by [`crate::idempotency`].

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest product id the schema stores (`inventory.product_id VARCHAR(64)`).
pub const MAX_PRODUCT_ID_LEN: usize = 64;
/// Longest customer id the schema stores (`orders.customer_id VARCHAR(128)`).
pub const MAX_CUSTOMER_ID_LEN: usize = 128;
/// Largest quantity one line may ask for: far above any real basket, far
/// below anything that could overflow a sum of lines.
pub const MAX_QUANTITY: u32 = 1_000_000;
/// Most lines one order may carry.
pub const MAX_LINES: usize = 100;

/// An order id: a UUID derived from the order's content (see `idempotency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(pub(crate) uuid::Uuid);

impl OrderId {
    /// Parses an id as it appears in a URL or an event. Only ids this system
    /// minted will ever be found, but any UUID is a well-formed question.
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::parse_str(s).ok().map(OrderId)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(
            self.0
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer()),
        )
    }
}

/// A product id: non-blank, at most [`MAX_PRODUCT_ID_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductId(String);

impl ProductId {
    pub fn parse(s: &str) -> Result<Self, String> {
        parse_id(s, MAX_PRODUCT_ID_LEN).map(ProductId)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A customer id: non-blank, at most [`MAX_CUSTOMER_ID_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerId(String);

impl CustomerId {
    pub fn parse(s: &str) -> Result<Self, String> {
        parse_id(s, MAX_CUSTOMER_ID_LEN).map(CustomerId)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

fn parse_id(s: &str, max: usize) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("must not be empty or blank".into());
    }
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_owned())
}

macro_rules! string_conversions {
    ($t:ident) => {
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                $t::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.0
            }
        }
    };
}
string_conversions!(ProductId);
string_conversions!(CustomerId);

/// A line quantity: 1 ..= [`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    pub fn new(n: u32) -> Option<Self> {
        (1..=MAX_QUANTITY).contains(&n).then_some(Quantity(n))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Quantity {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, String> {
        Quantity::new(n).ok_or_else(|| format!("quantity must be between 1 and {MAX_QUANTITY}"))
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    // The pattern: one character that is not white space, and no control
    // characters, as `ProductId::parse` checks.
    #[schema(value_type = String, example = "prod-101", min_length = 1, max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub product_id: ProductId,
    #[schema(value_type = u32, minimum = 1, maximum = 1_000_000, example = 2)]
    pub quantity: Quantity,
}

impl OrderLine {
    pub fn new(product_id: &str, quantity: u32) -> Result<Self, String> {
        Ok(OrderLine {
            product_id: ProductId::parse(product_id)?,
            quantity: Quantity::try_from(quantity)?,
        })
    }
}

/// An order that passed validation: a customer and 1..=[`MAX_LINES`] lines
/// with distinct products, kept sorted by `product_id` (the canonical order,
/// and the order the processor locks rows in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidOrder {
    pub(crate) customer_id: CustomerId,
    pub(crate) items: Vec<OrderLine>,
}

impl ValidOrder {
    /// An order from typed lines, by the rules [`crate::validation::parse_order`]
    /// applies to a request body: 1 to [`MAX_LINES`] lines, each product
    /// once; the lines are sorted by product.
    pub fn new(customer_id: CustomerId, mut items: Vec<OrderLine>) -> Result<Self, String> {
        if items.is_empty() || items.len() > MAX_LINES {
            return Err(format!("an order has 1 to {MAX_LINES} lines"));
        }
        items.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        if items.windows(2).any(|w| w[0].product_id == w[1].product_id) {
            return Err("an order names each product once".into());
        }
        Ok(ValidOrder { customer_id, items })
    }

    /// [`ValidOrder::new`] from plain values: `(product_id, quantity)` lines.
    pub fn of(customer_id: &str, lines: &[(&str, u32)]) -> Result<Self, String> {
        let items = lines
            .iter()
            .map(|(p, q)| OrderLine::new(p, *q))
            .collect::<Result<_, _>>()?;
        Self::new(CustomerId::parse(customer_id)?, items)
    }

    pub fn customer_id(&self) -> &CustomerId {
        &self.customer_id
    }
    pub fn items(&self) -> &[OrderLine] {
        &self.items
    }
}

/// Where an order stands. Stored and sent as the upper-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderStatus {
    Pending,
    Processed,
    Failed,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 3] = [
        OrderStatus::Pending,
        OrderStatus::Processed,
        OrderStatus::Failed,
    ];

    /// The stored and sent name (serde's, checked by a test).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Processed => "PROCESSED",
            OrderStatus::Failed => "FAILED",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why an order was recorded `FAILED`. Stored and sent as the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureReason {
    /// A line asked for more than the product had.
    InsufficientStock,
    /// A line named a product the inventory does not have.
    UnknownProduct,
}

impl FailureReason {
    pub const ALL: [FailureReason; 2] = [
        FailureReason::InsufficientStock,
        FailureReason::UnknownProduct,
    ];

    /// The stored and sent code (serde's, checked by a test).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::InsufficientStock => "INSUFFICIENT_STOCK",
            FailureReason::UnknownProduct => "UNKNOWN_PRODUCT",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
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
    fn the_stored_names_are_the_serde_names() {
        for s in OrderStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        for r in FailureReason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(FailureReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(OrderStatus::parse("processed"), None);
    }

    #[test]
    fn a_valid_order_from_typed_lines_follows_the_body_rules() {
        let o = ValidOrder::of("c", &[("prod-102", 1), ("prod-101", 2)]).unwrap();
        let products: Vec<&str> = o.items().iter().map(|l| l.product_id.as_str()).collect();
        assert_eq!(products, ["prod-101", "prod-102"], "sorted by product");
        assert!(ValidOrder::of("c", &[]).is_err());
        assert!(ValidOrder::of("c", &[("p", 1), ("p", 2)]).is_err());
        assert!(ValidOrder::of("c", &[("p", 0)]).is_err());
        assert!(ValidOrder::of(" ", &[("p", 1)]).is_err());
        let from_body = crate::validation::parse_order(
            br#"{"customer_id":"c","items":[{"product_id":"prod-102","quantity":1},{"product_id":"prod-101","quantity":2}]}"#,
        )
        .unwrap();
        assert_eq!(o, from_body);
    }
}
