//! Shared workload builders for the criterion benchmarks in `benches/`.

use engine::events::OrderCreated;

/// A typical order body: three lines.
pub const ORDER_BODY: &str = r#"{"customer_id":"bench-customer","items":[{"product_id":"prod-103","quantity":1},{"product_id":"prod-101","quantity":2},{"product_id":"prod-102","quantity":1}]}"#;

/// `n` distinct orders of one unit each, all on `product`, numbered from
/// `start` so successive batches do not repeat ids.
pub fn orders_on(product: &str, start: usize, n: usize) -> Vec<OrderCreated> {
    (start..start + n)
        .map(|i| {
            let order = engine::domain::ValidOrder::of(&format!("bench-{i}"), &[(product, 1)])
                .expect("a valid order");
            engine::ingest::order_created(
                &order,
                None,
                &engine::idempotency::OrderIdKey::development(),
                engine::events::now_millis(),
            )
        })
        .collect()
}

/// `n` distinct orders spread over `products` products (`spread-0`...).
pub fn orders_spread(products: usize, start: usize, n: usize) -> Vec<OrderCreated> {
    (start..start + n)
        .flat_map(|i| orders_on(&format!("spread-{}", i % products), i, 1))
        .collect()
}
