//! The migration function: the deploy step that applies the schema's
//! migrations as its owner (and seeds the demo inventory on a `dev` stack).
//! The Pulumi program invokes it once per deploy, before the other functions
//! change; they connect with data rights only and migrate nothing.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_lambda::MigrateRequest;

#[tokio::main]
async fn main() -> Result<(), Error> {
    orderflow_lambda::init_logs();
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            // The deploy's input is `{"migrations": "<digest>"}`; a rotation
            // asks `{"rotate_app_password": true}`; a rehearsal stocks its
            // load's products with `{"stock": [...]}`.
            let request: MigrateRequest = serde_json::from_value(event.payload)?;
            let done = orderflow_lambda::migrate_from_env(request).await?;
            if done.is_empty() {
                tracing::info!("the schema is current; nothing to do");
            }
            for line in &done {
                tracing::info!("{line}");
            }
            Ok::<_, Error>(serde_json::json!({ "done": done }))
        },
    ))
    .await
}
