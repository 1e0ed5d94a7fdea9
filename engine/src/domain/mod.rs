//! Domain types: the words of the design (order, line, inventory, status) as
//! types that carry their rules. An order's lines are [`Lines`], which
//! cannot hold an invalid set; an [`OrderId`] that names an order is minted
//! by [`crate::idempotency`] (parsing one only reads a UUID).
//!
//! Each kind of word in its own file: the ids (`ids`), an order's lines and
//! quantities (`lines`), the order a request makes (`order`), and what the
//! store records: outcomes, inventory rows, the seed (`records`). All are
//! named from here, as `domain::X`.

mod ids;
mod lines;
mod order;
mod records;

pub use ids::{CustomerId, IdError, OrderId, ProductId};
pub use lines::{Lines, LinesError, OrderError, OrderLine, Quantity, QuantityError};
pub use order::ValidOrder;
pub use records::{seed_products, FailureReason, InventoryItem, OrderRecord, OrderStatus};

/// Longest product id the schema stores (`inventory.product_id VARCHAR(64)`).
pub const MAX_PRODUCT_ID_LEN: usize = 64;
/// Longest customer id the schema stores (`orders.customer_id VARCHAR(128)`).
pub const MAX_CUSTOMER_ID_LEN: usize = 128;
/// Largest quantity one line may ask for: far above any real basket, far
/// below anything that could overflow a sum of lines.
pub const MAX_QUANTITY: u32 = 1_000_000;
/// Most lines one order may carry.
pub const MAX_LINES: usize = 100;
