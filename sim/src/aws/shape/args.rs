//! The shape's flags resolved once ([`ShapeArgs::prepare`] into a
//! [`ShapeSpec`]), and the shape opened over the pipeline's store and
//! queues ([`ShapeArgs::open`]).

use super::*;

impl ShapeArgs {
    /// The settings file's values, or the shipped ones.
    pub fn settings(&self) -> anyhow::Result<DeploymentSettings> {
        match &self.settings {
            Some(path) => DeploymentSettings::load(path).map_err(anyhow::Error::new),
            None => DeploymentSettings::shipped().map_err(anyhow::Error::new),
        }
    }

    /// The model at the chosen end, its draws seeded by `seed`.
    pub fn model(&self, seed: u64) -> anyhow::Result<Arc<Model>> {
        Ok(Arc::new(Model::load(
            self.aws.model_file.as_deref(),
            self.model,
            seed,
        )?))
    }

    /// With `--topology lambda`, what to simulate, read once: the settings
    /// file (applied to `config`, [`ShapeArgs::configure`]), the model at
    /// its end with its draws seeded by `seed`, and the region's prices.
    /// A bad file or a region without prices is refused here, before
    /// anything starts.
    pub fn prepare(&self, config: &mut Config, seed: u64) -> anyhow::Result<Option<ShapeSpec>> {
        if !self.is_lambda() {
            return Ok(None);
        }
        let spec = ShapeSpec {
            settings: self.settings()?,
            model: self.model(seed)?,
            prices: bill::Prices::of(bill::SHIPPED, &self.aws.region)?,
        };
        self.configure(config, &spec.settings);
        Ok(Some(spec))
    }

    /// `config` as the deployment sets it: the queues' visibility timeout
    /// (shortened by the time scale) and receive count.
    /// The deployed shape `spec` describes ([`ShapeArgs::prepare`]'s;
    /// none: the local topology), built by [`Shape::build`] over the MySQL
    /// store the sim opened for `config`, wired into the pipeline's
    /// `wiring`.
    pub async fn open(
        &self,
        spec: Option<ShapeSpec>,
        config: &Config,
        (store, wiring): (&OpenedStore, Wiring),
        rtt_ms: Option<f64>,
    ) -> anyhow::Result<Option<Shape>> {
        let Some(spec) = spec else {
            return Ok(None);
        };
        let (OpenedStore::MySql(mysql), Some(options)) = (store, config.mysql()?) else {
            anyhow::bail!("--topology lambda needs MySQL: set DATABASE_URL (or DB_HOST)");
        };
        if config.queue == QueueKind::Sqs {
            anyhow::bail!(
                "--topology lambda runs its event source mappings over the in-process queues; \
                 drop --queue sqs"
            );
        }
        let around = Surroundings {
            admin: mysql.pool(),
            admin_options: &options,
            wiring,
            rtt_ms,
        };
        Shape::build(self, spec, config, around).await.map(Some)
    }

    pub fn configure(&self, config: &mut Config, settings: &DeploymentSettings) {
        let visibility = f64::from(settings.visibility_timeout_secs) / self.time_scale.max(1e-3);
        config.visibility_timeout_secs = (visibility.ceil() as u64).max(1);
        config.max_receive_count = settings.max_receive_count;
    }
}
