//! The deployed shape's settings, from `deploy/settings.json`: the one file
//! the Pulumi program deploys and the simulator reads, so both speak of the
//! same system. And the check both make of it: the connections every
//! function could open at once fit in the database instance's limit.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// `deploy/settings.json`, as shipped (compiled in, for the sim and tests;
/// `DeploymentSettings::load` reads another).
pub const SHIPPED: &str = include_str!("../../deploy/settings.json");

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSettings {
    /// The RDS instance class; its memory sets MySQL's default
    /// `max_connections` (see [`max_connections`]).
    pub instance_class: String,
    /// Connections kept free of the functions, for operators and the
    /// migration step.
    pub reserved_connections: u32,
    /// The account's Lambda concurrency limit in the region (AWS's default
    /// is 1,000): the most environments a function without a cap may have.
    pub account_concurrency: u32,
    pub stage_throttle: Throttle,
    pub visibility_timeout_secs: u32,
    pub max_receive_count: u32,
    /// `ingest`, `processor`, `notifier`.
    pub functions: BTreeMap<String, Function>,
    /// The SQS event source mapping of each queue consumer, by function.
    pub event_sources: BTreeMap<String, EventSource>,
    /// Whether each execution environment applies the migrations when it
    /// starts (the first deployment did, as the master user). Off: the
    /// migrations are a deploy step and the functions hold data rights only.
    #[serde(default)]
    pub migrate_on_cold_start: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Requests per second, steady.
    pub rate: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    pub memory_mb: u32,
    pub timeout_secs: u32,
    /// Reserved concurrency: at most this many execution environments
    /// (none: up to the account's limit).
    pub reserved_concurrency: Option<u32>,
    /// Database connections in each execution environment's pool.
    pub pool_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSource {
    pub batch_size: u32,
    pub batching_window_secs: u32,
    /// The mapping's `maximumConcurrency` (2 to 1,000; none: no cap).
    pub maximum_concurrency: Option<u32>,
}

/// MySQL's default `max_connections` on RDS: `DBInstanceClassMemory /
/// 12582880` (RDS's parameter group formula), taken here from the class's
/// memory; RDS subtracts what the operating system keeps, so the real figure
/// can be a little lower, which [`DeploymentSettings::reserved_connections`]
/// leaves room for. `None` for a class this table does not know.
pub fn max_connections(instance_class: &str) -> Option<u32> {
    const GIB: u64 = 1 << 30;
    let gib: u64 = match instance_class.rsplit('.').next()? {
        "micro" => 1,
        "small" => 2,
        "medium" => 4,
        "large" if instance_class.starts_with("db.r") => 16,
        "large" => 8,
        "xlarge" if instance_class.starts_with("db.r") => 32,
        "xlarge" => 16,
        "2xlarge" if instance_class.starts_with("db.r") => 64,
        "2xlarge" => 32,
        _ => return None,
    };
    u32::try_from(gib * GIB / 12_582_880).ok()
}

/// How many connections the functions could hold at once, beside what the
/// instance allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// The instance's limit, less the reserved connections.
    pub available: u32,
    /// Each function's most environments at once, and its connections.
    pub functions: BTreeMap<String, (u32, u32)>,
}

impl Budget {
    pub fn needed(&self) -> u32 {
        self.functions.values().map(|(_, c)| c).sum()
    }

    pub fn fits(&self) -> bool {
        self.needed() <= self.available
    }
}

impl DeploymentSettings {
    pub fn shipped() -> Result<Self, String> {
        Self::parse(SHIPPED)
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// The most execution environments `function` can have at once: its
    /// reserved concurrency, its event source's `maximumConcurrency`, and
    /// the account's limit, whichever is lowest.
    pub fn max_environments(&self, function: &str) -> u32 {
        let reserved = self
            .functions
            .get(function)
            .and_then(|f| f.reserved_concurrency);
        let mapping = self
            .event_sources
            .get(function)
            .and_then(|e| e.maximum_concurrency);
        [reserved, mapping]
            .into_iter()
            .flatten()
            .fold(self.account_concurrency, u32::min)
    }

    /// Every function's environments times its pool, beside the instance's
    /// limit less the reserved connections.
    pub fn connection_budget(&self) -> Result<Budget, String> {
        let limit = max_connections(&self.instance_class)
            .ok_or_else(|| format!("unknown instance class {}", self.instance_class))?;
        let functions = self
            .functions
            .iter()
            .map(|(name, f)| {
                let envs = self.max_environments(name);
                (name.clone(), (envs, envs * f.pool_size))
            })
            .collect();
        Ok(Budget {
            available: limit.saturating_sub(self.reserved_connections),
            functions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_settings_fit_the_instance_connection_budget() {
        let s = DeploymentSettings::shipped().unwrap();
        let budget = s.connection_budget().unwrap();
        assert_eq!(max_connections("db.t4g.micro"), Some(85));
        assert!(
            budget.fits(),
            "{} connections needed, {} available: {budget:?}",
            budget.needed(),
            budget.available
        );
        assert_eq!(s.max_environments("processor"), 5);
        // The same figures pulumi/tests/infra.test.ts computes from the file.
        assert_eq!((budget.needed(), budget.available), (60, 75));
    }

    #[test]
    fn uncapped_functions_overrun_the_budget() {
        let mut s = DeploymentSettings::shipped().unwrap();
        for f in s.functions.values_mut() {
            f.reserved_concurrency = None;
        }
        for e in s.event_sources.values_mut() {
            e.maximum_concurrency = None;
        }
        let budget = s.connection_budget().unwrap();
        assert_eq!(budget.functions["processor"], (1000, 1000));
        assert!(!budget.fits());
        assert!(DeploymentSettings::parse(r#"{"instance_class": 3}"#).is_err());
    }
}
