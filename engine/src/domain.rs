//! Domain types: the words of the design (order, line, inventory, status) as
//! types that carry their rules. An order's lines are [`Lines`], which
//! cannot hold an invalid set; an [`OrderId`] that names an order is minted
//! by [`crate::idempotency`] (parsing one only reads a UUID).

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
    pub fn parse(s: &str) -> Result<Self, IdError> {
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
    pub fn parse(s: &str) -> Result<Self, IdError> {
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

/// Why a string is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty or blank")]
    Blank,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must not contain control characters")]
    Control,
}

fn parse_id(s: &str, max: usize) -> Result<String, IdError> {
    if s.trim().is_empty() {
        return Err(IdError::Blank);
    }
    if s.chars().count() > max {
        return Err(IdError::TooLong(max));
    }
    if s.chars().any(char::is_control) {
        return Err(IdError::Control);
    }
    Ok(s.to_owned())
}

macro_rules! string_conversions {
    ($t:ident) => {
        impl TryFrom<String> for $t {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
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

/// A quantity outside 1 ..= [`MAX_QUANTITY`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantity must be between 1 and {MAX_QUANTITY}")]
pub struct QuantityError;

impl TryFrom<u32> for Quantity {
    type Error = QuantityError;
    fn try_from(n: u32) -> Result<Self, QuantityError> {
        Quantity::new(n).ok_or(QuantityError)
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

/// Why plain values do not make an order (for orders built in code: tests,
/// benchmarks, the sim's load; a request body gets a
/// [`crate::validation::ValidationError`] naming the field instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("customer_id {0}")]
    Customer(IdError),
    #[error("product_id {0}")]
    Product(#[from] IdError),
    #[error(transparent)]
    Quantity(#[from] QuantityError),
    #[error("items {0}")]
    Lines(#[from] LinesError),
}

impl OrderLine {
    pub fn new(product_id: &str, quantity: u32) -> Result<Self, OrderError> {
        Ok(OrderLine {
            product_id: ProductId::parse(product_id)?,
            quantity: Quantity::try_from(quantity)?,
        })
    }
}

/// An order's lines, by the one rule every order obeys: 1 to
/// [`MAX_LINES`] lines, each product on one line, kept sorted by
/// `product_id` (the canonical order, which the order id hashes and the
/// store locks rows in). Nothing else can hold them: a request body
/// ([`crate::validation`]), an `OrderCreated` off a queue (serde decodes
/// through [`Lines::new`]) and a test's order all go through here, and what
/// takes `Lines` checks nothing again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<OrderLine>", into = "Vec<OrderLine>")]
pub struct Lines(Vec<OrderLine>);

/// Why lines are not an order's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinesError {
    #[error("must not be empty")]
    Empty,
    #[error("must have at most {MAX_LINES} lines")]
    TooMany,
    /// The line at `again` names the product of the line at `first` (their
    /// places as given).
    #[error("repeats items[{first}].product_id; put the whole quantity on one line")]
    Repeated { first: usize, again: usize },
}

impl Lines {
    /// The lines, sorted, if they make an order.
    pub fn new(mut lines: Vec<OrderLine>) -> Result<Lines, LinesError> {
        Lines::check_count(lines.len())?;
        let mut seen = std::collections::HashMap::with_capacity(lines.len());
        for (again, line) in lines.iter().enumerate() {
            if let Some(first) = seen.insert(&line.product_id, again) {
                return Err(LinesError::Repeated { first, again });
            }
        }
        lines.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        Ok(Lines(lines))
    }

    /// Whether `n` lines can make an order (before they are parsed).
    pub fn check_count(n: usize) -> Result<(), LinesError> {
        match n {
            0 => Err(LinesError::Empty),
            n if n > MAX_LINES => Err(LinesError::TooMany),
            _ => Ok(()),
        }
    }

    /// `(product_id, quantity)` lines (tests, benchmarks).
    pub fn of(lines: &[(&str, u32)]) -> Result<Lines, OrderError> {
        let lines = lines
            .iter()
            .map(|(p, q)| OrderLine::new(p, *q))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Lines::new(lines)?)
    }

    pub fn as_slice(&self) -> &[OrderLine] {
        &self.0
    }
}

impl std::ops::Deref for Lines {
    type Target = [OrderLine];
    fn deref(&self) -> &[OrderLine] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Lines {
    type Item = &'a OrderLine;
    type IntoIter = std::slice::Iter<'a, OrderLine>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl TryFrom<Vec<OrderLine>> for Lines {
    type Error = LinesError;
    fn try_from(lines: Vec<OrderLine>) -> Result<Lines, LinesError> {
        Lines::new(lines)
    }
}

impl From<Lines> for Vec<OrderLine> {
    fn from(lines: Lines) -> Vec<OrderLine> {
        lines.0
    }
}

/// An order that passed validation: a customer and its [`Lines`]. What
/// [`crate::validation::parse_order`] makes of a `POST /api/orders` body,
/// and (as `OrderRequest`) the body the OpenAPI document describes.
///
/// Serde decodes one too (through the same [`CustomerId`] and [`Lines`]),
/// for callers that need no field-by-field messages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrderRequest)]
pub struct ValidOrder {
    // The pattern: one character that is not white space, and no control
    // characters, as `CustomerId::parse` checks.
    #[schema(
        value_type = String,
        example = "cust-12345",
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    customer_id: CustomerId,
    /// Each product on one line.
    #[schema(value_type = Vec<OrderLine>, min_items = 1, max_items = 100)]
    items: Lines,
}

impl ValidOrder {
    pub fn new(customer_id: CustomerId, items: Lines) -> Self {
        ValidOrder { customer_id, items }
    }

    /// An order from plain values: `(product_id, quantity)` lines (tests,
    /// benchmarks).
    pub fn of(customer_id: &str, lines: &[(&str, u32)]) -> Result<Self, OrderError> {
        let customer_id = CustomerId::parse(customer_id).map_err(OrderError::Customer)?;
        Ok(Self::new(customer_id, Lines::of(lines)?))
    }

    pub fn customer_id(&self) -> &CustomerId {
        &self.customer_id
    }
    pub fn items(&self) -> &Lines {
        &self.items
    }
}

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
    fn lines_hold_the_orders_rule_however_they_are_made() {
        let line = |p: &str, q| OrderLine::new(p, q).unwrap();
        let lines = Lines::new(vec![line("b", 1), line("a", 2)]).unwrap();
        let ids: Vec<&str> = lines.iter().map(|l| l.product_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"], "sorted by product");
        assert_eq!(Lines::new(vec![]), Err(LinesError::Empty));
        let many = (0..=MAX_LINES).map(|i| line(&format!("p{i}"), 1)).collect();
        assert_eq!(Lines::new(many), Err(LinesError::TooMany));
        assert_eq!(
            Lines::new(vec![line("a", 1), line("b", 1), line("a", 2)]),
            Err(LinesError::Repeated { first: 0, again: 2 })
        );
        // Off a queue: serde decodes through the same rule.
        let twice = r#"[{"product_id":"a","quantity":1},{"product_id":"a","quantity":1}]"#;
        assert!(serde_json::from_str::<Lines>(twice).is_err());
        let unsorted = r#"[{"product_id":"b","quantity":1},{"product_id":"a","quantity":1}]"#;
        let decoded: Lines = serde_json::from_str(unsorted).unwrap();
        assert_eq!(decoded.as_slice()[0].product_id.as_str(), "a");
    }

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
