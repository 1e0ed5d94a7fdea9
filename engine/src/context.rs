//! What the consumers share: the store, metrics and the failure log. Built
//! once, cloned into every worker.

use std::sync::Arc;

use crate::dlq::FailureLog;
use crate::metrics::Metrics;
use crate::store::OrderStore;

#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn OrderStore>,
    pub metrics: Arc<Metrics>,
    pub failures: Arc<FailureLog>,
}

impl Context {
    /// A context with fresh metrics and an empty failure log.
    pub fn new(store: Arc<dyn OrderStore>) -> Self {
        Context {
            store,
            metrics: Arc::new(Metrics::new()),
            failures: Arc::new(FailureLog::default()),
        }
    }
}
