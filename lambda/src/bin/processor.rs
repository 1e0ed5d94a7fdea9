//! The processor function: batches of `OrderCreated` from the order queue,
//! answered with the messages that failed (`ReportBatchItemFailures`).

use engine::lambda::{handle_orders, Environment, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    orderflow_lambda::init_logs();
    let env = Environment::from_env().await?;
    let processor = env.processor();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let processor = &processor;
        async move { Ok::<_, Error>(handle_orders(processor, event.payload).await) }
    }))
    .await
}
