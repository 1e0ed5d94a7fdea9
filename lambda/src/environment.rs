//! An execution environment: what each function builds once (configuration
//! from its environment variables, the Secrets Manager lookups, the database
//! pool, the SQS client) and every invocation borrows.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use engine::config::Config;
use engine::consumer::WorkerConfig;
use engine::context::Context;
use engine::http::{self, AppState, Routes};
use engine::notifier::{LogNotifier, NotificationWorker, Notifier};
use engine::processor::Processor;
use engine::queues::Queues;
use engine::store::{NoDatabase, OrderStore, Schema, StoreOptions};
use sqlx::mysql::MySqlConnectOptions;

use crate::credentials::RotatingStore;
use crate::identity::caller_from_claim;
use crate::secrets::Secret;
use crate::InitError;

/// The variables a function reads, as clap describes them (the book's
/// reference of environment variables is written from it).
pub fn environment_command() -> clap::Command {
    <LambdaConfig as clap::CommandFactory>::command()
}

/// The configuration of a function: the engine's flags, read from the
/// function's environment variables only.
#[derive(Parser, Clone)]
pub(crate) struct LambdaConfig {
    #[command(flatten)]
    pub(crate) config: Config,
    /// ARN of the Secrets Manager secret holding the credentials the
    /// function connects with (JSON with `password`, and optionally
    /// `username`): the application user's for the functions, the
    /// master user's for the migration function. In production the password
    /// never sits in a plain environment variable.
    #[arg(long, env = "DB_SECRET_ARN")]
    pub(crate) db_secret_arn: Option<String>,
    /// The migration function: ARN of the application user's secret, which
    /// it fills with a generated password on the first deploy and keeps the
    /// user's password equal to.
    #[arg(long, env = "APP_DB_SECRET_ARN")]
    pub(crate) app_db_secret_arn: Option<String>,
    /// The migration function: where the application user may connect
    /// from (a MySQL host pattern; the Pulumi program gives the VPC's
    /// range, `10.20.%`).
    #[arg(long, env = "APP_DB_USER_HOST", default_value = "%")]
    pub(crate) app_db_user_host: String,
    /// ARN of the secret holding the key order ids are derived under (the
    /// ingest function reads it; the migration function generates it on the
    /// first deploy).
    #[arg(long, env = "ORDER_ID_KEY_SECRET_ARN")]
    pub(crate) order_id_key_secret_arn: Option<String>,
    /// The ingest function: which of the API's routes it serves, `intake`
    /// (`POST /api/orders`, with `DB_MAX_CONNECTIONS=0`: no database) or
    /// `reads` (the read function); `all` serves every route.
    #[arg(long, env = "API_ROUTES", value_enum, default_value = "all")]
    pub(crate) api_routes: Routes,
    /// Behind a JWT authorizer: the claim of the verified token that names
    /// the customer (`sub` as the Pulumi program deploys it). An order for
    /// another `customer_id` is refused 403, and so is a write whose request
    /// carries no such claim. Unset: the API takes anonymous orders.
    #[arg(long, env = "CUSTOMER_CLAIM")]
    pub(crate) customer_claim: Option<String>,
    /// Apply the migrations (and seed the demo inventory into an empty
    /// database) when an execution environment starts. Off in the shipped
    /// deployment: migrations are a deploy step, so a cold start needs no
    /// DDL rights and one bad migration cannot stop every function.
    #[arg(long, env = "DB_MIGRATE_ON_START", default_value_t = false)]
    pub(crate) migrate_on_start: bool,
    /// The migration function: seed the demo inventory (the original
    /// system's five products) into an empty inventory table. For a `dev`
    /// stack only.
    #[arg(long, env = "DEMO_INVENTORY", default_value_t = false)]
    pub(crate) demo_inventory: bool,
}

/// How an execution environment opens its store.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// Migrate (and seed an empty inventory) on start, rather than refuse a
    /// database that is not migrated.
    pub migrate: bool,
    /// Where the database credentials come from: read at start and again
    /// whenever the database refuses them ([`RotatingStore`]). `None`: the
    /// connection options carry them.
    pub secret: Option<Secret>,
}

/// What one execution environment builds once and every invocation borrows.
#[derive(Clone)]
pub struct Environment {
    pub ctx: Context,
    pub queues: Queues,
    pub config: Config,
    /// Where the notifier function sends notifications.
    pub notifier: Arc<dyn Notifier>,
    /// The API routes [`Environment::router`] serves.
    pub routes: Routes,
    /// The JWT claim that names the customer, if orders must be the
    /// caller's own ([`caller_from_claim`]).
    pub customer_claim: Option<Arc<str>>,
}

impl Environment {
    /// Reads the configuration from the environment and the order id key
    /// from Secrets Manager (`ORDER_ID_KEY_SECRET_ARN`), opens the SQS
    /// queues and then the store with the credentials of `DB_SECRET_ARN`
    /// ([`Environment::init`]).
    pub async fn from_env() -> Result<Environment, InitError> {
        let (mut config, options, lc, secrets) = config_from_env().await?;
        if let (Some(arn), Some(client)) = (&lc.order_id_key_secret_arn, &secrets) {
            let key = Secret::new(client.clone(), arn).read_required().await?;
            config.order_id_key = Some(key);
        }
        let queues = Queues::open(&config).await?;
        let startup = Startup {
            migrate: lc.migrate_on_start,
            secret: lc
                .db_secret_arn
                .zip(secrets)
                .map(|(arn, client)| Secret::new(client, arn)),
        };
        let env = Environment::init(config, options, queues, startup).await?;
        Ok(Environment {
            routes: lc.api_routes,
            customer_claim: lc.customer_claim.map(Arc::from),
            ..env
        })
    }

    /// The init of an execution environment, given its configuration,
    /// database and queues: opens its own pool of `config.db_max_connections`
    /// (in memory without `mysql`), migrating first only if `startup` says
    /// so; with a pool of 0, no database at all (the ingest function, whose
    /// route only publishes). What `sim --topology lambda` runs on each cold
    /// start.
    pub async fn init(
        config: Config,
        mysql: Option<MySqlConnectOptions>,
        queues: Queues,
        startup: Startup,
    ) -> Result<Environment, InitError> {
        let order_ids = config.order_id_key()?;
        // Migrating on a cold start (the first deployment's way) seeds too;
        // otherwise the schema must be current and nothing is written.
        let options = StoreOptions {
            seed: startup.migrate || mysql.is_none(),
            mysql,
            pool_size: config.db_max_connections,
            lock_wait_timeout_secs: config.db_lock_wait_timeout_secs,
            schema: match startup.migrate {
                true => Schema::Migrate,
                false => Schema::Current,
            },
        };
        let store: Arc<dyn OrderStore> = match startup.secret {
            _ if options.pool_size == 0 => Arc::new(NoDatabase),
            Some(secret) if options.mysql.is_some() => {
                RotatingStore::open(options, secret).await?.into_dyn()
            }
            _ => options.open().await?.as_dyn(),
        };
        let ctx = Context::new(store).with_order_ids(order_ids);
        Ok(Environment::new(ctx, queues, config))
    }

    /// Builds an environment over parts the caller made (tests).
    pub fn new(ctx: Context, queues: Queues, config: Config) -> Self {
        Environment {
            ctx,
            queues,
            config,
            notifier: Arc::new(LogNotifier),
            routes: Routes::All,
            customer_claim: None,
        }
    }

    /// The API's routes this environment serves ([`Environment::routes`]),
    /// each order checked against the caller's token if
    /// [`Environment::customer_claim`] is set.
    pub fn router(&self) -> axum::Router {
        let router = http::router_for(AppState::new(&self.ctx, &self.queues), self.routes);
        match &self.customer_claim {
            Some(claim) => router.layer(axum::middleware::from_fn_with_state(
                claim.clone(),
                caller_from_claim,
            )),
            None => router,
        }
    }

    // The event source mapping receives, and deletes what the response
    // does not list as failed: the consumers only handle batches
    // (`process_by`), so neither deletes nor long-polls.

    pub fn processor(&self) -> Processor {
        Processor::new(
            self.queues.orders.clone(),
            self.queues.processed.clone(),
            self.ctx.clone(),
            WorkerConfig::default().without_deletes(),
        )
    }

    pub fn notification_worker(&self) -> NotificationWorker {
        let lease = self.config.visibility_timeout();
        NotificationWorker::new(
            self.queues.processed.clone(),
            self.ctx.clone(),
            self.notifier.clone(),
            WorkerConfig {
                wait: Duration::ZERO,
                ..WorkerConfig::notifier().within(lease).without_deletes()
            },
            lease,
        )
    }
}

/// The function's configuration from its environment variables, the
/// database's connection options (credentials still to come from the
/// secret), and a Secrets Manager client when any secret is named.
pub(crate) async fn config_from_env() -> Result<
    (
        Config,
        Option<MySqlConnectOptions>,
        LambdaConfig,
        Option<aws_sdk_secretsmanager::Client>,
    ),
    InitError,
> {
    let lc = LambdaConfig::try_parse_from(["lambda"])?;
    let mut config = lc.config.clone();
    config.queue = engine::config::QueueKind::Sqs;
    let options = config.mysql()?;
    let any_secret = lc.db_secret_arn.is_some()
        || lc.app_db_secret_arn.is_some()
        || lc.order_id_key_secret_arn.is_some();
    let secrets = match any_secret {
        true => {
            let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            Some(aws_sdk_secretsmanager::Client::new(&aws))
        }
        false => None,
    };
    Ok((config, options, lc, secrets))
}
