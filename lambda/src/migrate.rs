//! The migration step: the one function that runs as the schema's owner,
//! once per deploy, before the others change. It applies the migrations,
//! makes the application user (data rights only) and keeps its password
//! equal to its secret, rotating it in an order that never leaves the
//! database a password the secret lacks.

use engine::domain::InventoryItem;
use engine::store::{MySqlStore, OrderStore, Schema, StoreAdmin, StoreError, StoreOptions};

use crate::environment::config_from_env;
use crate::secrets::{Credentials, Secret};
use crate::InitError;

/// The user the functions connect as: data rights only.
pub const APP_USER: &str = "orderflow_app";

/// What the migration function is asked to do beside migrating.
#[derive(Debug, Default, serde::Deserialize)]
pub struct MigrateRequest {
    /// The digest of the migrations the deploy expects
    /// ([`engine::store::mysql::migrations_digest`], which the Pulumi
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
    /// Products to put in the inventory at these quantities (inserted, or
    /// their stock set): a stack other than `dev` starts empty and no route
    /// writes products, so `sim rehearse` stocks its load's this way, as
    /// the schema's owner, before the sale.
    #[serde(default)]
    pub stock: Vec<InventoryItem>,
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
/// it); stocks the products `request` names; and generates the order id key into `ORDER_ID_KEY_SECRET_ARN` if it
/// has none. Answers what it did, one line each.
pub async fn migrate_from_env(request: MigrateRequest) -> Result<Vec<String>, InitError> {
    let carried = engine::store::mysql::migrations_digest();
    if let Some(expected) = request.migrations.as_deref().filter(|d| *d != carried) {
        return Err(InitError::StaleMigrations {
            carried,
            expected: expected.to_owned(),
        });
    }
    let (_, options, lc, secrets) = config_from_env().await?;
    let mut options = options.ok_or(InitError::NoDatabase)?;
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
    if lc.demo_inventory
        && store
            .seed_if_empty(&engine::domain::seed_products())
            .await?
    {
        done.push("demo inventory seeded".into());
    }
    if !request.stock.is_empty() {
        store.upsert_products(&request.stock).await?;
        let ids: Vec<&str> = request
            .stock
            .iter()
            .map(|p| p.product_id.as_str())
            .collect();
        done.push(format!(
            "{} products stocked: {}",
            ids.len(),
            ids.join(", ")
        ));
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
) -> Result<Option<String>, InitError> {
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
) -> Result<&'static str, InitError> {
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
