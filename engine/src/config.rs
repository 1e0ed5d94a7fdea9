//! One `Config`, parsed once (flags, environment, and `.env` loaded by the
//! binary before parsing) and passed down. Nothing below reads the
//! environment itself.

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};

use crate::idempotency::OrderIdKey;
use crate::store::{Schema, StoreOptions};

/// The defaults, written once: the flags' and [`Config::default`]'s.
pub mod defaults {
    pub const DB_PORT: u16 = 3306;
    pub const DB_MAX_CONNECTIONS: u32 = 10;
    pub const PROCESSOR_WORKERS: usize = 4;
    pub const NOTIFIER_WORKERS: usize = 2;
    pub const VISIBILITY_TIMEOUT_SECS: u64 = 30;
    pub const MAX_RECEIVE_COUNT: u32 = 3;
    pub const QUEUE_CAPACITY: usize = 100_000;
    pub const DB_USER: &str = "root";
    pub const DB_NAME: &str = "orderflow";
    pub const SQS_QUEUE_PREFIX: &str = "orderflow";
}

#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// MySQL/MariaDB URL, e.g. mysql://root@127.0.0.1:3306/orderflow. The
    /// database is created if missing. Without it (and without DB_HOST) the
    /// in-memory store is used.
    #[arg(
        help_heading = "Database",
        long,
        env = "DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Database host, the original system's way to configure the database (used when
    /// DATABASE_URL is not set).
    #[arg(help_heading = "Database", long, env = "DB_HOST")]
    pub db_host: Option<String>,
    /// Database port (with DB_HOST).
    #[arg(help_heading = "Database", long, env = "DB_PORT", default_value_t = defaults::DB_PORT)]
    pub db_port: u16,
    /// Database user (with DB_HOST).
    #[arg(help_heading = "Database", long, env = "DB_USER", default_value = defaults::DB_USER)]
    pub db_user: String,
    /// Read from the environment or `.env` only; never pass it as a flag.
    #[arg(
        help_heading = "Database",
        long,
        env = "DB_PASSWORD",
        hide = true,
        hide_env_values = true,
        default_value = ""
    )]
    pub db_password: String,
    /// Database name (with DB_HOST); created if missing.
    #[arg(help_heading = "Database", long, env = "DB_NAME", default_value = defaults::DB_NAME)]
    pub db_name: String,
    /// TLS to the database: disabled, preferred (TLS if the server offers
    /// it, unverified), required (unverified), verify-ca, or verify-identity
    /// (the certificate chains to --db-ssl-ca and names the host). Unset:
    /// the URL's `ssl-mode`, else preferred. The Lambda functions use
    /// verify-identity with the RDS CA bundle.
    #[arg(help_heading = "Database", long, env = "DB_SSL_MODE", value_enum)]
    pub db_ssl_mode: Option<SslMode>,
    /// The CA certificates (PEM) the server's certificate must chain to:
    /// a file, or `rds` for the Amazon RDS bundle built into the binary
    /// (deploy/rds-ca/global-bundle.pem, its SHA-256 pinned).
    #[arg(help_heading = "Database", long, env = "DB_SSL_CA")]
    pub db_ssl_ca: Option<String>,
    /// Connections in the database pool.
    #[arg(help_heading = "Database", long, env = "DB_MAX_CONNECTIONS", default_value_t = defaults::DB_MAX_CONNECTIONS)]
    pub db_max_connections: u32,
    /// Seconds a statement waits for a row lock before it fails (error
    /// 1205, retried), set on each session (`innodb_lock_wait_timeout`);
    /// unset: the server's own. The deployed stack sets it in the parameter
    /// group as well, to a third of the processor's timeout.
    #[arg(help_heading = "Database", long, env = "DB_LOCK_WAIT_TIMEOUT_SECS")]
    pub db_lock_wait_timeout_secs: Option<u32>,

    /// Concurrent processor loops (each receives up to 10 orders and tops
    /// the batch up with what else waits, up to 200).
    #[arg(help_heading = "Queues", long, env = "PROCESSOR_WORKERS", default_value_t = defaults::PROCESSOR_WORKERS)]
    pub processor_workers: usize,
    /// Concurrent notifier loops; 0 runs none, leaving the processed queue
    /// to another notifier (the original system's, while it is replaced).
    #[arg(help_heading = "Queues", long, env = "NOTIFIER_WORKERS", default_value_t = defaults::NOTIFIER_WORKERS)]
    pub notifier_workers: usize,
    /// Seconds a received message stays invisible before it is redelivered.
    #[arg(help_heading = "Queues", long, env = "VISIBILITY_TIMEOUT_SECS", default_value_t = defaults::VISIBILITY_TIMEOUT_SECS)]
    pub visibility_timeout_secs: u64,
    /// Receives after which a message moves to the DLQ.
    #[arg(help_heading = "Queues", long, env = "MAX_RECEIVE_COUNT", default_value_t = defaults::MAX_RECEIVE_COUNT)]
    pub max_receive_count: u32,
    /// Messages the order queue holds before ingest answers 503.
    #[arg(help_heading = "Queues", long, env = "QUEUE_CAPACITY", default_value_t = defaults::QUEUE_CAPACITY)]
    pub queue_capacity: usize,

    /// Queue backend: `channel` (in-process) or `sqs` (AWS, or a local
    /// SQS-compatible server named by AWS_ENDPOINT_URL_SQS/AWS_ENDPOINT_URL).
    #[arg(
        help_heading = "Queues",
        long,
        env = "QUEUE_BACKEND",
        value_enum,
        default_value = "channel"
    )]
    pub queue: QueueKind,
    /// SQS: the order queue's URL. Unset: `<prefix>-orders` (and its DLQ)
    /// is created with a redrive policy.
    #[arg(help_heading = "Queues", long, env = "ORDER_QUEUE_URL")]
    pub order_queue_url: Option<String>,
    /// SQS: the processed queue's URL. Unset: `<prefix>-processed` (and its
    /// DLQ) is created.
    #[arg(help_heading = "Queues", long, env = "PROCESSED_QUEUE_URL")]
    pub processed_queue_url: Option<String>,
    /// SQS: the order DLQ's URL. Unset: read from the order queue's redrive
    /// policy.
    #[arg(help_heading = "Queues", long, env = "ORDER_DLQ_URL")]
    pub order_dlq_url: Option<String>,
    /// SQS: the processed DLQ's URL. Unset: read from the processed queue's
    /// redrive policy.
    #[arg(help_heading = "Queues", long, env = "PROCESSED_DLQ_URL")]
    pub processed_dlq_url: Option<String>,
    /// SQS, with queue URLs given: the queues checked at start (each must
    /// exist and be readable, or the start fails clearly), of `orders`,
    /// `order-dlq`, `processed`, `processed-dlq`. A Lambda function names
    /// only those it uses, as its role may read no other.
    #[arg(help_heading = "Queues", 
        long,
        env = "SQS_CHECK_QUEUES",
        value_delimiter = ',',
        value_parser = ["orders", "order-dlq", "processed", "processed-dlq"],
        default_value = "orders,order-dlq,processed,processed-dlq"
    )]
    pub sqs_check_queues: Vec<String>,
    /// SQS: name prefix of the queues created when no URLs are given.
    #[arg(help_heading = "Queues", long, env = "SQS_QUEUE_PREFIX", default_value = defaults::SQS_QUEUE_PREFIX)]
    pub sqs_queue_prefix: String,

    /// The secret key order ids are derived under (16+ characters), so
    /// nobody without it can compute another customer's order id. Read from
    /// the environment or `.env` only. Unset: a public development key.
    #[arg(long, env = "ORDER_ID_KEY", hide = true, hide_env_values = true)]
    pub order_id_key: Option<String>,
}

/// How the database connection uses TLS (MySQL's `--ssl-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl From<SslMode> for MySqlSslMode {
    fn from(m: SslMode) -> Self {
        match m {
            SslMode::Disabled => MySqlSslMode::Disabled,
            SslMode::Preferred => MySqlSslMode::Preferred,
            SslMode::Required => MySqlSslMode::Required,
            SslMode::VerifyCa => MySqlSslMode::VerifyCa,
            SslMode::VerifyIdentity => MySqlSslMode::VerifyIdentity,
        }
    }
}

/// Which queue backend carries the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueueKind {
    Channel,
    Sqs,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: None,
            db_host: None,
            db_port: defaults::DB_PORT,
            db_user: defaults::DB_USER.into(),
            db_password: String::new(),
            db_name: defaults::DB_NAME.into(),
            db_ssl_mode: None,
            db_ssl_ca: None,
            db_max_connections: defaults::DB_MAX_CONNECTIONS,
            db_lock_wait_timeout_secs: None,
            processor_workers: defaults::PROCESSOR_WORKERS,
            notifier_workers: defaults::NOTIFIER_WORKERS,
            visibility_timeout_secs: defaults::VISIBILITY_TIMEOUT_SECS,
            max_receive_count: defaults::MAX_RECEIVE_COUNT,
            queue_capacity: defaults::QUEUE_CAPACITY,
            queue: QueueKind::Channel,
            order_queue_url: None,
            processed_queue_url: None,
            order_dlq_url: None,
            processed_dlq_url: None,
            sqs_queue_prefix: defaults::SQS_QUEUE_PREFIX.into(),
            sqs_check_queues: ["orders", "order-dlq", "processed", "processed-dlq"]
                .map(String::from)
                .to_vec(),
            order_id_key: None,
        }
    }
}

/// A configuration the engine cannot run with, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DATABASE_URL is not a valid MySQL URL: {0}")]
    DatabaseUrl(#[source] sqlx::Error),
    #[error("DB_SSL_CA: cannot read {path}: {source}")]
    CaUnreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("DB_SSL_CA: {0} holds no PEM certificate")]
    CaNotPem(String),
    /// The configuration requires an encrypted connection, and this build
    /// has no TLS: refused before connecting, rather than by the driver.
    #[error(
        "{0} needs TLS to the database, which this build leaves out: build it with the \
         engine's `tls` feature (the sim: cargo run -p sim --features tls)"
    )]
    TlsNotBuilt(String),
    #[error("ORDER_ID_KEY: {0}")]
    OrderIdKey(#[from] crate::idempotency::KeyTooShort),
}

impl Config {
    /// Where the MySQL store lives, if one is configured: `DATABASE_URL`
    /// first, then the `DB_*` variables.
    /// `DB_SSL_MODE` and `DB_SSL_CA` apply to either.
    pub fn mysql(&self) -> Result<Option<MySqlConnectOptions>, ConfigError> {
        if !cfg!(feature = "tls") {
            if let Some(asked) = self.tls_demand() {
                return Err(ConfigError::TlsNotBuilt(asked));
            }
        }
        let options = if let Some(url) = self
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            MySqlConnectOptions::from_str(url).map_err(ConfigError::DatabaseUrl)?
        } else if let Some(host) = self.db_host.as_deref().filter(|h| !h.trim().is_empty()) {
            MySqlConnectOptions::new()
                .host(host)
                .port(self.db_port)
                .username(&self.db_user)
                .password(&self.db_password)
                .database(&self.db_name)
        } else {
            return Ok(None);
        };
        self.tls(options).map(Some)
    }

    /// Applies `DB_SSL_MODE` and `DB_SSL_CA` to `options`.
    fn tls(&self, mut options: MySqlConnectOptions) -> Result<MySqlConnectOptions, ConfigError> {
        if let Some(mode) = self.db_ssl_mode {
            options = options.ssl_mode(mode.into());
        }
        match self.db_ssl_ca.as_deref().map(str::trim) {
            None | Some("") => {}
            Some("rds") => options = options.ssl_ca_from_pem(crate::tls::RDS_CA_BUNDLE.to_vec()),
            Some(path) => {
                let pem = std::fs::read(path).map_err(|source| ConfigError::CaUnreadable {
                    path: path.to_owned(),
                    source,
                })?;
                if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                    return Err(ConfigError::CaNotPem(path.to_owned()));
                }
                options = options.ssl_ca_from_pem(pem);
            }
        }
        Ok(options)
    }

    /// What, if anything, requires the database connection to be
    /// encrypted, named as the user set it: an ssl mode of `required` or
    /// stricter (DB_SSL_MODE, else the URL's `ssl-mode`), or a CA to verify
    /// against (DB_SSL_CA). `preferred` requires nothing: it connects in
    /// the clear where TLS is not to be had. None without a database.
    pub fn tls_demand(&self) -> Option<String> {
        let url = self
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty());
        let host = self.db_host.as_deref().filter(|h| !h.trim().is_empty());
        if url.is_none() && host.is_none() {
            return None;
        }
        let (mode, from) = match (self.db_ssl_mode, url) {
            (Some(mode), _) => (mode.into(), "DB_SSL_MODE"),
            (None, Some(url)) => match MySqlConnectOptions::from_str(url) {
                Ok(options) => (options.get_ssl_mode(), "the database URL's ssl-mode"),
                // Refused as it is parsed (ConfigError::DatabaseUrl).
                Err(_) => return None,
            },
            (None, None) => (MySqlSslMode::Preferred, ""),
        };
        let mode = match mode {
            MySqlSslMode::Disabled => return None,
            MySqlSslMode::Preferred => None,
            MySqlSslMode::Required => Some("required"),
            MySqlSslMode::VerifyCa => Some("verify-ca"),
            MySqlSslMode::VerifyIdentity => Some("verify-identity"),
        };
        if let Some(mode) = mode {
            return Some(format!("{from}={mode}"));
        }
        match self.db_ssl_ca.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(ca) => Some(format!("DB_SSL_CA={ca}")),
        }
    }

    /// The key order ids are derived under: `ORDER_ID_KEY`, or the public
    /// development key when it is unset or empty.
    pub fn order_id_key(&self) -> Result<OrderIdKey, ConfigError> {
        match self
            .order_id_key
            .as_deref()
            .filter(|k| !k.trim().is_empty())
        {
            Some(key) => Ok(OrderIdKey::new(key)?),
            None => Ok(OrderIdKey::development()),
        }
    }

    /// The store this configuration names (MySQL if configured, else in
    /// memory), with its pool size (`DB_MAX_CONNECTIONS`), migrated and
    /// seeded: what `sim` runs and serves. (The configuration knows the
    /// store; the store knows no configuration.)
    pub fn store_options(&self) -> Result<StoreOptions, ConfigError> {
        Ok(StoreOptions {
            mysql: self.mysql()?,
            pool_size: self.db_max_connections,
            lock_wait_timeout_secs: self.db_lock_wait_timeout_secs,
            schema: Schema::Migrate,
            seed: true,
        })
    }

    pub fn visibility_timeout(&self) -> Duration {
        Duration::from_secs(self.visibility_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(url: &str, mode: Option<SslMode>, ca: Option<&str>) -> Option<String> {
        Config {
            database_url: Some(url.to_owned()),
            db_ssl_mode: mode,
            db_ssl_ca: ca.map(str::to_owned),
            ..Config::default()
        }
        .tls_demand()
    }

    /// A build without TLS refuses what must be encrypted, by these names,
    /// and connects in the clear only where the user left the choice open.
    #[test]
    fn what_requires_tls_is_named_as_the_user_set_it() {
        let url = "mysql://root@db.example.com/orderflow";
        assert_eq!(demand(url, None, None), None);
        assert_eq!(demand(url, Some(SslMode::Preferred), None), None);
        assert_eq!(
            demand(url, Some(SslMode::VerifyIdentity), Some("rds")).as_deref(),
            Some("DB_SSL_MODE=verify-identity")
        );
        assert_eq!(
            demand(&format!("{url}?ssl-mode=REQUIRED"), None, None).as_deref(),
            Some("the database URL's ssl-mode=required")
        );
        assert_eq!(
            demand(url, None, Some("rds")).as_deref(),
            Some("DB_SSL_CA=rds")
        );
        assert_eq!(demand(url, Some(SslMode::Disabled), Some("rds")), None);
        assert_eq!(demand(url, None, Some(" ")), None);
        // No database, nothing to encrypt.
        let none = Config {
            db_ssl_mode: Some(SslMode::Required),
            ..Config::default()
        };
        assert_eq!(none.tls_demand(), None);
        let host = Config {
            db_host: Some("db.example.com".into()),
            db_ssl_mode: Some(SslMode::VerifyCa),
            ..Config::default()
        };
        assert_eq!(host.tls_demand().as_deref(), Some("DB_SSL_MODE=verify-ca"));
    }
}
