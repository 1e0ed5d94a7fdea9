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

/// What the pipeline records as it runs: its metrics and its failure log.
/// Shared by whoever reports on the pipeline (the sim's report, its
/// deployed shape's functions).
#[derive(Clone)]
pub struct Books {
    pub metrics: Arc<Metrics>,
    pub failures: Arc<FailureLog>,
}

impl Default for Books {
    fn default() -> Self {
        Books {
            metrics: Arc::new(Metrics::new()),
            failures: Arc::new(FailureLog::default()),
        }
    }
}

impl Context {
    /// A context with fresh metrics, an empty failure log and the
    /// development order id key.
    pub fn new(store: Arc<dyn OrderStore>) -> Self {
        Context::keeping(store, Books::default())
    }

    /// A context that records into `books`, with the development order
    /// id key.
    pub fn keeping(store: Arc<dyn OrderStore>, books: Books) -> Self {
        Context {
            store,
            metrics: books.metrics,
            failures: books.failures,
            order_ids: OrderIdKey::development(),
        }
    }

    /// The books this context records into.
    pub fn books(&self) -> Books {
        Books {
            metrics: self.metrics.clone(),
            failures: self.failures.clone(),
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
