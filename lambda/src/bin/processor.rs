//! The processor function: batches of `OrderCreated` from the order queue,
//! answered with the messages that failed (`ReportBatchItemFailures`).

use engine::lambda::{handle_orders, invocation_deadline, Environment, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    orderflow_lambda::init_logs();
    let env = Environment::from_env().await?;
    let processor = env.processor();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let processor = &processor;
        // Done before Lambda's deadline: what the store has not applied by
        // then comes back soon, not after the whole visibility timeout.
        let deadline = invocation_deadline(event.context.deadline);
        async move { Ok::<_, Error>(handle_orders(processor, event.payload, Some(deadline)).await) }
    }))
    .await
}
