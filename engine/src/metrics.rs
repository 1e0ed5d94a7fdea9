//! Prometheus metrics: counters the engine bumps as orders move, and queue
//! depth gauges read when `/metrics` is scraped.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

pub struct Metrics {
    registry: Registry,
    pub accepted: Counter,
    pub rejected: Counter,
    pub processed: Counter,
    pub failed: Counter,
    pub duplicate_deliveries: Counter,
    pub poison_messages: Counter,
    pub store_retries: Counter,
    pub notifications: Counter,
    /// Batches the processor applied (orders per batch: the outcomes over this).
    pub batches: Counter,
    queue_visible: Family<Labels, Gauge>,
    queue_in_flight: Family<Labels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("orderflow");
        let m = Metrics {
            registry: Registry::default(),
            accepted: Counter::default(),
            rejected: Counter::default(),
            processed: Counter::default(),
            failed: Counter::default(),
            duplicate_deliveries: Counter::default(),
            poison_messages: Counter::default(),
            store_retries: Counter::default(),
            notifications: Counter::default(),
            batches: Counter::default(),
            queue_visible: Family::default(),
            queue_in_flight: Family::default(),
        };
        let counters = [
            (
                "orders_accepted",
                "Orders answered 202 by ingest",
                &m.accepted,
            ),
            (
                "orders_rejected",
                "Requests refused by ingest with a 4xx",
                &m.rejected,
            ),
            (
                "orders_processed",
                "Orders recorded PROCESSED",
                &m.processed,
            ),
            ("orders_failed", "Orders recorded FAILED", &m.failed),
            (
                "duplicate_deliveries",
                "OrderCreated deliveries of an order already recorded (not applied again)",
                &m.duplicate_deliveries,
            ),
            (
                "poison_messages",
                "Messages that could not be decoded",
                &m.poison_messages,
            ),
            (
                "store_retries",
                "Batches retried after a transient store error",
                &m.store_retries,
            ),
            (
                "notifications",
                "Notifications dispatched",
                &m.notifications,
            ),
            (
                "processor_batches",
                "Batches of orders the processor applied in one transaction each",
                &m.batches,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "queue_messages_visible",
            "Messages waiting in a queue",
            m.queue_visible.clone(),
        );
        registry.register(
            "queue_messages_in_flight",
            "Messages received and not yet deleted",
            m.queue_in_flight.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Sets a queue's depth gauges (called at scrape time).
    pub fn set_queue_depth(&self, queue: &str, visible: u64, in_flight: u64) {
        let labels = vec![("queue".to_owned(), queue.to_owned())];
        self.queue_visible
            .get_or_create(&labels)
            .set(visible as i64);
        self.queue_in_flight
            .get_or_create(&labels)
            .set(in_flight as i64);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
