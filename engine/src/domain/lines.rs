//! An order's lines: a [`Quantity`] in range, an [`OrderLine`], and
//! [`Lines`], which holds the one rule every order's set of lines obeys, so
//! nothing that takes them checks again.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::{IdError, ProductId};
use super::{MAX_LINES, MAX_QUANTITY};

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
}
