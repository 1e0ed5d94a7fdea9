//! Parse, don't validate: turns a request body into a [`ValidOrder`] or a
//! [`ValidationError`] that names the field and the reason. Nothing past this
//! boundary ever sees an unchecked order.

use serde_json::{Map, Value};

use crate::domain::{
    CustomerId, Lines, LinesError, OrderLine, ProductId, Quantity, ValidOrder, MAX_QUANTITY,
};

/// Why a request was refused. `field` is a path such as `items[2].quantity`;
/// `message` is the sentence the client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub field: Option<String>,
    pub message: String,
}

impl ValidationError {
    fn body(message: impl Into<String>) -> Self {
        ValidationError {
            field: None,
            message: message.into(),
        }
    }
    fn field(field: impl Into<String>, reason: impl AsRef<str>) -> Self {
        let field = field.into();
        let message = format!("{field} {}", reason.as_ref());
        ValidationError {
            field: Some(field),
            message,
        }
    }
}

/// Parses a `POST /api/orders` body.
pub fn parse_order(body: &[u8]) -> Result<ValidOrder, ValidationError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ValidationError::body(format!("body is not valid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ValidationError::body("body must be a JSON object"));
    };
    reject_unknown(&obj, &["customer_id", "items"], "")?;

    let customer_id = match obj.get("customer_id") {
        None => return Err(ValidationError::field("customer_id", "is required")),
        Some(Value::String(s)) => CustomerId::parse(s)
            .map_err(|r| ValidationError::field("customer_id", r.to_string()))?,
        Some(_) => return Err(ValidationError::field("customer_id", "must be a string")),
    };

    let lines = match obj.get("items") {
        None => return Err(ValidationError::field("items", "is required")),
        Some(Value::Array(lines)) => lines,
        Some(_) => return Err(ValidationError::field("items", "must be an array")),
    };
    Lines::check_count(lines.len()).map_err(|e| ValidationError::field("items", e.to_string()))?;
    let items = lines
        .iter()
        .enumerate()
        .map(|(i, line)| parse_line(i, line))
        .collect::<Result<Vec<_>, _>>()?;
    let items = Lines::new(items).map_err(|e| match e {
        LinesError::Repeated { again, .. } => {
            ValidationError::field(format!("items[{again}].product_id"), e.to_string())
        }
        e => ValidationError::field("items", e.to_string()),
    })?;
    Ok(ValidOrder::new(customer_id, items))
}

fn parse_line(i: usize, line: &Value) -> Result<OrderLine, ValidationError> {
    let Value::Object(obj) = line else {
        return Err(ValidationError::field(
            format!("items[{i}]"),
            "must be an object",
        ));
    };
    reject_unknown(obj, &["product_id", "quantity"], &format!("items[{i}]."))?;
    let field = |name: &str| format!("items[{i}].{name}");

    let product_id = match obj.get("product_id") {
        None => return Err(ValidationError::field(field("product_id"), "is required")),
        Some(Value::String(s)) => ProductId::parse(s)
            .map_err(|r| ValidationError::field(field("product_id"), r.to_string()))?,
        Some(_) => {
            return Err(ValidationError::field(
                field("product_id"),
                "must be a string",
            ))
        }
    };

    let quantity = match obj.get("quantity") {
        None => return Err(ValidationError::field(field("quantity"), "is required")),
        // `as_u64` is `None` for booleans, strings, floats (even `2.0`) and
        // negatives: exactly the values that are not positive integers.
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) | None => None,
            Some(q) if q > u64::from(MAX_QUANTITY) => {
                return Err(ValidationError::field(
                    field("quantity"),
                    format!("must be at most {MAX_QUANTITY}"),
                ))
            }
            Some(q) => u32::try_from(q).ok().and_then(Quantity::new),
        },
        Some(_) => None,
    }
    .ok_or_else(|| ValidationError::field(field("quantity"), "must be a positive integer"))?;

    Ok(OrderLine {
        product_id,
        quantity,
    })
}

fn reject_unknown(
    obj: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
) -> Result<(), ValidationError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ValidationError::field(
            format!("{prefix}{k}"),
            "is not a known field",
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MAX_LINES;

    fn err(body: &str) -> String {
        parse_order(body.as_bytes()).unwrap_err().message
    }

    #[test]
    fn accepts_the_seed_payload_and_sorts_lines_by_product() {
        let order = parse_order(
            br#"{"customer_id":"cust-1","items":[{"product_id":"prod-103","quantity":1},{"product_id":"prod-101","quantity":2}]}"#,
        )
        .unwrap();
        assert_eq!(order.customer_id().as_str(), "cust-1");
        let ids: Vec<_> = order
            .items()
            .iter()
            .map(|l| l.product_id.as_str())
            .collect();
        assert_eq!(ids, ["prod-101", "prod-103"]);
    }

    #[test]
    fn every_bad_quantity_is_named_with_its_line() {
        for q in [
            "true", "1.5", "2.0", "\"2\"", "0", "-5", "null", "[]", "{}", "1e3",
        ] {
            let body = format!(
                r#"{{"customer_id":"c","items":[{{"product_id":"p","quantity":1}},{{"product_id":"q","quantity":{q}}}]}}"#
            );
            assert_eq!(
                err(&body),
                "items[1].quantity must be a positive integer",
                "quantity {q}"
            );
        }
        assert_eq!(
            err(r#"{"customer_id":"c","items":[{"product_id":"p","quantity":1000001}]}"#),
            "items[0].quantity must be at most 1000000"
        );
    }

    #[test]
    fn structure_errors_name_the_field() {
        let cases = [
            ("{", "body is not valid JSON"),
            ("[]", "body must be a JSON object"),
            ("\"x\"", "body must be a JSON object"),
            (
                r#"{"items":[{"product_id":"p","quantity":1}]}"#,
                "customer_id is required",
            ),
            (
                r#"{"customer_id":5,"items":[]}"#,
                "customer_id must be a string",
            ),
            (
                r#"{"customer_id":"   ","items":[]}"#,
                "customer_id must not be empty or blank",
            ),
            (r#"{"customer_id":"c"}"#, "items is required"),
            (
                r#"{"customer_id":"c","items":{}}"#,
                "items must be an array",
            ),
            (
                r#"{"customer_id":"c","items":[]}"#,
                "items must not be empty",
            ),
            (
                r#"{"customer_id":"c","items":[5]}"#,
                "items[0] must be an object",
            ),
            (
                r#"{"customer_id":"c","items":[{"quantity":1}]}"#,
                "items[0].product_id is required",
            ),
            (
                r#"{"customer_id":"c","items":[{"product_id":"","quantity":1}]}"#,
                "items[0].product_id must not be empty or blank",
            ),
            (
                r#"{"customer_id":"c","items":[{"product_id":7,"quantity":1}]}"#,
                "items[0].product_id must be a string",
            ),
            (
                r#"{"customer_id":"c","items":[{"product_id":"p"}]}"#,
                "items[0].quantity is required",
            ),
            (
                r#"{"customer_id":"c","items":[{"product_id":"p","quantity":1,"price":3}]}"#,
                "items[0].price is not a known field",
            ),
            (
                r#"{"customer_id":"c","coupon":"x","items":[{"product_id":"p","quantity":1}]}"#,
                "coupon is not a known field",
            ),
            (
                r#"{"customer_id":"c","items":[{"product_id":"p","quantity":1},{"product_id":"p","quantity":2}]}"#,
                "items[1].product_id repeats items[0].product_id",
            ),
        ];
        for (body, want) in cases {
            let got = err(body);
            assert!(got.starts_with(want), "{body}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn too_many_lines_and_too_long_ids_are_refused() {
        let lines: Vec<String> = (0..=MAX_LINES)
            .map(|i| format!(r#"{{"product_id":"p{i}","quantity":1}}"#))
            .collect();
        let body = format!(r#"{{"customer_id":"c","items":[{}]}}"#, lines.join(","));
        assert_eq!(err(&body), "items must have at most 100 lines");

        let long = "x".repeat(65);
        let body =
            format!(r#"{{"customer_id":"c","items":[{{"product_id":"{long}","quantity":1}}]}}"#);
        assert_eq!(
            err(&body),
            "items[0].product_id must be at most 64 characters"
        );
    }
}
