//! The processor function: batches of `OrderCreated` from the order queue,
//! answered with the messages that failed (`ReportBatchItemFailures`), and
//! one EMF metrics line per batch ([`orderflow_lambda::BatchMetrics`]).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_lambda::{handle_orders, invocation_deadline, Environment, Meter, SqsEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    orderflow_lambda::init_logs();
    let env = Environment::from_env().await?;
    let processor = env.processor();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let processor = &processor;
        let meter = Meter::start(&env.ctx.metrics, event.payload.records.len());
        // Done before Lambda's deadline: what the store has not applied by
        // then comes back soon, not after the whole visibility timeout.
        let deadline = invocation_deadline(event.context.deadline);
        async move {
            let response = handle_orders(processor, event.payload, Some(deadline)).await;
            // Store retries and messages handed back, as CloudWatch metrics.
            meter.finish(&response).publish();
            Ok::<_, Error>(response)
        }
    }))
    .await
}
