//! What a running shape used and did: its usage in AWS's units for the
//! bill ([`Shape::usage`]), and its samples over time ([`Shape::sampler`]).

use super::*;

impl Shape {
    /// What the shape used since it was built, in AWS's units, for its
    /// bill ([`bill::bill`]), on the settings' architecture.
    pub fn usage(&self) -> bill::Usage {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let functions: Vec<bill::FunctionUsage> = self
            .functions
            .all()
            .map(|f| bill::FunctionUsage {
                name: f.name.to_string(),
                memory_mb: self
                    .settings
                    .functions
                    .get(f.name)
                    .map_or(0, |s| s.memory_mb),
                arm64: self.settings.architecture == Architecture::Arm64,
                requests: load(&f.stats.invocations),
                billed_ms: load(&f.stats.billed_ms),
            })
            .collect();
        let secret_calls: u64 = self
            .functions
            .all()
            .map(|f| {
                let reads = self
                    .settings
                    .functions
                    .get(f.name)
                    .map_or(0, |s| secret_reads(f.name, s));
                load(&f.stats.cold_starts) * u64::from(reads)
            })
            .sum();
        let invocations: u64 = functions.iter().map(|f| f.requests).sum();
        // The queue functions' EMF record after each batch (the lambda
        // binaries print it).
        let emf_line = |name: FunctionName| bill::emf_line_bytes(&format!("orderflow-dev-{name}"));
        let emf: u64 = [&self.functions.processor, &self.functions.notifier]
            .into_iter()
            .map(|f| load(&f.stats.invocations) * emf_line(f.name))
            .sum();
        let logged = crate::console::function_log_bytes().saturating_sub(self.logged_before);
        bill::Usage {
            seconds: self.built.elapsed().as_secs_f64(),
            api_requests: load(&self.gateway.requests),
            functions,
            sqs_requests: load(&self.sqs.billed),
            instance_class: self.settings.instance_class.clone(),
            multi_az: self.multi_az,
            storage_gb: bill::STORAGE_GB,
            endpoints: bill::ENDPOINTS,
            zones: bill::ZONES,
            endpoint_bytes: load(&self.sqs.bytes),
            log_bytes: invocations * bill::LOG_BYTES_PER_INVOCATION + emf + logged,
            alarms: bill::ALARMS,
            secrets: bill::SECRETS,
            secret_calls,
        }
    }

    /// From now on, every function keeps its invocations as their `REPORT`
    /// lines would show them (`sim run --observed`).
    pub fn record_invocations(&self) {
        for f in self.functions.all() {
            f.record_invocations();
        }
    }

    /// A sample of the shape's state now.
    pub fn sample(&self, t: f64) -> ShapeSample {
        let c = &self.rds.connections;
        let load = |f: &Arc<Function>| {
            (
                f.stats.environments.load(Ordering::Relaxed),
                f.stats.cold_starts.load(Ordering::Relaxed),
            )
        };
        let oldest = self
            .wiring
            .queues
            .channel
            .as_ref()
            .and_then(|c| c.orders.oldest_age())
            .map(|a| a.as_secs_f64());
        ShapeSample {
            t,
            environments: self.functions.all().map(|f| load(f).0).collect(),
            cold_starts: self.functions.all().map(|f| load(f).1).collect(),
            busy: self
                .functions
                .all()
                .map(|f| f.stats.busy.load(Ordering::Relaxed))
                .collect(),
            throttled: self.gateway.throttled.load(Ordering::Relaxed),
            connections: c.open.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            oldest_order_secs: oldest,
        }
    }

    /// Samples the shape every `every` until stopped; `started` is time zero.
    pub fn sampler(self: &Arc<Self>, started: Instant, every: Duration) -> ShapeSampler {
        let (stop, mut stopped) = watch::channel(false);
        let shape = self.clone();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                samples.push(shape.sample(started.elapsed().as_secs_f64()));
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => break,
                }
            }
            samples.push(shape.sample(started.elapsed().as_secs_f64()));
            samples
        });
        ShapeSampler { stop, task }
    }
}

pub struct ShapeSampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<Vec<ShapeSample>>,
}

impl ShapeSampler {
    pub async fn finish(self) -> Vec<ShapeSample> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}
