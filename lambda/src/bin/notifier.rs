//! The notifier function: batches of `OrderProcessed` from the processed
//! queue, answered with the messages that failed (`ReportBatchItemFailures`),
//! and one EMF metrics line per batch ([`orderflow_lambda::BatchMetrics`]).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_lambda::{handle_processed, Environment, Meter, SqsEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    orderflow_lambda::init_logs();
    let env = Environment::from_env().await?;
    let worker = env.notification_worker();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let worker = &worker;
        let meter = Meter::start(&env.ctx.metrics, event.payload.records.len());
        async move {
            let response = handle_processed(worker, event.payload).await;
            meter.finish(&response).publish();
            Ok::<_, Error>(response)
        }
    }))
    .await
}
