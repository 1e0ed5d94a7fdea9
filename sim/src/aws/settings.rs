//! The deployed shape's settings, from `deploy/settings.json`: the one file
//! the Pulumi program deploys and the simulator reads, so both speak of the
//! same system. And the check both make of it: the connections every
//! function could open at once fit in the database instance's limit.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `deploy/settings.json`, as shipped (compiled in, for the sim and tests;
/// `DeploymentSettings::load` reads another).
pub const SHIPPED: &str = include_str!("../../../deploy/settings.json");

/// The routes the deployed API exposes (API Gateway route keys): orders go
/// to the ingest function, the rest to the read function.
pub const API_ROUTES: [&str; 5] = [
    "POST /api/orders",
    "GET /api/orders/{order_id}",
    "GET /api/inventory",
    "GET /api/inventory/{product_id}",
    "GET /health",
];

/// A function of the deployed shape: the three of the pipeline, and
/// `read`, which serves the read routes when the settings give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FunctionName {
    Ingest,
    Read,
    Processor,
    Notifier,
}

impl FunctionName {
    /// Every function, in the order the settings file lists them.
    pub const ALL: [FunctionName; 4] = [
        FunctionName::Ingest,
        FunctionName::Read,
        FunctionName::Processor,
        FunctionName::Notifier,
    ];

    /// The functions an SQS event source mapping feeds.
    pub const CONSUMERS: [FunctionName; 2] = [FunctionName::Processor, FunctionName::Notifier];

    /// The name the settings file, Pulumi and the reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionName::Ingest => "ingest",
            FunctionName::Read => "read",
            FunctionName::Processor => "processor",
            FunctionName::Notifier => "notifier",
        }
    }
}

impl std::fmt::Display for FunctionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shape's functions, by part: a misspelt or missing one does not
/// parse, and no code looks one up by a string.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Functions {
    /// Takes `POST /api/orders` (and, without a `read` function, the reads).
    pub ingest: Function,
    /// Serves the read routes, if the shape has a function for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Function>,
    pub processor: Function,
    pub notifier: Function,
}

impl Functions {
    /// The function `name`, if the shape has it.
    pub fn get(&self, name: FunctionName) -> Option<&Function> {
        match name {
            FunctionName::Ingest => Some(&self.ingest),
            FunctionName::Read => self.read.as_ref(),
            FunctionName::Processor => Some(&self.processor),
            FunctionName::Notifier => Some(&self.notifier),
        }
    }

    pub fn get_mut(&mut self, name: FunctionName) -> Option<&mut Function> {
        match name {
            FunctionName::Ingest => Some(&mut self.ingest),
            FunctionName::Read => self.read.as_mut(),
            FunctionName::Processor => Some(&mut self.processor),
            FunctionName::Notifier => Some(&mut self.notifier),
        }
    }

    /// The functions the shape has, in [`FunctionName::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (FunctionName, &Function)> {
        FunctionName::ALL
            .into_iter()
            .filter_map(|name| self.get(name).map(|f| (name, f)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Function> {
        [
            Some(&mut self.ingest),
            self.read.as_mut(),
            Some(&mut self.processor),
            Some(&mut self.notifier),
        ]
        .into_iter()
        .flatten()
    }
}

/// The SQS event source mapping of each queue consumer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSources {
    /// The order queue's, invoking the processor.
    pub processor: EventSource,
    /// The processed queue's, invoking the notifier.
    pub notifier: EventSource,
}

impl EventSources {
    /// The mapping that invokes `name`, if one does.
    pub fn get(&self, name: FunctionName) -> Option<&EventSource> {
        match name {
            FunctionName::Processor => Some(&self.processor),
            FunctionName::Notifier => Some(&self.notifier),
            FunctionName::Ingest | FunctionName::Read => None,
        }
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut EventSource> {
        [&mut self.processor, &mut self.notifier].into_iter()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSettings {
    /// The RDS instance class (its price and memory; the connection limit
    /// is [`DeploymentSettings::max_connections`], set explicitly).
    pub instance_class: String,
    /// The class a production stack runs instead (the Pulumi program's
    /// `production` preset), with the same explicit `max_connections`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_instance_class: Option<String>,
    /// MySQL's `max_connections`, set explicitly in the instance's parameter
    /// group (RDS's default is a formula on `DBInstanceClassMemory`, the
    /// memory left after the operating system and RDS's own processes,
    /// which no table of classes knows exactly). The one number the
    /// parameter group, the connection budget, the connection alarm and the
    /// sim's limit all read.
    pub max_connections: u32,
    /// Connections kept free of the functions: RDS's own sessions
    /// (`rdsadmin`), operators and the migration step.
    pub reserved_connections: u32,
    /// MySQL's `wait_timeout` in the parameter group: how long the server
    /// keeps an idle session, such as one left by an execution environment
    /// Lambda reclaimed without closing its connections.
    pub wait_timeout_secs: u32,
    /// The account's Lambda concurrency limit in the region (AWS's default
    /// is 1,000): the most environments a function without a cap may have.
    pub account_concurrency: u32,
    pub stage_throttle: Throttle,
    /// Throttles of single routes (`"GET /health"`), each within the
    /// stage's: API Gateway's route settings. A route without one has the
    /// stage's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub route_throttles: BTreeMap<String, Throttle>,
    pub visibility_timeout_secs: u32,
    pub max_receive_count: u32,
    /// `ingest`, `processor`, `notifier`, and `read` if the read routes
    /// have a function of their own (without one, ingest serves them).
    pub functions: Functions,
    /// The SQS event source mapping of each queue consumer, by function.
    pub event_sources: EventSources,
    /// Whether each execution environment applies the migrations when it
    /// starts (the first deployment did, as the master user). Off: the
    /// migrations are a deploy step and the functions hold data rights only.
    #[serde(default)]
    pub migrate_on_cold_start: bool,
    /// The functions' processor architecture: what `scripts/build-lambdas.sh`
    /// builds and the Pulumi program deploys (its stack config
    /// `architecture` overrides it). arm64 (Graviton) costs about 20 % less
    /// a GB-second.
    #[serde(default)]
    pub architecture: Architecture,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Architecture {
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Requests per second, steady.
    pub rate: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Function {
    pub memory_mb: u32,
    pub timeout_secs: u32,
    /// Reserved concurrency: at most this many execution environments
    /// (none: up to the account's limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<u32>,
    /// Database connections in each execution environment's pool.
    pub pool_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSource {
    pub batch_size: u32,
    pub batching_window_secs: u32,
    /// The mapping's `maximumConcurrency` (2 to 1,000; none: no cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
}

/// Connections an execution environment's init opens beyond its pool:
/// none (the store opens its pool and nothing else; a test counts them
/// through the modelled network). The budget counts them for every
/// environment, as every environment can be starting at once in a surge.
pub const INIT_EXTRA_CONNECTIONS: u32 = 0;

/// The concurrency Lambda keeps unreserved in an account: reservations
/// may take all but this (AWS Lambda Developer Guide, "Configuring
/// reserved concurrency", read 2026-12-02). pulumi/infra.ts checks the
/// same against the account's quota.
pub const UNRESERVED_MINIMUM: u32 = 100;

/// The migration step's function, reserved at 1 (pulumi/infra.ts
/// `MIGRATION_FUNCTION`): not in the settings file, but in the account.
pub const MIGRATION_RESERVED: u32 = 1;

/// How many connections the functions could hold at once, beside what the
/// instance allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// The instance's limit, less the reserved connections.
    pub available: u32,
    /// Each function's most environments at once, and its connections.
    pub functions: BTreeMap<FunctionName, (u32, u32)>,
}

impl Budget {
    pub fn needed(&self) -> u32 {
        self.functions.values().map(|(_, c)| c).sum()
    }

    pub fn fits(&self) -> bool {
        self.needed() <= self.available
    }
}

/// Why a settings file cannot be deployed or run.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    InFile {
        path: String,
        source: Box<SettingsError>,
    },
    /// Not the settings' JSON: a misspelt or missing key, a wrong type.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("functions: ingest has no database (pool_size 0) and no `read` function serves the read routes")]
    NoReadFunction,
    #[error("route_throttles: `{route}` is not a route of the API ({})", API_ROUTES.join(", "))]
    UnknownRoute { route: String },
    #[error("route_throttles: `{route}` allows more than the stage's throttle")]
    RouteAboveStage { route: String },
}

impl DeploymentSettings {
    pub fn shipped() -> Result<Self, SettingsError> {
        Self::parse(SHIPPED)
    }

    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let at = || path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| SettingsError::Unreadable { path: at(), source })?;
        Self::parse(&text).map_err(|e| SettingsError::InFile {
            path: at(),
            source: Box::new(e),
        })
    }

    pub fn parse(text: &str) -> Result<Self, SettingsError> {
        let settings: Self = serde_json::from_str(text)?;
        if settings.functions.ingest.pool_size == 0 && settings.functions.read.is_none() {
            return Err(SettingsError::NoReadFunction);
        }
        for (route, t) in &settings.route_throttles {
            if !API_ROUTES.contains(&route.as_str()) {
                return Err(SettingsError::UnknownRoute {
                    route: route.clone(),
                });
            }
            if t.rate > settings.stage_throttle.rate || t.burst > settings.stage_throttle.burst {
                return Err(SettingsError::RouteAboveStage {
                    route: route.clone(),
                });
            }
        }
        Ok(settings)
    }

    /// The settings' JSON Schema (2020-12), from this type: the file
    /// `deploy/settings.schema.json` holds it for Pulumi, and a test keeps
    /// the two equal (`sim deployment --schema` prints it).
    pub fn json_schema() -> String {
        let schema = schemars::schema_for!(DeploymentSettings);
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The function that serves the read routes: `read`, or ingest when
    /// there is none.
    pub fn read_function(&self) -> FunctionName {
        match self.functions.read {
            Some(_) => FunctionName::Read,
            None => FunctionName::Ingest,
        }
    }

    /// The throttle of `route` (a key of [`API_ROUTES`]): its own, or the
    /// stage's.
    pub fn throttle_of(&self, route: &str) -> Throttle {
        self.route_throttles
            .get(route)
            .copied()
            .unwrap_or(self.stage_throttle)
    }

    /// The most execution environments `function` can have at once: its
    /// reserved concurrency, its event source's `maximumConcurrency`, and
    /// the account's limit, whichever is lowest.
    pub fn max_environments(&self, function: FunctionName) -> u32 {
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

    /// Every function's environments times the connections each opens (its
    /// pool, and what its init opens beside it), beside the explicit
    /// `max_connections` less the reserved connections.
    pub fn connection_budget(&self) -> Budget {
        let functions = self
            .functions
            .iter()
            .map(|(name, f)| {
                let envs = self.max_environments(name);
                // A function without a pool opens no connection at all.
                let each = match f.pool_size {
                    0 => 0,
                    pool => pool + INIT_EXTRA_CONNECTIONS,
                };
                (name, (envs, envs * each))
            })
            .collect();
        Budget {
            available: self
                .max_connections
                .saturating_sub(self.reserved_connections),
            functions,
        }
    }

    /// Concurrency the stack reserves in the account: every function's
    /// reservation and the migration step's.
    pub fn reserved_concurrency(&self) -> u32 {
        self.functions
            .iter()
            .filter_map(|(_, f)| f.reserved_concurrency)
            .sum::<u32>()
            + MIGRATION_RESERVED
    }

    /// Whether the account's concurrency holds the reservations and what
    /// Lambda keeps unreserved.
    pub fn fits_account(&self) -> bool {
        self.reserved_concurrency() + UNRESERVED_MINIMUM <= self.account_concurrency
    }

    /// The connection alarm's threshold: 80 % of `max_connections`.
    pub fn connection_alarm_threshold(&self) -> u32 {
        self.max_connections * 4 / 5
    }

    /// The parameter group's `innodb_lock_wait_timeout`: a third of the
    /// shortest function timeout (at least 1 s), so a batch waiting on a hot
    /// row gives up and is retried well before its function is killed.
    pub fn lock_wait_secs(&self) -> u32 {
        let shortest = self
            .functions
            .iter()
            .map(|(_, f)| f.timeout_secs)
            .min()
            .unwrap_or(3);
        (shortest / 3).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_must_hold_the_reservations_and_the_unreserved_hundred() {
        // 800 ingest + 25 read + 15 processor + 5 notifier + 1 migrate: the
        // same 946 pulumi/tests/infra.test.ts asks the quota for.
        let mut s = DeploymentSettings::shipped().unwrap();
        assert_eq!(s.reserved_concurrency(), 846);
        s.account_concurrency = 946;
        assert!(s.fits_account());
        s.account_concurrency = 945;
        assert!(!s.fits_account());
    }

    #[test]
    fn the_shipped_settings_fit_the_explicit_connection_limit_with_the_reserve() {
        let s = DeploymentSettings::shipped().unwrap();
        let budget = s.connection_budget();
        assert!(
            budget.fits(),
            "{} connections needed, {} available: {budget:?}",
            budget.needed(),
            budget.available
        );
        assert_eq!(budget.available, s.max_connections - s.reserved_connections);
        // The same figures pulumi/tests/infra.test.ts computes from the file.
        assert_eq!((budget.needed(), budget.available), (45, 50));
        assert_eq!(
            budget.functions[&FunctionName::Ingest],
            (800, 0),
            "ingest has no pool"
        );
        assert_eq!(s.connection_alarm_threshold(), 48);
        assert_eq!(s.lock_wait_secs(), 10);
    }

    /// `edit` laid over `base`: objects key by key, anything else replaced.
    fn merge(base: &mut serde_json::Value, edit: &serde_json::Value) {
        match (base, edit) {
            (serde_json::Value::Object(b), serde_json::Value::Object(e)) => {
                for (k, v) in e {
                    merge(b.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
            (b, e) => *b = e.clone(),
        }
    }

    #[test]
    fn the_budget_agrees_with_the_hand_worked_cases_pulumi_also_computes() {
        // Every environment a function can have (its reserved concurrency,
        // its mapping's maximumConcurrency, the account's limit) times its
        // pool and init, beside the limit less the reserve.
        let table: serde_json::Value =
            serde_json::from_str(include_str!("../../../deploy/budget-cases.json")).unwrap();
        let cases = table["cases"].as_array().unwrap();
        assert!(cases.len() >= 8);
        for case in cases {
            let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
            merge(&mut v, &case["edit"]);
            let s = DeploymentSettings::parse(&v.to_string()).unwrap();
            let budget = s.connection_budget();
            let name = &case["name"];
            assert_eq!(u64::from(budget.needed()), case["needed"], "{name}");
            assert_eq!(u64::from(budget.available), case["available"], "{name}");
            assert_eq!(budget.fits(), case["fits"], "{name}");
        }
    }

    #[test]
    fn the_committed_schema_is_the_one_the_type_describes_and_names_are_checked() {
        let committed = include_str!("../../../deploy/settings.schema.json");
        assert!(
            committed == DeploymentSettings::json_schema(),
            "deploy/settings.schema.json is stale: cargo run -p sim -- deployment --schema > deploy/settings.schema.json"
        );
        let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        let f = v["functions"].as_object_mut().unwrap();
        let read = f.remove("read").unwrap();
        f.insert("reader".into(), read);
        let e = DeploymentSettings::parse(&v.to_string())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown field `reader`, expected one of `ingest`"),
            "{e}"
        );
        let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        v["event_sources"]
            .as_object_mut()
            .unwrap()
            .remove("notifier");
        let e = DeploymentSettings::parse(&v.to_string())
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `notifier`"), "{e}");
    }

    #[test]
    fn uncapped_functions_overrun_the_budget() {
        let mut s = DeploymentSettings::shipped().unwrap();
        for f in s.functions.iter_mut() {
            f.reserved_concurrency = None;
        }
        for e in s.event_sources.iter_mut() {
            e.maximum_concurrency = None;
        }
        let budget = s.connection_budget();
        assert_eq!(budget.functions[&FunctionName::Processor], (1000, 1000));
        assert!(!budget.fits());
        assert!(DeploymentSettings::parse(r#"{"instance_class": 3}"#).is_err());
    }

    #[test]
    fn a_settings_file_without_an_explicit_connection_limit_is_refused() {
        let without = SHIPPED.replace("\"max_connections\"", "\"max_connection\"");
        let e = DeploymentSettings::parse(&without).unwrap_err().to_string();
        assert!(e.contains("max_connection"), "{e}");
    }

    #[test]
    fn an_ingest_without_a_database_needs_a_read_function_and_route_throttles_stay_within_the_stage(
    ) {
        let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        v["functions"].as_object_mut().unwrap().remove("read");
        let e = DeploymentSettings::parse(&v.to_string())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `read` function"), "{e}");

        let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        v["route_throttles"]["GET /api/dlq"] = serde_json::json!({"rate": 1, "burst": 1});
        let e = DeploymentSettings::parse(&v.to_string())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a route of the API"), "{e}");

        let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        v["route_throttles"]["GET /health"] = serde_json::json!({"rate": 1_000_000, "burst": 1});
        let e = DeploymentSettings::parse(&v.to_string())
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than the stage's throttle"), "{e}");

        let s = DeploymentSettings::shipped().unwrap();
        assert_eq!(s.read_function(), FunctionName::Read);
        assert_eq!(s.throttle_of("GET /health").rate, 10);
        assert_eq!(s.throttle_of("POST /api/orders"), s.stage_throttle);
    }
}
