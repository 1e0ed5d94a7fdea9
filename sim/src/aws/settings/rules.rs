//! Every number the settings derive: the connection budget, each
//! function's most environments, the account's reservations, the
//! connection alarm, the lock wait. The Pulumi program computes the same
//! from the same file; `deploy/settings-cases.json` holds cases both
//! languages must agree on.

use std::collections::BTreeMap;

use super::{DeploymentSettings, FunctionName, Throttle};

/// Connections an execution environment's init opens beyond its pool:
/// none (the store opens its pool and nothing else; a test counts them
/// through the modelled network). The budget counts them for every
/// environment, as every environment can be starting at once in a surge.
pub const INIT_EXTRA_CONNECTIONS: u32 = 0;

/// The concurrency Lambda keeps unreserved in an account: reservations
/// may take all but this (AWS Lambda Developer Guide, "Configuring
/// reserved concurrency", read 2026-12-02). pulumi/src/rules.ts checks the
/// same against the account's quota.
pub const UNRESERVED_MINIMUM: u32 = 100;

/// The migration step's function, reserved at 1 (pulumi/src/rules.ts
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

impl DeploymentSettings {
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

    /// Why `pulumi up` would refuse these settings, in its words, or
    /// `None`: the connection budget overrun; a visibility timeout under
    /// six times a consumer's timeout (AWS's advice: a batch still running
    /// would be delivered again); a mapping without a cap of 2 or more
    /// (uncapped, it scales to 1,000 batches), or with one above its
    /// function's reserved concurrency. The Pulumi program's `checkShape`
    /// refuses the same, in the same order; `deploy/settings-cases.json`
    /// holds both to it. The sim still runs such settings, to show what
    /// they would do.
    pub fn deploy_refusal(&self) -> Option<String> {
        let budget = self.connection_budget();
        if !budget.fits() {
            return Some(format!(
                "deploy/settings.json lets the functions open {} database connections; \
                 max_connections {} less {} reserved leaves them {}: cap reserved concurrency, \
                 maximumConcurrency or pool sizes",
                budget.needed(),
                self.max_connections,
                self.reserved_connections,
                budget.available
            ));
        }
        let longest = FunctionName::CONSUMERS
            .iter()
            .filter_map(|&name| self.functions.get(name))
            .map(|f| f.timeout_secs)
            .max()
            .unwrap_or(0);
        if self.visibility_timeout_secs < 6 * longest {
            return Some(format!(
                "visibility_timeout_secs {} is under six times the consumers' timeout ({longest} s): \
                 a batch still being processed would be delivered again",
                self.visibility_timeout_secs
            ));
        }
        for name in FunctionName::CONSUMERS {
            let cap = self
                .event_sources
                .get(name)
                .and_then(|e| e.maximum_concurrency)
                .filter(|&cap| cap >= 2);
            let Some(cap) = cap else {
                return Some(format!(
                    "the {name} mapping needs a maximum_concurrency of 2 or more (AWS's minimum): \
                     uncapped, it scales to 1,000 batches"
                ));
            };
            let reserved = self
                .functions
                .get(name)
                .and_then(|f| f.reserved_concurrency);
            if let Some(reserved) = reserved.filter(|&r| cap > r) {
                return Some(format!(
                    "the {name} mapping's maximum_concurrency {cap} is above the function's \
                     reserved concurrency {reserved}: Lambda would throttle its batches"
                ));
            }
        }
        None
    }
}
