//! Secrets Manager as the functions use it: one secret ([`Secret`]) read,
//! written and rotated in stages, database credentials in an RDS secret's
//! JSON ([`Credentials`]), and why a call failed ([`SecretError`]),
//! classified transient or permanent where it is born. The store that
//! survives a password rotation is `lambda::RotatingStore`.

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use sqlx::mysql::MySqlConnectOptions;

/// Why a secret could not be read or written, classified where it is born:
/// a Secrets Manager blip is worth another try, a missing or malformed
/// secret is not.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager could not be reached, timed out, throttled the call
    /// or failed inside: the same call may succeed shortly.
    #[error("{doing} secret {arn}: {source}")]
    Unavailable {
        doing: &'static str,
        arn: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Secrets Manager refused the call: no such secret, no permission, a
    /// key it cannot decrypt with. Trying again will not help.
    #[error("{doing} secret {arn}: {source}")]
    Refused {
        doing: &'static str,
        arn: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The secret is there but does not hold what it should.
    #[error("secret {arn} {problem}")]
    Malformed { arn: String, problem: Malformed },
}

/// What a secret lacks.
#[derive(Debug, thiserror::Error)]
pub enum Malformed {
    #[error("is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("has no password")]
    NoPassword,
    #[error("has no string value")]
    NoString,
    #[error("has no value yet: the stack's migration function sets it on deploy")]
    NoValueYet,
    #[error("answered a write without a version id")]
    NoVersionId,
}

impl SecretError {
    /// Whether the same call may succeed if tried again.
    pub fn is_transient(&self) -> bool {
        matches!(self, SecretError::Unavailable { .. })
    }

    /// An SDK error, classified: no answer, a throttle or a fault of the
    /// service is transient; any other answer is a refusal.
    fn of<E, R>(doing: &'static str, arn: &str, e: SdkError<E, R>) -> SecretError
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let transient = match &e {
            SdkError::ServiceError(s) => matches!(
                s.err().code(),
                Some(
                    "ThrottlingException"
                        | "InternalServiceError"
                        | "InternalFailure"
                        | "ServiceUnavailable"
                )
            ),
            SdkError::ResponseError(_)
            | SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_) => true,
            _ => false,
        };
        let arn = arn.to_owned();
        // The SDK's own Display says only "service error"; its context
        // names the code and message.
        let source = aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            .to_string()
            .into();
        match transient {
            true => SecretError::Unavailable { doing, arn, source },
            false => SecretError::Refused { doing, arn, source },
        }
    }

    fn malformed(arn: &str, problem: Malformed) -> SecretError {
        SecretError::Malformed {
            arn: arn.to_owned(),
            problem,
        }
    }
}

/// One Secrets Manager secret, by ARN (or name).
#[derive(Clone, Debug)]
pub struct Secret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
}

/// A database user and password, as an RDS secret holds them (JSON with
/// `password` and optionally `username`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `options` with these credentials.
    pub fn apply(&self, options: MySqlConnectOptions) -> MySqlConnectOptions {
        let options = options.password(&self.password);
        match &self.username {
            Some(u) => options.username(u),
            None => options,
        }
    }

    /// The credentials in `json`, the value of the secret `arn`.
    pub fn from_secret(arn: &str, json: &str) -> Result<Credentials, SecretError> {
        let json: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| SecretError::malformed(arn, Malformed::NotJson(e)))?;
        let password = json
            .get("password")
            .and_then(|p| p.as_str())
            .ok_or_else(|| SecretError::malformed(arn, Malformed::NoPassword))?;
        Ok(Credentials {
            username: json
                .get("username")
                .and_then(|u| u.as_str())
                .map(str::to_owned),
            password: password.to_owned(),
        })
    }

    /// The secret's JSON form.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "username": self.username, "password": self.password }).to_string()
    }
}

impl Secret {
    pub fn new(client: aws_sdk_secretsmanager::Client, arn: impl Into<String>) -> Self {
        Secret {
            client,
            arn: arn.into(),
        }
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The secret's current string, or `None` when it has none yet (a
    /// secret the deploy made, which the migration function fills).
    pub async fn read(&self) -> Result<Option<String>, SecretError> {
        let arn = &self.arn;
        match self.client.get_secret_value().secret_id(arn).send().await {
            Ok(v) => {
                Ok(Some(v.secret_string.ok_or_else(|| {
                    SecretError::malformed(arn, Malformed::NoString)
                })?))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception())
                    && self.exists().await =>
            {
                Ok(None)
            }
            Err(e) => Err(SecretError::of("reading", arn, e)),
        }
    }

    /// Whether the secret itself exists (it may have no value yet).
    async fn exists(&self) -> bool {
        self.client
            .describe_secret()
            .secret_id(&self.arn)
            .send()
            .await
            .is_ok()
    }

    /// The secret's current string, which must be there.
    pub async fn read_required(&self) -> Result<String, SecretError> {
        self.read()
            .await?
            .ok_or_else(|| SecretError::malformed(&self.arn, Malformed::NoValueYet))
    }

    /// Database credentials from the secret's JSON.
    pub async fn credentials(&self) -> Result<Credentials, SecretError> {
        Credentials::from_secret(&self.arn, &self.read_required().await?)
    }

    /// Stores a new current value.
    pub async fn put(&self, value: &str) -> Result<(), SecretError> {
        self.put_staged(value, CURRENT).await.map(drop)
    }

    /// Stores `value` as a new version labelled `stage`; answers its id.
    async fn put_staged(&self, value: &str, stage: &str) -> Result<String, SecretError> {
        let put = self
            .client
            .put_secret_value()
            .secret_id(&self.arn)
            .secret_string(value)
            .version_stages(stage)
            .send()
            .await
            .map_err(|e| self.failed("writing", e))?;
        put.version_id
            .ok_or_else(|| SecretError::malformed(&self.arn, Malformed::NoVersionId))
    }

    /// Stores the value a rotation is about to give the database, beside
    /// the current one (label `AWSPENDING`): functions keep reading the
    /// current value, and a rotation that stops half-way leaves the new
    /// password written down. Answers the version's id.
    pub async fn put_pending(&self, value: &str) -> Result<String, SecretError> {
        self.put_staged(value, PENDING).await
    }

    /// The pending version (its id and value) of a rotation not finished,
    /// if any.
    pub async fn pending(&self) -> Result<Option<(String, String)>, SecretError> {
        let stages = self.stages().await?;
        let Some(version) = stages
            .pending
            .filter(|p| Some(p) != stages.current.as_ref())
        else {
            return Ok(None);
        };
        let value = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .version_id(&version)
            .send()
            .await
            .map_err(|e| self.failed("reading the pending version of", e))?
            .secret_string
            .ok_or_else(|| SecretError::malformed(&self.arn, Malformed::NoString))?;
        Ok(Some((version, value)))
    }

    /// Makes the pending `version` (whose string is `value`) current, what
    /// functions read from now on, and clears its pending label: the
    /// rotation's last step. The value is written again as a new current
    /// version (Secrets Manager then labels the old one `AWSPREVIOUS`)
    /// rather than by moving the label, which moto's Secrets Manager does
    /// not follow on later reads.
    pub async fn promote(&self, version: &str, value: &str) -> Result<(), SecretError> {
        self.put_staged(value, CURRENT).await?;
        self.client
            .update_secret_version_stage()
            .secret_id(&self.arn)
            .version_stage(PENDING)
            .remove_from_version_id(version)
            .send()
            .await
            .map_err(|e| self.failed("clearing the pending label of", e))?;
        Ok(())
    }

    /// Which versions carry the current and pending labels.
    async fn stages(&self) -> Result<Stages, SecretError> {
        let described = self
            .client
            .describe_secret()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| self.failed("describing", e))?;
        let mut stages = Stages::default();
        for (version, labels) in described.version_ids_to_stages.unwrap_or_default() {
            if labels.iter().any(|l| l == CURRENT) {
                stages.current = Some(version.clone());
            }
            if labels.iter().any(|l| l == PENDING) {
                stages.pending = Some(version);
            }
        }
        Ok(stages)
    }

    fn failed<E, R>(&self, doing: &'static str, e: SdkError<E, R>) -> SecretError
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        SecretError::of(doing, &self.arn, e)
    }
}

/// Secrets Manager's labels: what everyone reads, and a rotation's new
/// value before it is.
const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

#[derive(Default)]
struct Stages {
    current: Option<String>,
    pending: Option<String>,
}
