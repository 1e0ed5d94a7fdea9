//! The ids: an order's (a UUID its content derives), a product's and a
//! customer's (non-blank strings no longer than the schema stores). Each is
//! checked once, where it is parsed.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{MAX_CUSTOMER_ID_LEN, MAX_PRODUCT_ID_LEN};

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
pub struct ProductId(pub(super) String);

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
