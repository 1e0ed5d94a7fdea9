//! Retrying a call that failed transiently, with exponential backoff: the
//! one loop the processor, the notifier and ingest share.

use std::future::Future;
use std::time::Duration;

/// How often to try, and how long to wait before the first retry (each
/// later wait doubles).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub attempts: u32,
    pub first_delay: Duration,
}

/// Calls `call` until it succeeds, fails with an error `transient` does not
/// accept, or `policy.attempts` calls were made; answers the last result.
/// `on_retry` hears each error that is retried, with its attempt number.
pub async fn retry<T, E, F, Fut>(
    policy: Backoff,
    transient: impl Fn(&E) -> bool,
    mut on_retry: impl FnMut(&E, u32),
    mut call: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = policy.first_delay;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if attempt < policy.attempts && transient(&e) => {
                on_retry(&e, attempt);
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Backoff = Backoff {
        attempts: 4,
        first_delay: Duration::from_millis(1),
    };

    #[tokio::test]
    async fn retries_transient_errors_up_to_the_attempts_then_answers_the_last() {
        let mut calls = 0;
        let mut retried = Vec::new();
        let result: Result<(), &str> = retry(
            QUICK,
            |e| *e == "transient",
            |_, attempt| retried.push(attempt),
            || {
                calls += 1;
                async { Err("transient") }
            },
        )
        .await;
        assert_eq!(result, Err("transient"));
        assert_eq!(calls, 4);
        assert_eq!(retried, [1, 2, 3]);
    }

    #[tokio::test]
    async fn a_permanent_error_or_a_success_ends_at_once() {
        let mut calls = 0;
        let result: Result<(), &str> = retry(
            QUICK,
            |e| *e == "transient",
            |_, _| {},
            || {
                calls += 1;
                async { Err("permanent") }
            },
        )
        .await;
        assert_eq!((result, calls), (Err("permanent"), 1));
        let mut calls = 0;
        let result: Result<u8, &str> = retry(
            QUICK,
            |_| true,
            |_, _| {},
            || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err("transient")
                    } else {
                        Ok(7)
                    }
                }
            },
        )
        .await;
        assert_eq!((result, calls), (Ok(7), 3));
    }
}
