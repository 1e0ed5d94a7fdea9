//! The migration function: the deploy step that applies the schema's
//! migrations as its owner (and seeds the demo inventory on a `dev` stack).
//! The Pulumi program invokes it once per deploy, before the other functions
//! change; they connect with data rights only and migrate nothing.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    orderflow_lambda::init_logs();
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async {
        let applied = engine::lambda::migrate_from_env().await?;
        log_applied(&applied);
        Ok::<_, Error>(serde_json::json!({ "applied": applied }))
    }))
    .await
}

fn log_applied(applied: &[String]) {
    if applied.is_empty() {
        println!("migrations: the schema is current");
    } else {
        println!("migrations applied: {}", applied.join(", "));
    }
}
