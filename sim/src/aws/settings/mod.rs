//! The deployed shape's settings, from `deploy/settings.json`: the one file
//! the Pulumi program deploys and the simulator reads, so both speak of the
//! same system. And the check both make of it: the connections every
//! function could open at once fit in the database instance's limit.

use std::collections::BTreeMap;
use std::path::Path;

mod functions;
mod rules;

pub use functions::{EventSource, EventSources, Function, FunctionName, Functions};
pub use rules::{Budget, INIT_EXTRA_CONNECTIONS, MIGRATION_RESERVED, UNRESERVED_MINIMUM};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `deploy/settings.json`, as shipped (compiled in, for the sim and tests;
/// `DeploymentSettings::load` reads another).
pub const SHIPPED: &str = include_str!("../../../../deploy/settings.json");

/// The routes the deployed API exposes (API Gateway route keys): orders go
/// to the ingest function, the rest to the read function.
pub const API_ROUTES: [&str; 5] = [
    "POST /api/orders",
    "GET /api/orders/{order_id}",
    "GET /api/inventory",
    "GET /api/inventory/{product_id}",
    "GET /health",
];

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
}

#[cfg(test)]
mod tests;
