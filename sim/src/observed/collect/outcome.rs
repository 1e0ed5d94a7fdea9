//! The sale's outcome: the load's figures, and what is left in the
//! dead-letter queues, counted where it is (the load cannot see them).

use std::collections::BTreeMap;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;

/// The messages in the queue at `url`, visible or in flight
/// (`ApproximateNumberOfMessages` + `...NotVisible`).
pub async fn messages_in(client: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<f64> {
    let answer = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GetQueueAttributes on {url}: {}", DisplayErrorContext(&e)))?;
    let attributes = answer.attributes();
    let count = |name: QueueAttributeName| -> anyhow::Result<f64> {
        let text = attributes
            .and_then(|a| a.get(&name))
            .ok_or_else(|| anyhow::anyhow!("{url} did not say its {}", name.as_str()))?;
        text.parse::<f64>()
            .map_err(|_| anyhow::anyhow!("{url}'s {} is {text:?}", name.as_str()))
    };
    Ok(count(QueueAttributeName::ApproximateNumberOfMessages)?
        + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?)
}

/// The messages in both dead-letter queues.
pub async fn dead_letters(client: &aws_sdk_sqs::Client, urls: [&str; 2]) -> anyhow::Result<f64> {
    let mut total = 0.0;
    for url in urls {
        total += messages_in(client, url).await?;
    }
    Ok(total)
}

/// The outcome: the load's figures, `dlq` replaced by the dead-letter
/// queues' count when they answered.
pub fn outcome(load: &BTreeMap<String, f64>, dead_letters: Option<f64>) -> BTreeMap<String, f64> {
    let mut outcome = load.clone();
    if let Some(n) = dead_letters {
        outcome.insert("dlq".to_owned(), n);
    }
    outcome
}
