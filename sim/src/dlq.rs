//! `sim dlq list` and `sim dlq redrive`: the dead-letter queues of a running
//! `sim serve`, through its HTTP API.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::client::Client;

#[derive(Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    command: DlqCommand,
    /// Base URL of the running `sim serve`.
    #[arg(long, global = true, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Only this queue's DLQ: `orders` or `processed`.
    #[arg(long, global = true)]
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
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim dlq: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: DlqArgs) -> Result<(), String> {
    let client = Client::new(args.url.trim_end_matches('/').to_owned())?;
    let unreachable = |e: String| {
        format!(
            "cannot reach {}: {e} (is `sim serve` running there?)",
            args.url
        )
    };
    let query = args
        .queue
        .as_deref()
        .map(|q| format!("?queue={q}"))
        .unwrap_or_default();
    match args.command {
        DlqCommand::List => {
            let a = client
                .get(&format!("/api/dlq{query}"))
                .await
                .map_err(unreachable)?;
            let letters = match (a.status, a.body.as_array()) {
                (200, Some(l)) => l.clone(),
                _ => return Err(format!("{} answered {} {}", args.url, a.status, a.body)),
            };
            if letters.is_empty() {
                println!("the dead-letter queues are empty");
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
        DlqCommand::Redrive => {
            let a = client
                .post(&format!("/api/dlq/redrive{query}"))
                .await
                .map_err(unreachable)?;
            match (a.status, a.body.get("redriven").and_then(Value::as_u64)) {
                (200, Some(n)) => println!("redrove {n} dead letters to their source queues"),
                _ => return Err(format!("{} answered {} {}", args.url, a.status, a.body)),
            }
        }
    }
    Ok(())
}
