//! The RDS instance classes a plan may choose (`deploy/instance-classes.json`)
//! and what the database costs on each ([`Model::server_costs`]): a file of
//! its own beside the model file, as a class is a choice of the deployment
//! and not one of AWS's behaviours.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use super::Model;

/// `deploy/instance-classes.json`, as shipped: the RDS classes a plan may
/// choose, and how fast each runs a statement.
pub const CLASSES: &str = include_str!("../../../../deploy/instance-classes.json");

/// One RDS instance class.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Class {
    pub memory_gib: f64,
    pub vcpus: u32,
    /// The `max_connections` a settings file sets for this class.
    pub max_connections: u32,
    /// How fast it runs a statement, relative to the model's
    /// `rds_cpu_slowdown` (1: as the model says).
    pub speed: f64,
}

#[derive(Debug, Deserialize)]
struct ClassFile {
    #[allow(dead_code)]
    about: String,
    #[allow(dead_code)]
    source: String,
    #[allow(dead_code)]
    read: String,
    classes: BTreeMap<String, Class>,
}

/// The classes of `deploy/instance-classes.json`, by name.
pub fn classes() -> anyhow::Result<BTreeMap<String, Class>> {
    let file: ClassFile =
        serde_json::from_str(CLASSES).context("deploy/instance-classes.json is not readable")?;
    Ok(file.classes)
}

impl Model {
    /// What the database costs beyond the network on instance `class`: a
    /// commit's storage flush (and the standby's write if `multi_az`), and
    /// how much longer a statement's own work takes than on this machine's
    /// server. A class the file does not list runs at speed 1.
    pub fn server_costs(&self, class: &str, multi_az: bool) -> crate::netem::ServerCosts {
        let speed = classes()
            .ok()
            .and_then(|c| c.get(class).map(|c| c.speed))
            .unwrap_or(1.0);
        let c = &self.c;
        let commit = self.v(&c.rds_commit_ms)
            + match multi_az {
                true => self.v(&c.multi_az_commit_ms),
                false => 0.0,
            };
        crate::netem::ServerCosts {
            commit_extra: Duration::from_secs_f64(commit.max(0.0) / 1000.0),
            statement_stretch: self.v(&c.rds_cpu_slowdown) / speed.max(1e-3),
        }
    }
}
