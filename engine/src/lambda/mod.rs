//! AWS Lambda entry points (feature `lambda`): the same engine as `sim`,
//! wired to SQS and RDS. The `orderflow-lambda` crate's three binaries are
//! thin `main`s over these.
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

use crate::app::{open_store_with, StartError};
use crate::config::Config;
use crate::context::Context;
use crate::http::{self, AppState};
use crate::notifier::{LogNotifier, NotificationWorker, Notifier};
use crate::processor::{Processor, ProcessorConfig};
use crate::queue::{Message, Queues};
use crate::store::{MySqlStore, OrderStore};
use sqlx::mysql::MySqlConnectOptions;

pub use aws_lambda_events::event::sqs::{SqsBatchResponse as BatchResponse, SqsEvent, SqsMessage};

/// The configuration of a function: the engine's flags, read from the
/// function's environment variables only.
#[derive(Parser, Clone)]
struct LambdaConfig {
    #[command(flatten)]
    config: Config,
    /// ARN of the Secrets Manager secret holding the database credentials
    /// (JSON with `password`, and optionally `username`). In production the
    /// password never sits in a plain environment variable.
    #[arg(long, env = "DB_SECRET_ARN")]
    db_secret_arn: Option<String>,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Startup {
    /// Migrate (and seed an empty inventory) on start, rather than refuse a
    /// database that is not migrated.
    pub migrate: bool,
}

/// What one execution environment builds once and every invocation borrows.
#[derive(Clone)]
pub struct Environment {
    pub ctx: Context,
    pub queues: Queues,
    pub config: Config,
    /// Where the notifier function sends notifications.
    pub notifier: Arc<dyn Notifier>,
}

impl Environment {
    /// Reads the configuration from the environment, fetches the database
    /// password from Secrets Manager when `DB_SECRET_ARN` is set, opens the
    /// SQS queues and then the store ([`Environment::init`]).
    pub async fn from_env() -> Result<Environment, StartError> {
        let (config, options, lc) = config_from_env().await?;
        let queues = Queues::open(&config)
            .await
            .map_err(|e| StartError::Queues(e.to_string()))?;
        let startup = Startup {
            migrate: lc.migrate_on_start,
        };
        Environment::init(config, options, queues, startup).await
    }

    /// The init of an execution environment, given its configuration,
    /// database and queues: opens its own pool of `config.db_max_connections`
    /// (in memory without `mysql`), migrating first only if `startup` says
    /// so. What `sim --topology lambda` runs on each cold start.
    pub async fn init(
        config: Config,
        mysql: Option<MySqlConnectOptions>,
        queues: Queues,
        startup: Startup,
    ) -> Result<Environment, StartError> {
        let store: Arc<dyn OrderStore> = match mysql {
            Some(options) if !startup.migrate => {
                Arc::new(MySqlStore::connect_migrated(options, config.db_max_connections).await?)
            }
            mysql => open_store_with(mysql, &config).await?.as_dyn(),
        };
        Ok(Environment::new(Context::new(store), queues, config))
    }

    /// Builds an environment over parts the caller made (tests).
    pub fn new(ctx: Context, queues: Queues, config: Config) -> Self {
        Environment {
            ctx,
            queues,
            config,
            notifier: Arc::new(LogNotifier),
        }
    }

    /// The API, as `sim serve` serves it.
    pub fn router(&self) -> axum::Router {
        http::router(AppState::new(&self.ctx, &self.queues))
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

/// The function's configuration from its environment variables, and the
/// database's connection options with the password from Secrets Manager
/// when `DB_SECRET_ARN` is set.
async fn config_from_env() -> Result<(Config, Option<MySqlConnectOptions>, LambdaConfig), StartError>
{
    let lc =
        LambdaConfig::try_parse_from(["lambda"]).map_err(|e| StartError::Config(e.to_string()))?;
    let mut config = lc.config.clone();
    config.queue = crate::config::QueueKind::Sqs;
    let mut options = config.mysql().map_err(StartError::Config)?;
    if let (Some(arn), Some(opts)) = (&lc.db_secret_arn, options.take()) {
        let (user, password) = secret_credentials(arn).await?;
        let opts = opts.password(&password);
        options = Some(match user {
            Some(u) => opts.username(&u),
            None => opts,
        });
    }
    Ok((config, options, lc))
}

/// The migration function, run once per deploy by the Pulumi program
/// before the other functions change: applies the pending migrations as
/// the schema's owner and, on a stack that asks for it (`DEMO_INVENTORY`,
/// a `dev` stack), seeds the demo inventory into an empty table. Answers
/// the migrations applied now as `version description` lines.
pub async fn migrate_from_env() -> Result<Vec<String>, StartError> {
    let (_, options, lc) = config_from_env().await?;
    let options =
        options.ok_or_else(|| StartError::Config("the migration function needs DB_HOST".into()))?;
    let store = MySqlStore::connect(options.clone(), 1).await?;
    let applied = store.migrate().await?;
    if lc.demo_inventory {
        store.seed_if_empty(&crate::domain::seed_products()).await?;
    }
    Ok(applied
        .into_iter()
        .map(|(version, description)| format!("{version} {description}"))
        .collect())
}

async fn secret_credentials(arn: &str) -> Result<(Option<String>, String), StartError> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let secret = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            StartError::Config(format!(
                "reading secret {arn}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ))
        })?
        .secret_string
        .ok_or_else(|| StartError::Config(format!("secret {arn} has no string value")))?;
    let json: serde_json::Value = serde_json::from_str(&secret)
        .map_err(|e| StartError::Config(format!("secret {arn} is not JSON: {e}")))?;
    let password = json
        .get("password")
        .and_then(|p| p.as_str())
        .ok_or_else(|| StartError::Config(format!("secret {arn} has no password")))?;
    let user = json
        .get("username")
        .and_then(|u| u.as_str())
        .map(str::to_owned);
    Ok((user, password.to_owned()))
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

/// The processor function: one SQS batch of `OrderCreated`.
pub async fn handle_orders(processor: &Processor, event: SqsEvent) -> BatchResponse {
    batch_response(processor.process(messages(event)).await.failed_message_ids)
}

/// The notifier function: one SQS batch of `OrderProcessed`.
pub async fn handle_processed(worker: &NotificationWorker, event: SqsEvent) -> BatchResponse {
    batch_response(worker.process(messages(event)).await)
}
