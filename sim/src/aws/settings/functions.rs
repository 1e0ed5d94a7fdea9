//! The shape's functions and event source mappings, by part: each named by
//! a [`FunctionName`], so no code looks one up by a string, and a misspelt
//! or missing one does not parse.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
