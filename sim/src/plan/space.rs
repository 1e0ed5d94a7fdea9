//! What `sim plan` searches: every combination of the deployed shape's
//! settings it may change, and the instance classes it may choose from
//! (`deploy/instance-classes.json`, each with the `max_connections` a
//! settings file sets for it).

use std::collections::BTreeMap;

use crate::aws::settings::{Architecture, DeploymentSettings, EventSource, Throttle};

pub use crate::aws::model::{classes, Class};

/// One mapping's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MappingChoice {
    pub batch_size: u32,
    pub window_secs: u32,
    pub maximum_concurrency: u32,
}

/// One shape a plan considers: what it may change of the base settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub class: String,
    pub max_connections: u32,
    pub ingest_reserved: u32,
    /// The stage's throttle (the orders route's), a multiple of the peak.
    pub throttle: Throttle,
    pub ingest_memory: u32,
    pub processor_memory: u32,
    pub architecture: Architecture,
    pub processor: MappingChoice,
    pub processor_pool: u32,
    pub notifier: MappingChoice,
}

/// The values a plan tries for each setting.
pub struct Space {
    pub ingest_reserved: Vec<u32>,
    /// Multiples of the load's peak.
    pub throttle: Vec<f64>,
    pub memory: Vec<u32>,
    pub architecture: Vec<Architecture>,
    pub batch_size: Vec<u32>,
    pub window_secs: Vec<u32>,
    pub maximum_concurrency: Vec<u32>,
    pub pool: Vec<u32>,
    pub notifier: Vec<MappingChoice>,
}

impl Space {
    pub fn full() -> Space {
        Space {
            ingest_reserved: vec![25, 50, 100, 200, 400, 800],
            throttle: vec![1.25, 1.5, 2.0],
            memory: vec![128, 256, 512, 1024],
            architecture: vec![Architecture::X86_64, Architecture::Arm64],
            batch_size: vec![10, 50, 100, 200],
            window_secs: vec![0, 1],
            maximum_concurrency: vec![2, 5, 10, 20, 30],
            pool: vec![1, 2],
            notifier: [(10, 0), (10, 1), (100, 1)]
                .into_iter()
                .flat_map(|(batch_size, window_secs)| {
                    [2, 5].map(|maximum_concurrency| MappingChoice {
                        batch_size,
                        window_secs,
                        maximum_concurrency,
                    })
                })
                .collect(),
        }
    }

    /// Every candidate: each class with each combination of the rest.
    pub fn candidates(&self, classes: &BTreeMap<String, Class>, peak: f64) -> Vec<Candidate> {
        let mut out = Vec::new();
        let throttles: Vec<Throttle> = self.throttle.iter().map(|m| throttle(peak * m)).collect();
        let processors: Vec<(MappingChoice, u32)> = self
            .batch_size
            .iter()
            .flat_map(|&batch_size| {
                self.window_secs.iter().flat_map(move |&window_secs| {
                    self.maximum_concurrency
                        .iter()
                        .map(move |&maximum_concurrency| MappingChoice {
                            batch_size,
                            window_secs,
                            maximum_concurrency,
                        })
                })
            })
            .flat_map(|m| self.pool.iter().map(move |&p| (m, p)))
            .collect();
        for (class, c) in classes {
            for &ingest_reserved in &self.ingest_reserved {
                for &throttle in &throttles {
                    for &ingest_memory in &self.memory {
                        for &processor_memory in &self.memory {
                            for &architecture in &self.architecture {
                                for &(processor, processor_pool) in &processors {
                                    for &notifier in &self.notifier {
                                        out.push(Candidate {
                                            class: class.clone(),
                                            max_connections: c.max_connections,
                                            ingest_reserved,
                                            throttle,
                                            ingest_memory,
                                            processor_memory,
                                            architecture,
                                            processor,
                                            processor_pool,
                                            notifier,
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// A throttle admitting `rate` requests a second, rounded up to 50, with
/// a burst of twice that.
fn throttle(rate: f64) -> Throttle {
    let rate = ((rate / 50.0).ceil() * 50.0).max(50.0) as u32;
    Throttle {
        rate,
        burst: rate * 2,
    }
}

impl Candidate {
    /// The candidate `settings` are, if they are one a plan could write
    /// (both mappings capped, ingest's concurrency reserved).
    pub fn of(settings: &DeploymentSettings) -> Option<Candidate> {
        let f = &settings.functions;
        let mapping = |e: &EventSource| {
            Some(MappingChoice {
                batch_size: e.batch_size,
                window_secs: e.batching_window_secs,
                maximum_concurrency: e.maximum_concurrency?,
            })
        };
        Some(Candidate {
            class: settings.instance_class.clone(),
            max_connections: settings.max_connections,
            ingest_reserved: f.ingest.reserved_concurrency?,
            throttle: settings.stage_throttle,
            ingest_memory: f.ingest.memory_mb,
            processor_memory: f.processor.memory_mb,
            architecture: settings.architecture,
            processor: mapping(&settings.event_sources.processor)?,
            processor_pool: f.processor.pool_size,
            notifier: mapping(&settings.event_sources.notifier)?,
        })
    }

    /// `base` with this candidate's settings: the file `pulumi up` deploys
    /// and `sim --topology lambda --settings` runs. The route throttles are
    /// kept within the new stage throttle.
    pub fn settings(&self, base: &DeploymentSettings) -> DeploymentSettings {
        let mut s = base.clone();
        s.instance_class = self.class.clone();
        if let Some(p) = &s.production_instance_class {
            // The production class must hold the same explicit limit.
            if classes()
                .ok()
                .and_then(|c| c.get(p).map(|c| c.max_connections))
                .is_some_and(|m| m < self.max_connections)
            {
                s.production_instance_class = Some(self.class.clone());
            }
        }
        s.max_connections = self.max_connections;
        s.stage_throttle = self.throttle;
        for t in s.route_throttles.values_mut() {
            t.rate = t.rate.min(self.throttle.rate);
            t.burst = t.burst.min(self.throttle.burst);
        }
        s.architecture = self.architecture;
        s.functions.ingest.reserved_concurrency = Some(self.ingest_reserved);
        s.functions.ingest.memory_mb = self.ingest_memory;
        s.functions.processor.pool_size = self.processor_pool;
        let consumers = [
            (
                &mut s.functions.processor,
                &mut s.event_sources.processor,
                self.processor,
            ),
            (
                &mut s.functions.notifier,
                &mut s.event_sources.notifier,
                self.notifier,
            ),
        ];
        for (f, source, m) in consumers {
            f.memory_mb = self.processor_memory;
            f.reserved_concurrency = Some(m.maximum_concurrency);
            *source = EventSource {
                batch_size: m.batch_size,
                batching_window_secs: m.window_secs,
                maximum_concurrency: Some(m.maximum_concurrency),
            };
        }
        s
    }

    /// One line naming what this candidate sets.
    pub fn describe(&self) -> String {
        format!(
            "{} ({} conns), ingest {}x{} MB, throttle {}/s, processor {} MB {} batch {} window {} s conc {} pool {}, notifier batch {} window {} s conc {}",
            self.class,
            self.max_connections,
            self.ingest_reserved,
            self.ingest_memory,
            self.throttle.rate,
            self.processor_memory,
            self.architecture.as_str(),
            self.processor.batch_size,
            self.processor.window_secs,
            self.processor.maximum_concurrency,
            self.processor_pool,
            self.notifier.batch_size,
            self.notifier.window_secs,
            self.notifier.maximum_concurrency,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_a_price_in_the_shipped_table() {
        let prices = crate::aws::bill::Prices::of(crate::aws::bill::SHIPPED, "us-east-1").unwrap();
        for (name, class) in classes().unwrap() {
            assert!(
                prices.rds_instance_hour.classes.contains_key(&name),
                "{name} has no price"
            );
            assert!(class.max_connections > 0);
        }
    }

    #[test]
    fn a_candidates_settings_are_a_valid_settings_file_with_its_values() {
        let base = DeploymentSettings::shipped().unwrap();
        let classes = classes().unwrap();
        let space = Space::full();
        let all = space.candidates(&classes, 1429.0);
        let c = &all[all.len() / 2];
        let s = c.settings(&base);
        let text = serde_json::to_string_pretty(&s).unwrap();
        let back = DeploymentSettings::parse(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.max_connections, c.max_connections);
        assert_eq!(
            back.event_sources.processor.batch_size,
            c.processor.batch_size
        );
        assert_eq!(
            back.functions.ingest.reserved_concurrency,
            Some(c.ingest_reserved)
        );
        // The throttle is rounded up to 50 above the peak times its multiple.
        assert!(all
            .iter()
            .all(|c| c.throttle.rate % 50 == 0 && c.throttle.rate >= 1786));
    }
}
