//! A store that survives the rotation of its database password (the
//! secret it reads is [`crate::secrets::Secret`]).
//!
//! RDS rotates a managed password every 7 days, and the application user's
//! password can be rotated by the migration function. A connection already
//! open stays valid (MySQL checks a password only when a connection is
//! made), but every new one made with the old password is refused with
//! error 1045. So [`RotatingStore`] re-reads the secret when the database
//! refuses the credentials, gives its pool the new ones (for the
//! connections it makes from then on) and tries the call once more; and
//! the error itself is transient ([`StoreError::AccessDenied`]), so a call
//! that meets the moment between the two halves of a rotation is retried
//! like any other, never sent to the DLQ for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio::sync::Mutex;

use engine::store::decorator::Call;
use engine::store::{MySqlStore, OrderStore, StoreDecorator, StoreError, StoreOptions};

use crate::secrets::Secret;
use crate::InitError;

/// A MySQL store whose credentials come from a [`Secret`], re-read when
/// the database refuses them (see the module doc).
pub struct RotatingStore {
    store: MySqlStore,
    secret: Secret,
    /// When the credentials were last read; one re-read serves every call
    /// refused before it.
    read_at: Mutex<Instant>,
}

/// The longest a function waits for the secret to change, at start, when
/// the database refuses what it read (the middle of a rotation).
const START_PATIENCE: Duration = Duration::from_secs(10);

impl RotatingStore {
    /// Reads the credentials and opens the MySQL store of `options` with
    /// them. Refused credentials are read again (a rotation in progress)
    /// for up to 10 s.
    pub async fn open(options: StoreOptions, secret: Secret) -> Result<Self, InitError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(200);
        loop {
            let read_at = Instant::now();
            let credentials = secret.credentials().await?;
            let with = StoreOptions {
                mysql: options.mysql.clone().map(|o| credentials.apply(o)),
                ..options.clone()
            };
            match with.open_mysql().await {
                Ok(store) => {
                    return Ok(RotatingStore {
                        store,
                        secret,
                        read_at: Mutex::new(read_at),
                    })
                }
                Err(StoreError::AccessDenied(e)) if started.elapsed() < START_PATIENCE => {
                    tracing::warn!(secret = secret.arn(), error = %e,
                        "the database refused the secret's credentials; reading it again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The store, shared, for an environment's context.
    pub fn into_dyn(self) -> Arc<dyn OrderStore> {
        Arc::new(self)
    }

    /// After a call that started at `asked` was refused: reads the secret
    /// again, unless that was done since, and hands the pool the result.
    async fn reread(&self, asked: Instant) {
        let mut read_at = self.read_at.lock().await;
        if *read_at > asked {
            return;
        }
        let now = Instant::now();
        match self.secret.credentials().await {
            Ok(credentials) => {
                let pool = self.store.pool();
                pool.set_connect_options(credentials.apply((*pool.connect_options()).clone()));
                *read_at = now;
                tracing::info!(
                    secret = self.secret.arn(),
                    "database credentials read again after a refusal"
                );
            }
            Err(e) => tracing::warn!(error = %e, "reading the database secret again failed"),
        }
    }
}

/// Every call, run again once after the database refused the credentials
/// and they were read again.
#[async_trait]
impl StoreDecorator for RotatingStore {
    fn inner(&self) -> &dyn OrderStore {
        &self.store
    }

    fn around<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a, T>,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        Box::pin(async move {
            let asked = Instant::now();
            match call(&self.store).await {
                Err(StoreError::AccessDenied(_)) => {
                    self.reread(asked).await;
                    call(&self.store).await
                }
                done => done,
            }
        })
    }
}
