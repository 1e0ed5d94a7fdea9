//! AWS Lambda entry points (feature `lambda`): the same engine as `sim`,
//! wired to SQS and RDS. The `orderflow-lambda` crate's binaries are thin
//! `main`s over these (the ingest binary is also the read function, with
//! `API_ROUTES=reads`).
//!
//! - ingest: the axum router, served by `lambda_http` (API Gateway HTTP API,
//!   payload format 2.0), exactly as `sim serve` serves it;
//! - processor and notifier: SQS batches in, [`BatchResponse`] out,
//!   listing only the messages that failed (`ReportBatchItemFailures`), so
//!   one bad message does not bring nine good ones back.
//!
//! Everything expensive (configuration, the Secrets Manager lookup, the
//! database pool, the SQS client) is built once per execution environment
//! by [`Environment::from_env`], outside the handlers.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::app::StartError;
use crate::config::Config;
use crate::context::Context;
use crate::http::{self, AppState, Routes};
use crate::notifier::{LogNotifier, NotificationWorker, Notifier};
use crate::processor::{Processor, ProcessorConfig};
use crate::queue::Message;
use crate::queues::Queues;
use crate::store::{MySqlStore, NoDatabase, OrderStore, Schema, StoreError, StoreOptions};
use sqlx::mysql::MySqlConnectOptions;

pub use aws_lambda_events::event::sqs::{SqsBatchResponse as BatchResponse, SqsEvent, SqsMessage};

mod credentials;
mod emf;
mod identity;

pub use crate::secrets::{Credentials, Malformed, Secret, SecretError};
pub use credentials::RotatingStore;
pub use emf::{BatchMetrics, Meter};
pub use identity::caller_from_claim;

/// The variables a function reads, as clap describes them (the book's
/// reference of environment variables is written from it).
pub fn environment_command() -> clap::Command {
    <LambdaConfig as clap::CommandFactory>::command()
}

/// The configuration of a function: the engine's flags, read from the
/// function's environment variables only.
#[derive(Parser, Clone)]
struct LambdaConfig {
    #[command(flatten)]
    config: Config,
    /// ARN of the Secrets Manager secret holding the credentials the
    /// function connects with (JSON with `password`, and optionally
    /// `username`): the application user's for the functions, the
    /// master user's for the migration function. In production the password
    /// never sits in a plain environment variable.
    #[arg(long, env = "DB_SECRET_ARN")]
    db_secret_arn: Option<String>,
    /// The migration function: ARN of the application user's secret, which
    /// it fills with a generated password on the first deploy and keeps the
    /// user's password equal to.
    #[arg(long, env = "APP_DB_SECRET_ARN")]
    app_db_secret_arn: Option<String>,
    /// The migration function: where the application user may connect
    /// from (a MySQL host pattern; the Pulumi program gives the VPC's
    /// range, `10.20.%`).
    #[arg(long, env = "APP_DB_USER_HOST", default_value = "%")]
    app_db_user_host: String,
    /// ARN of the secret holding the key order ids are derived under (the
    /// ingest function reads it; the migration function generates it on the
    /// first deploy).
    #[arg(long, env = "ORDER_ID_KEY_SECRET_ARN")]
    order_id_key_secret_arn: Option<String>,
    /// The ingest function: which of the API's routes it serves, `intake`
    /// (`POST /api/orders`, with `DB_MAX_CONNECTIONS=0`: no database) or
    /// `reads` (the read function); `all` serves every route.
    #[arg(long, env = "API_ROUTES", value_enum, default_value = "all")]
    api_routes: Routes,
    /// Behind a JWT authorizer: the claim of the verified token that names
    /// the customer (`sub` as the Pulumi program deploys it). An order for
    /// another `customer_id` is refused 403, and so is a write whose request
    /// carries no such claim. Unset: the API takes anonymous orders.
    #[arg(long, env = "CUSTOMER_CLAIM")]
    customer_claim: Option<String>,
    /// Apply the migrations (and seed the demo inventory into an empty
    /// database) when an execution environment starts. Off in the shipped
    /// deployment: migrations are a deploy step, so a cold start needs no
    /// DDL rights and one bad migration cannot stop every function.
    #[arg(long, env = "DB_MIGRATE_ON_START", default_value_t = false)]
    migrate_on_start: bool,
    /// The migration function: seed the demo inventory (the original
    /// system's five products) into an empty inventory table. For a `dev`
    /// stack only.
    #[arg(long, env = "DEMO_INVENTORY", default_value_t = false)]
    demo_inventory: bool,
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
    pub async fn from_env() -> Result<Environment, StartError> {
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
    ) -> Result<Environment, StartError> {
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

    pub fn processor(&self) -> Processor {
        Processor::new(
            self.queues.orders.clone(),
            self.queues.processed.clone(),
            self.ctx.clone(),
            // The event source mapping deletes what the response does not
            // list as failed.
            ProcessorConfig {
                delete_messages: false,
                ..ProcessorConfig::default()
            },
        )
    }

    pub fn notification_worker(&self) -> NotificationWorker {
        NotificationWorker::new(
            self.queues.processed.clone(),
            self.ctx.clone(),
            self.notifier.clone(),
            Duration::ZERO,
            self.config.visibility_timeout(),
        )
        .without_deletes()
    }
}

/// The function's configuration from its environment variables, the
/// database's connection options (credentials still to come from the
/// secret), and a Secrets Manager client when any secret is named.
async fn config_from_env() -> Result<
    (
        Config,
        Option<MySqlConnectOptions>,
        LambdaConfig,
        Option<aws_sdk_secretsmanager::Client>,
    ),
    StartError,
> {
    let lc = LambdaConfig::try_parse_from(["lambda"])?;
    let mut config = lc.config.clone();
    config.queue = crate::config::QueueKind::Sqs;
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

/// The user the functions connect as: data rights only.
pub const APP_USER: &str = "orderflow_app";

/// What the migration function is asked to do beside migrating.
#[derive(Debug, Default, serde::Deserialize)]
pub struct MigrateRequest {
    /// The digest of the migrations the deploy expects
    /// ([`crate::store::mysql::migrations_digest`], which the Pulumi
    /// program computes from `db/migrations`): a binary carrying other
    /// migrations refuses to run, so a stale zip fails the deploy instead
    /// of reporting success and applying nothing.
    #[serde(default)]
    pub migrations: Option<String>,
    /// Give the application user a new generated password (and its secret
    /// the same): a rotation, in an order that never leaves the database a
    /// password the secret lacks ([`rotate`]). The functions read the
    /// secret again when the database refuses the old one.
    #[serde(default)]
    pub rotate_app_password: bool,
}

/// A generated secret: 256 random bits as 64 hex digits.
fn generated() -> String {
    let bits: [u128; 2] = rand::random();
    format!("{:032x}{:032x}", bits[0], bits[1])
}

/// The migration function, run once per deploy by the Pulumi program
/// before the other functions change, as the schema's owner: applies the
/// pending migrations; seeds the demo inventory into an empty table on a
/// stack that asks for it (`DEMO_INVENTORY`, a `dev` stack); creates the
/// application user with data rights only, its password generated into
/// `APP_DB_SECRET_ARN` on the first deploy (or when `request` rotates
/// it); and generates the order id key into `ORDER_ID_KEY_SECRET_ARN` if it
/// has none. Answers what it did, one line each.
pub async fn migrate_from_env(request: MigrateRequest) -> Result<Vec<String>, StartError> {
    let carried = crate::store::mysql::migrations_digest();
    if let Some(expected) = request.migrations.as_deref().filter(|d| *d != carried) {
        return Err(StartError::StaleMigrations {
            carried,
            expected: expected.to_owned(),
        });
    }
    let (_, options, lc, secrets) = config_from_env().await?;
    let mut options = options.ok_or(StartError::NoDatabase)?;
    let database = options.get_database().unwrap_or_default().to_owned();
    // config_from_env makes a client whenever a secret is named.
    let secret = |arn: &String| secrets.clone().map(|client| Secret::new(client, arn));
    if let Some(secret) = lc.db_secret_arn.as_ref().and_then(secret) {
        options = secret.credentials().await?.apply(options);
    }
    let store = StoreOptions::mysql(options)
        .pool_size(1)
        .schema(Schema::AsIs)
        .open_mysql()
        .await?;
    let mut done: Vec<String> = store
        .migrate()
        .await?
        .into_iter()
        .map(|(version, description)| format!("migration {version} {description} applied"))
        .collect();
    let problems = store.schema_problems().await?;
    if !problems.is_empty() {
        return Err(StoreError::Schema(format!(
            "after migrating, the schema is not one the engine can use: {}",
            problems.join("; ")
        ))
        .into());
    }
    if lc.demo_inventory && store.seed_if_empty(&crate::domain::seed_products()).await? {
        done.push("demo inventory seeded".into());
    }
    if let Some(app) = lc.app_db_secret_arn.as_ref().and_then(secret) {
        let app = (app, lc.app_db_user_host.as_str());
        done.extend(app_user(&store, app, &database, request.rotate_app_password).await?);
    }
    if let Some(key) = lc.order_id_key_secret_arn.as_ref().and_then(secret) {
        if key.read().await?.is_none() {
            key.put(&generated()).await?;
            done.push(format!("order id key generated into {}", key.arn()));
        }
    }
    Ok(done)
}

/// The application user, at `host`, with data rights on `database` and
/// the password in its secret: made on the first deploy (the password
/// written down before any account has it), rotated when asked or when a
/// rotation was left half-done. Answers what it did.
async fn app_user(
    store: &MySqlStore,
    (app, host): (Secret, &str),
    database: &str,
    rotate_now: bool,
) -> Result<Option<String>, StartError> {
    let arn = app.arn().to_owned();
    let Some(json) = app.read().await? else {
        let credentials = Credentials {
            username: Some(APP_USER.into()),
            password: generated(),
        };
        app.put(&credentials.to_json()).await?;
        store
            .grant_data_rights((APP_USER, host), &credentials.password, database)
            .await?;
        return Ok(Some(format!(
            "application user {APP_USER}: new password in {arn}"
        )));
    };
    let current = Credentials::from_secret(&arn, &json)?;
    let user = current.username.clone().unwrap_or_else(|| APP_USER.into());
    store
        .grant_data_rights((&user, host), &current.password, database)
        .await?;
    let pending = app.pending().await?;
    if !rotate_now && pending.is_none() {
        return Ok(None);
    }
    let how = rotate(store, &app, (&user, host), &current, pending).await?;
    Ok(Some(format!(
        "application user {user}: password rotated ({how})"
    )))
}

/// Rotates `user`'s password so that the database never holds one the
/// secret does not: the new password is written as the secret's pending
/// version first, then given to the database (with MySQL's dual passwords,
/// beside the current one, so nothing is refused meanwhile), then made
/// current, and only then is the old one discarded. A rotation that stopped
/// half-way left its `pending` version, which this finishes (every deploy
/// looks). On a server without dual passwords (MariaDB) a new connection
/// made with the old password between the database's change and the
/// secret's is refused, and [`RotatingStore`] reads the secret again.
/// Answers how the database took it.
async fn rotate(
    store: &MySqlStore,
    app: &Secret,
    user: (&str, &str),
    current: &Credentials,
    pending: Option<(String, String)>,
) -> Result<&'static str, StartError> {
    let (version, json) = match pending {
        Some(pending) => pending,
        None => {
            let next = Credentials {
                username: current.username.clone(),
                password: generated(),
            }
            .to_json();
            (app.put_pending(&next).await?, next)
        }
    };
    let next = Credentials::from_secret(app.arn(), &json)?;
    let dual = store.has_dual_passwords().await?;
    store.set_password(user, &next.password, dual).await?;
    app.promote(&version, &json).await?;
    if dual {
        store.discard_old_password(user).await?;
        Ok("dual passwords: the old one worked until the secret changed")
    } else {
        Ok("no dual passwords on this server: the old one stopped when the database changed")
    }
}

/// The messages of an SQS event, as the queue backends deliver them.
pub fn messages(event: SqsEvent) -> Vec<Message> {
    event
        .records
        .into_iter()
        .map(|r| Message {
            receive_count: r
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
            message_id: r.message_id.unwrap_or_default(),
            receipt_handle: r.receipt_handle.unwrap_or_default(),
            body: r.body.unwrap_or_default(),
        })
        .collect()
}

fn batch_response(failed: Vec<String>) -> BatchResponse {
    let mut response = BatchResponse::default();
    for id in failed {
        response.add_failure(id);
    }
    response
}

/// The processor function: one SQS batch of `OrderCreated`, done by the
/// invocation's `deadline` ([`Processor::process_by`]).
pub async fn handle_orders(
    processor: &Processor,
    event: SqsEvent,
    deadline: Option<tokio::time::Instant>,
) -> BatchResponse {
    batch_response(
        processor
            .process_by(messages(event), deadline)
            .await
            .failed_message_ids,
    )
}

/// When an invocation must be done, from the Lambda context's deadline
/// (milliseconds since the Unix epoch).
pub fn invocation_deadline(deadline_ms: u64) -> tokio::time::Instant {
    let deadline = std::time::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + left
}

/// The notifier function: one SQS batch of `OrderProcessed`.
pub async fn handle_processed(worker: &NotificationWorker, event: SqsEvent) -> BatchResponse {
    batch_response(worker.process(messages(event)).await)
}
