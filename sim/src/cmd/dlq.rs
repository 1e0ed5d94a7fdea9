//! `sim dlq list` and `sim dlq redrive`: the dead-letter queues of a running
//! `sim serve`, through its HTTP API.

use anyhow::Context;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

use orderflow_client::Client;

#[derive(Args)]
#[command(
    after_help = super::help::short("dlq"),
    after_long_help = super::help::long("dlq", "")
)]
pub struct DlqArgs {
    #[command(subcommand)]
    command: DlqCommand,
    /// Base URL of the running `sim serve`.
    #[arg(long, global = true, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Only this DLQ: the order queue's (`orders`) or the processed
    /// queue's (`processed`).
    #[arg(long = "dlq", id = "dlq", value_name = "DLQ", global = true, value_parser = ["orders", "processed"])]
    queue: Option<String>,
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List dead letters with their receive counts and last errors.
    List,
    /// Send dead letters back to the queue they came from.
    Redrive,
}

pub async fn dlq(args: DlqArgs) -> ExitCode {
    crate::console::exit_status("sim dlq", run(args).await)
}

async fn run(args: DlqArgs) -> anyhow::Result<()> {
    let client = Client::new(args.url.trim_end_matches('/').to_owned())?;
    let unreachable = || format!("cannot reach {} (is `sim serve` running there?)", args.url);
    let queues: Vec<&str> = match args.queue.as_deref() {
        Some(q) => vec![q],
        None => vec!["orders", "processed"],
    };
    for queue in queues {
        let path = match args.command {
            DlqCommand::List => format!("/api/dlq?queue={queue}"),
            DlqCommand::Redrive => format!("/api/dlq/redrive?queue={queue}"),
        };
        let a = match args.command {
            DlqCommand::List => client.get(&path).await,
            DlqCommand::Redrive => client.post(&path).await,
        }
        .with_context(unreachable)?;
        let message = || a.body.get("message").and_then(Value::as_str).unwrap_or("");
        match (a.status, &args.command) {
            // The queue has no DLQ: say so, with what that means.
            (404, _) => println!("{queue}: {}", message()),
            (200, DlqCommand::List) => print_letters(queue, a.body.as_array()),
            (200, DlqCommand::Redrive) => println!(
                "{queue}: redrove {} dead letters to the {queue} queue",
                a.body.get("redriven").and_then(Value::as_u64).unwrap_or(0)
            ),
            _ => anyhow::bail!("{} answered {} {}", args.url, a.status, a.body),
        }
    }
    Ok(())
}

fn print_letters(queue: &str, letters: Option<&Vec<Value>>) {
    let letters = letters.map(Vec::as_slice).unwrap_or_default();
    if letters.is_empty() {
        println!("{queue}: the dead-letter queue is empty");
    }
    for l in letters {
        let s = |k: &str| l.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
        println!(
            "{:<10} {:<20} receives {:<3} last error: {}\n           body: {}",
            s("queue"),
            s("message_id"),
            l.get("receive_count").and_then(Value::as_u64).unwrap_or(0),
            s("last_error"),
            s("body")
        );
    }
}
