//! The notifier function: batches of `OrderProcessed` from the processed
//! queue, answered with the messages that failed (`ReportBatchItemFailures`).

use engine::lambda::{handle_processed, Environment, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    orderflow_lambda::init_logs();
    let env = Environment::from_env().await?;
    let worker = env.notification_worker();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let worker = &worker;
        async move { Ok::<_, Error>(handle_processed(worker, event.payload).await) }
    }))
    .await
}
