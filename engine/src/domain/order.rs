//! The order a request makes: a customer and its lines, once they passed
//! validation.

use serde::Deserialize;
use utoipa::ToSchema;

use super::ids::CustomerId;
use super::lines::{Lines, OrderError, OrderLine};

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

#[cfg(test)]
mod tests {
    use super::*;

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
