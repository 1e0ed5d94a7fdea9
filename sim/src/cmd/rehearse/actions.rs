//! What the sim does itself in a step, between the programs it runs: read
//! the stack's outputs, get a token, send a probe order, wait for the
//! queues to drain, read what pulumi and the logs say; each either a doing
//! or a check, described here in the words the plan prints ([`Action::runs`],
//! [`Action::checks`]) and done in [`super::act`].

/// One thing the sim does or checks itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The zips and their manifest in the out directory, built for the
    /// settings' architecture.
    ZipsThere { architecture: &'static str },
    /// outputs.json read: the names later steps use; the client's secret
    /// kept in memory only.
    Outputs,
    /// The migrate function's log says migrations were applied.
    Applied,
    /// stock.json written: the load's products at their starting stock.
    WriteStock,
    /// A hand invocation of the migrate function answered without an
    /// error, one of its lines saying `says`.
    Answered {
        invoke: &'static str,
        answer: &'static str,
        says: &'static str,
    },
    /// An access token from the pool's token endpoint.
    Token,
    /// A probe order, with the token or without, and the status it must
    /// get; `when` says when it is sent (empty: nothing to say).
    Order {
        token: bool,
        expect: u16,
        when: &'static str,
    },
    /// The time now, kept as `{var}` (RFC 3339, or milliseconds since the
    /// epoch).
    Mark { var: &'static str, millis: bool },
    /// The order and processed queues drained, the DLQs empty.
    Drained { at_most_mins: f64 },
    /// pulumi up's events (a file of the out directory) changed the
    /// migrate function and its step, nothing else.
    OnlyMigrateChanged { events: &'static str },
    /// The migrate function started after `{redeploy_start_ms}`.
    RanAgain,
    /// `{new_version}` is not `{live_version}`: Lambda published a version.
    NewVersion,
    /// window.json: the sale's window for `sim collect`.
    Window,
    /// How to add the bill once Cost Explorer has the day.
    BillLater,
}

/// How often, and how long at most, a check that waits for AWS looks again.
pub const LOG_POLL_SECS: u64 = 10;
pub const LOG_POLL_MINS: f64 = 3.0;
pub const QUEUE_POLL_SECS: u64 = 15;

/// The `aws logs filter-log-events` the log checks run.
pub fn log_events(region: &str, since_ms: Option<&str>, pattern: &str) -> Vec<String> {
    let mut argv: Vec<String> = ["aws", "logs", "filter-log-events", "--region", region]
        .into_iter()
        .map(str::to_owned)
        .collect();
    argv.extend([
        "--log-group-name".into(),
        "/aws/lambda/{migrate_function}".into(),
    ]);
    if let Some(since) = since_ms {
        argv.extend(["--start-time".into(), since.into()]);
    }
    argv.extend([
        "--filter-pattern".into(),
        pattern.into(),
        "--output".into(),
        "json".into(),
    ]);
    argv
}

/// The filter patterns of the two log checks: the migration step's own
/// lines, and Lambda's record of an invocation starting (the functions log
/// JSON, so the platform's lines are JSON with a `type`).
pub const APPLIED_PATTERN: &str = "\"applied\"";
pub const STARTED_PATTERN: &str = "{ $.type = \"platform.start\" }";

/// The `aws sqs get-queue-attributes` the drain check runs on each queue.
pub fn queue_attributes(region: &str, queue: &str) -> Vec<String> {
    [
        "aws",
        "sqs",
        "get-queue-attributes",
        "--region",
        region,
        "--queue-url",
        queue,
        "--attribute-names",
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "--output",
        "json",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// The outputs the rehearsal reads: each must be in outputs.json.
pub const OUTPUTS: [&str; 13] = [
    "api_endpoint",
    "api_id",
    "stage",
    "db_instance_id",
    "migrate_function",
    "order_queue_url",
    "order_dlq_url",
    "processed_queue_url",
    "processed_dlq_url",
    "rehearsal_token_url",
    "rehearsal_client_id",
    "rehearsal_client_secret",
    "rehearsal_scope",
];

/// The functions `function_names` must name, kept as `{<name>_function}`.
pub const FUNCTIONS: [&str; 4] = ["ingest", "read", "processor", "notifier"];

impl Action {
    /// What it does, as the plan's "runs" shows it (none for a check
    /// only). `region` fills the commands it runs.
    pub fn runs(&self, region: &str) -> Option<String> {
        let poll = |argv: Vec<String>, every: u64, mins: f64| {
            let line: Vec<String> = argv.iter().map(|a| super::plan::quote(a)).collect();
            format!(
                "$ {}   (again every {every} s until it holds, {mins:.0} min at most)",
                line.join(" ")
            )
        };
        Some(match self {
            Action::ZipsThere { .. } | Action::Outputs | Action::Answered { .. } | Action::NewVersion => {
                return None
            }
            Action::OnlyMigrateChanged { .. } => return None,
            Action::Applied => poll(log_events(region, None, APPLIED_PATTERN), LOG_POLL_SECS, LOG_POLL_MINS),
            Action::RanAgain => poll(
                log_events(region, Some("{redeploy_start_ms}"), STARTED_PATTERN),
                LOG_POLL_SECS,
                LOG_POLL_MINS,
            ),
            Action::WriteStock => "sim: writes stock.json: {\"stock\": [the load's 22 products at their starting stock]}".into(),
            Action::Token => "sim: POST {rehearsal_token_url} grant_type=client_credentials scope={rehearsal_scope}, \
                              as the client ({rehearsal_client_id} and its secret, HTTP Basic) -> {token}"
                .into(),
            Action::Order { token: true, when, .. } if !when.is_empty() => {
                format!("sim: POST {{api_endpoint}}api/orders with {{token}}, one sim-item-01, {when}")
            }
            Action::Order { token: true, .. } => "sim: POST {api_endpoint}api/orders with {token}: one sim-item-01 for \
                                                  {rehearsal_client_id}, an Idempotency-Key of its own"
                .into(),
            Action::Order { token: false, .. } => "sim: the same POST without a token".into(),
            Action::Mark { var, .. } => format!("sim: notes the time as {{{var}}}"),
            Action::Drained { at_most_mins } => format!(
                "{}, and the same of {{processed_queue_url}}, {{order_dlq_url}}, {{processed_dlq_url}}",
                poll(queue_attributes(region, "{order_queue_url}"), QUEUE_POLL_SECS, *at_most_mins)
            ),
            Action::Window => "sim: writes window.json: the sale's start and end (RFC 3339) and its failover second, \
                               for sim collect"
                .into(),
            Action::BillLater => "sim: says how to add the bill once Cost Explorer has the day (it lags about a day): \
                                  aws ce get-cost-and-usage, filtered by the stack's tag, then sim collect --bill"
                .into(),
        })
    }

    /// What it checks, as the plan's "checks" shows it.
    pub fn checks(&self) -> Vec<String> {
        let one = |s: &str| vec![s.to_owned()];
        match self {
            Action::ZipsThere { architecture } => vec![format!(
                "zips/ holds ingest, processor, notifier and migrate's bootstrap.zip and a manifest.json \
                 saying {architecture}, the settings file's architecture"
            )],
            Action::Outputs => vec![format!(
                "outputs.json names {} and function_names ({}); the client's secret is kept in memory only",
                OUTPUTS.join(", "),
                FUNCTIONS.join(", ")
            )],
            Action::Applied => one("the migrate function's log says its migrations were applied (`migration N ... applied`)"),
            Action::Answered { says, .. } => vec![format!(
                "the migrate function answered without a FunctionError, saying `{says}`"
            )],
            Action::Token => one("the token endpoint answers 200 with an access token"),
            Action::Order { token: true, expect, when } if !when.is_empty() => {
                vec![format!("an order {when} gets {expect}")]
            }
            Action::Order { token: true, expect, .. } => vec![format!("that order gets {expect}")],
            Action::Order { token: false, expect, .. } => vec![format!(
                "that one gets {expect}: API Gateway's JWT authorizer refuses it before any function runs"
            )],
            Action::Drained { at_most_mins } => vec![
                format!(
                    "the order and processed queues hold nothing visible, in flight or delayed, in two readings \
                     {QUEUE_POLL_SECS} s apart, within {at_most_mins:.0} minutes: an order leaves the order queue only \
                     once PROCESSED or FAILED is recorded, and its outcome the processed queue only once notified, so \
                     every 202 has ended PROCESSED or FAILED"
                ),
                "both DLQs hold nothing, at every reading".to_owned(),
            ],
            Action::OnlyMigrateChanged { events } => vec![format!(
                "pulumi up's events ({events}) change the migrate function and its migration step \
                 (aws:lambda/invocation) and no other resource of the stack"
            )],
            Action::RanAgain => one("the migrate function was invoked again after the redeploy began"),
            Action::NewVersion => one(
                "publish-version made a new version, {new_version}, not the {live_version} live points at (AWS \
                 publishes one only after the code or the configuration changed; that a description alone counts is \
                 assumed, and checked here)",
            ),
            Action::WriteStock | Action::Mark { .. } | Action::Window | Action::BillLater => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_checks_read_the_migrate_group_since_when_asked() {
        assert_eq!(
            log_events("eu-west-1", Some("{redeploy_start_ms}"), STARTED_PATTERN).join(" "),
            "aws logs filter-log-events --region eu-west-1 --log-group-name /aws/lambda/{migrate_function} \
             --start-time {redeploy_start_ms} --filter-pattern { $.type = \"platform.start\" } --output json"
        );
        let runs = Action::Applied.runs("us-east-1").unwrap();
        assert!(runs.contains("--filter-pattern '\"applied\"'"), "{runs}");
        assert!(runs.contains("again every 10 s"), "{runs}");
        assert_eq!(Action::Outputs.runs("us-east-1"), None, "a check only");
        assert!(
            Action::Mark {
                var: "sale_start",
                millis: false
            }
            .checks()
            .is_empty(),
            "a doing only"
        );
    }
}
