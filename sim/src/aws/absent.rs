//! The deployed shape in a sim built without the `aws` feature: there is
//! none to run. `main` refuses a command line that asks for one before
//! anything starts ([`crate::needs`]); what is here keeps the pipeline's
//! `Option<Shape>` as it is, always `None`, so the code around it is the
//! same in both builds. [`Shape`] has no values, so none of its methods
//! can be called.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::app::{Front, Wrap};
use engine::config::Config;
use engine::store::OpenedStore;

use super::{ShapeArgs, ShapeSample, Wiring};

/// The deployed shape, which this build cannot run.
pub enum Shape {}

/// What a shape would run with, which this build has none of.
pub enum ShapeSpec {}

/// Samples of a shape that cannot run.
pub enum ShapeSampler {}

impl ShapeArgs {
    /// The local topology's: nothing to prepare. `--topology lambda` is
    /// refused, should a caller get here without `main`'s check.
    pub fn prepare(&self, _: &mut Config, _seed: u64) -> anyhow::Result<Option<ShapeSpec>> {
        if self.is_lambda() {
            anyhow::bail!(crate::needs::aws_refusal("--topology lambda", &[]));
        }
        Ok(None)
    }

    /// No shape: [`ShapeArgs::prepare`] gave none.
    pub async fn open(
        &self,
        spec: Option<ShapeSpec>,
        _config: &Config,
        _wiring: (&OpenedStore, Wiring),
        _rtt_ms: Option<f64>,
    ) -> anyhow::Result<Option<Shape>> {
        match spec {
            Some(spec) => match spec {},
            None => Ok(None),
        }
    }
}

impl Shape {
    pub fn wrap(&self, _: Arc<dyn Wrap>) -> Arc<dyn Wrap> {
        match *self {}
    }

    pub fn front(&self) -> Front {
        match *self {}
    }

    pub fn start(&mut self, _time_scale: f64) -> anyhow::Result<()> {
        match *self {}
    }

    pub fn sampler(self: &Arc<Self>, _started: Instant, _every: Duration) -> ShapeSampler {
        match **self {}
    }

    pub fn redeploy(&self) -> (f64, Duration) {
        match *self {}
    }

    pub fn record_invocations(&self) {
        match *self {}
    }

    pub async fn fail_over(&self, _outage: Duration) {
        match *self {}
    }

    pub async fn stop(&self) {
        match *self {}
    }
}

impl ShapeSampler {
    pub async fn finish(self) -> Vec<ShapeSample> {
        match self {}
    }
}
