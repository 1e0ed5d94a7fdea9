//! `sim docs`: the book's reference pages (`docs/src/reference/`), written
//! from the code they describe: the command line from clap, the
//! environment variables from the same flags, the exit statuses from
//! [`super::help::EXIT_CODES`], the settings and result files from their
//! JSON Schemas, the HTTP API from its OpenAPI document, the model and the
//! prices from the files this build carries. `--check` fails when a page
//! differs, and the test command runs it, so the pages cannot drift.

// Written from the Lambda functions' configuration and the model of AWS,
// which only the `aws` feature builds; the arguments are in every build.
#[cfg(feature = "aws")]
mod api;
#[cfg(feature = "aws")]
mod cli;
#[cfg(feature = "aws")]
mod schema;

#[cfg(feature = "aws")]
use std::path::Path;
use std::path::PathBuf;
#[cfg(feature = "aws")]
use std::process::ExitCode;

use clap::Args;

#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[derive(Args)]
#[command(
    after_help = super::help::short("docs"),
    after_long_help = super::help::long("docs", "")
)]
pub struct DocsArgs {
    /// The folder of the reference pages.
    #[arg(long, value_name = "DIR", default_value = "docs/src/reference")]
    pub dir: PathBuf,
    /// Write nothing: exit 1, naming each page, if one differs from what
    /// this build would write.
    #[arg(long)]
    pub check: bool,
}

/// A generated page: its file name and its text.
#[cfg(feature = "aws")]
struct Page {
    file: &'static str,
    text: String,
}

/// `cli` is the whole command line (`sim`'s clap command), which only
/// `main` can build.
#[cfg(feature = "aws")]
pub fn docs(args: DocsArgs, cli: clap::Command) -> ExitCode {
    let pages = match pages(cli) {
        Ok(pages) => pages,
        Err(e) => {
            eprintln!("sim docs: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut stale = Vec::new();
    for page in &pages {
        let path = args.dir.join(page.file);
        let result = if args.check {
            differs(&path, &page.text).map(|d| {
                if d {
                    stale.push(path.display().to_string());
                }
            })
        } else {
            std::fs::write(&path, &page.text)
        };
        if let Err(e) = result {
            eprintln!("sim docs: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if stale.is_empty() {
        if !args.check {
            println!("wrote {} pages to {}", pages.len(), args.dir.display());
        }
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "sim docs: out of date with the code: {}\nwrite them again with: cargo run -p sim --features aws -- docs",
        stale.join(", ")
    );
    ExitCode::FAILURE
}

#[cfg(feature = "aws")]
fn differs(path: &Path, text: &str) -> std::io::Result<bool> {
    match std::fs::read_to_string(path) {
        Ok(old) => Ok(old != text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e),
    }
}

#[cfg(feature = "aws")]
const GENERATED: &str =
    "<!-- Written by `sim docs` from the code; edit the code, then run `cargo run -p sim --features aws -- docs`. -->";

#[cfg(feature = "aws")]
fn pages(cli: clap::Command) -> anyhow::Result<Vec<Page>> {
    let page = |file, title: &str, body: String| Page {
        file,
        text: format!("# {title}\n\n{GENERATED}\n\n{}\n", body.trim_end()),
    };
    Ok(vec![
        page("cli.md", "Command line", cli::commands(cli.clone())),
        page("exit-codes.md", "Exit codes", cli::exit_codes()),
        page("env.md", "Environment variables", cli::environment(cli)),
        page("api.md", "HTTP API", api::markdown()?),
        page("settings.md", "Deployment settings", settings()?),
        page("model.md", "Model constants", model()?),
        page("prices.md", "Prices", prices()?),
        page("results-schema.md", "Result file schema", results()?),
    ])
}

#[cfg(feature = "aws")]
fn settings() -> anyhow::Result<String> {
    let text = crate::aws::settings::DeploymentSettings::json_schema();
    let root: serde_json::Value = serde_json::from_str(&text)?;
    Ok(format!(
        "`deploy/settings.json` describes the deployed shape: what `sim --topology lambda` \
         simulates, `sim plan` writes and the Pulumi program deploys. Its JSON Schema is \
         `deploy/settings.schema.json` (`sim deployment --schema`); Pulumi checks a settings \
         file against it before deploying.\n\n{}",
        schema::markdown(&root, root.get("$defs").and_then(|d| d.as_object()), 2)
    ))
}

#[cfg(feature = "aws")]
fn results() -> anyhow::Result<String> {
    let text = crate::report::result::schema()?;
    let root: serde_json::Value = serde_json::from_str(&text)?;
    Ok(format!(
        "What `--json` writes (`sim run`, `sim load`, `sim bench`, `sim plan`, `sim check`) and \
         `sim compare` reads: the schema `orderflow.result/1`, as `results.schema.json` at the \
         repository's root holds it (`sim compare --schema`).\n\n{}",
        schema::markdown(&root, root.get("$defs").and_then(|d| d.as_object()), 2)
    ))
}

#[cfg(feature = "aws")]
fn model() -> anyhow::Result<String> {
    let table = crate::aws::model::markdown(crate::aws::model::SHIPPED)?;
    Ok(format!(
        "The model of AWS that `--topology lambda` runs under, as `deploy/model.json` holds it \
         (`sim model --markdown`): each constant with its optimistic, central and pessimistic \
         value and its source. [The model of AWS](../model.md) explains how the sim uses \
         them.\n\n{table}"
    ))
}

/// `deploy/prices.json`, region by region: each price, its source and the
/// day it was read.
#[cfg(feature = "aws")]
fn prices() -> anyhow::Result<String> {
    let file: serde_json::Value = serde_json::from_str(crate::aws::bill::SHIPPED)?;
    let mut out = String::new();
    if let Some(about) = file.get("about").and_then(|a| a.as_str()) {
        out.push_str(&format!("{}\n", schema::cell(about)));
    }
    let regions = file.get("regions").and_then(|r| r.as_object());
    for (region, items) in schema::by_key(regions) {
        let read = items.get("read").and_then(|r| r.as_str()).unwrap_or("?");
        let currency = items
            .get("currency")
            .and_then(|c| c.as_str())
            .unwrap_or("?");
        out.push_str(&format!(
            "\n## {region}\n\nRead on {read}; in {currency}.\n\n| Item | Price | Source |\n|---|---|---|\n"
        ));
        for (item, price) in schema::by_key(items.as_object()) {
            let Some(price) = price.as_object() else {
                continue;
            };
            let figures: Vec<String> = schema::by_key(Some(price))
                .into_iter()
                .filter(|(k, _)| *k != "source")
                .map(|(k, v)| match k.as_str() {
                    "usd" => format!("{v}"),
                    _ => format!("{k}: {v}"),
                })
                .collect();
            let source = price.get("source").and_then(|s| s.as_str()).unwrap_or("");
            out.push_str(&format!(
                "| `{item}` | {} | {} |\n",
                figures.join("; "),
                schema::cell(source)
            ));
        }
    }
    Ok(out)
}
