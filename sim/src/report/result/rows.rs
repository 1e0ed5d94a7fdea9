//! The rows and sections a result holds beside its own fields: the setup it
//! was measured with, the checks, the pipeline's orders and stock, the bill,
//! `sim bench`'s figures and `sim plan`'s confirming runs, and the settings
//! file named by its digest ([`settings_ref`]). Plain data each renderer
//! reads; what the result does with them is the parent's.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::load::measure::Percentiles;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRow {
    pub order_id: String,
    pub customer_id: String,
    pub status: String,
    pub failure_reason: Option<String>,
    pub created_at: String,
    pub processed_at: Option<String>,
}

/// What the result was measured with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// `local` or `lambda`.
    pub topology: String,
    pub store: String,
    pub queues: String,
    pub profile: Option<ProfileSetup>,
    /// The deployed shape's settings file and its SHA-256.
    pub settings: Option<SettingsRef>,
    /// The model's end and file.
    pub model: Option<String>,
    pub multi_az: bool,
    pub region: Option<String>,
    /// `--faults` as given.
    pub faults: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileSetup {
    pub name: String,
    pub requests: usize,
    pub duration_secs: f64,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsRef {
    pub file: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRow {
    /// `scenario`, `invariant` or `run`.
    pub group: String,
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// What became of the orders.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineReport {
    pub finished: usize,
    pub processed: usize,
    pub failed: usize,
    pub failure_reasons: BTreeMap<String, u64>,
    /// Orders finished a second, first load request to drained.
    pub throughput: f64,
    pub drain_secs: f64,
    pub drained: bool,
    pub accept_to_processed_ms: Percentiles,
    pub order_dlq: usize,
    pub processed_dlq: usize,
    pub duplicates_answered: u64,
    pub store_retries: u64,
    pub undecodable_receives: u64,
    pub hot_stock: Vec<StockRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRow {
    pub product_id: String,
    pub from: Option<i64>,
    pub to: i64,
}

/// A run's bill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bill {
    pub region: String,
    /// The day the prices were read.
    pub read: String,
    pub currency: String,
    /// The stack's seconds the bill covers.
    pub seconds: f64,
    pub total: f64,
    pub per_million: Option<f64>,
    pub idle_month: f64,
    pub lines: Vec<BillLine>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BillLine {
    pub service: String,
    pub item: String,
    pub quantity: f64,
    pub unit: String,
    pub usd: f64,
    /// A cost of the stack's time, not of its traffic.
    pub fixed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchRow {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanReport {
    /// The chosen settings file, if a candidate met the targets.
    pub chosen: Option<String>,
    pub chosen_shape: Option<String>,
    pub headroom: String,
    pub confirmed: Vec<Confirmation>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub name: String,
    pub shape: String,
    pub settings: String,
    pub model: String,
    pub passed: bool,
    /// The first target or check it missed.
    pub missed: Option<String>,
    pub metrics: BTreeMap<String, f64>,
}

/// A settings file's name and the SHA-256 of its bytes.
pub fn settings_ref(path: Option<&Path>) -> SettingsRef {
    use sha2::Digest as _;
    let (file, bytes) = match path {
        Some(p) => (
            p.display().to_string(),
            std::fs::read(p).unwrap_or_default(),
        ),
        None => (
            "deploy/settings.json (shipped)".to_owned(),
            crate::aws::settings::SHIPPED.as_bytes().to_vec(),
        ),
    };
    let digest = sha2::Sha256::digest(&bytes);
    SettingsRef {
        file,
        sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
    }
}
