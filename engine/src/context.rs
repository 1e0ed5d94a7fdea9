//! What the consumers share: the store, metrics, the failure log and the
//! fault injector. Built once, cloned into every worker.

use std::sync::Arc;

use crate::dlq::FailureLog;
use crate::faults::Faults;
use crate::metrics::Metrics;
use crate::store::OrderStore;

#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn OrderStore>,
    pub metrics: Arc<Metrics>,
    pub failures: Arc<FailureLog>,
    pub faults: Arc<Faults>,
}

impl Context {
    /// A context with fresh metrics, an empty failure log and no faults.
    pub fn new(store: Arc<dyn OrderStore>) -> Self {
        Context {
            store,
            metrics: Arc::new(Metrics::new()),
            failures: Arc::new(FailureLog::default()),
            faults: Faults::none(),
        }
    }
}
