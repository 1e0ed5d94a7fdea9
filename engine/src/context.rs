//! What the pipeline's stages share: the store, metrics, the failure log,
//! and the key ingest derives order ids under. Built once, cloned into
//! every worker and the HTTP state.

use std::sync::Arc;

use crate::dlq::FailureLog;
use crate::idempotency::OrderIdKey;
use crate::metrics::Metrics;
use crate::store::OrderStore;

#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn OrderStore>,
    pub metrics: Arc<Metrics>,
    pub failures: Arc<FailureLog>,
    /// The key ingest derives order ids under.
    pub order_ids: OrderIdKey,
}

impl Context {
    /// A context with fresh metrics, an empty failure log and the
    /// development order id key.
    pub fn new(store: Arc<dyn OrderStore>) -> Self {
        Context {
            store,
            metrics: Arc::new(Metrics::new()),
            failures: Arc::new(FailureLog::default()),
            order_ids: OrderIdKey::development(),
        }
    }

    /// The same context, deriving order ids under `key`.
    pub fn with_order_ids(self, key: OrderIdKey) -> Self {
        Context {
            order_ids: key,
            ..self
        }
    }
}
