//! Before anything is spent: the tools on PATH, who AWS says you are, the
//! bill and your yes; and the Ctrl-C watch of a running rehearsal.

use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use super::args::Setup;
use super::plan::{self, Step};
use super::run::Ctx;
use super::steps::Paths;

/// Set by a first Ctrl-C: the running step fails and the stack is
/// destroyed; a second one leaves at once.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The tools the rehearsal runs, and where to get each.
fn tools(zips_given: bool) -> Vec<(&'static str, &'static str)> {
    let mut tools = vec![
        (
            "pulumi",
            "https://www.pulumi.com/docs/install/, then pulumi login",
        ),
        (
            "aws",
            "the AWS CLI v2, with credentials for the sandbox account",
        ),
        (
            "node",
            "Node.js 22 or later: export PATH=\"$(./scripts/venv.sh)/bin:$PATH\"",
        ),
        ("npm", "comes with Node.js"),
        (
            "python3",
            "scripts/build-lambdas.sh and the migrate zip's re-zip use it",
        ),
    ];
    if !zips_given {
        tools.push(("cargo", "Rust 1.86 or later (scripts/build-lambdas.sh installs cargo-lambda), or pass --zips DIR"));
    }
    tools
}

/// Whether `name` is an executable file in one of PATH's directories.
pub fn on_path(name: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let file = dir.join(name);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        file.is_file()
    })
}

/// Which of the tools are missing, each with where to get it.
pub fn missing_tools(zips_given: bool) -> Vec<String> {
    tools(zips_given)
        .into_iter()
        .filter(|(name, _)| !on_path(name))
        .map(|(name, get)| format!("{name} ({get})"))
        .collect()
}

/// Runs the rehearsal whose plan was printed: preflight, the prompt, the
/// steps, the destroy. 0 every check held; 1 a step failed; 2 it could not
/// start.
pub async fn run(setup: Setup, paths: Paths, steps: Vec<Step>) -> ExitCode {
    let missing = missing_tools(setup.args.zips.is_some());
    if !missing.is_empty() {
        eprintln!(
            "sim rehearse: not on PATH: {}; nothing was run",
            missing.join("; ")
        );
        return ExitCode::from(2);
    }
    for needed in [Path::new(&paths.pulumi).join("Pulumi.yaml")] {
        if !needed.is_file() {
            eprintln!(
                "sim rehearse: no {}: run it from the repository's root; nothing was run",
                needed.display()
            );
            return ExitCode::from(2);
        }
    }
    let identity = match identity().await {
        Ok(who) => who,
        Err(e) => {
            eprintln!("sim rehearse: aws sts get-caller-identity failed ({e}): set the sandbox account's credentials; nothing else was run");
            return ExitCode::from(2);
        }
    };
    println!("\nAWS says you are {identity}.");
    if !setup.args.yes && !confirmed(&setup, &steps, &identity) {
        eprintln!("sim rehearse: not confirmed (yes was not typed): nothing was run but aws sts get-caller-identity");
        return ExitCode::from(2);
    }
    let mut ctx = match Ctx::new(setup, paths) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("sim rehearse: {e}");
            return ExitCode::from(2);
        }
    };
    watch_interrupts();
    ctx.run_all(&steps).await
}

/// The account and the caller, as `aws sts get-caller-identity` says.
async fn identity() -> Result<String, String> {
    let out = tokio::process::Command::new("aws")
        .args(["sts", "get-caller-identity", "--output", "json"])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let who: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("its answer: {e}"))?;
    let field = |k: &str| {
        who.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_owned()
    };
    Ok(format!("{} in account {}", field("Arn"), field("Account")))
}

/// The prompt: yes typed, or not.
fn confirmed(setup: &Setup, steps: &[Step], identity: &str) -> bool {
    print!(
        "\nType yes to deploy the stack {} as {identity}, in {}, and spend about ${:.2}: ",
        setup.args.stack,
        setup.args.region,
        plan::total_usd(steps)
    );
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(_) => answer.trim() == "yes",
        Err(_) => false,
    }
}

/// A first Ctrl-C fails the running step (its program gets the signal
/// too) and the stack is destroyed; a second leaves at once.
fn watch_interrupts() {
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("\nsim rehearse: interrupted: the step stops, then the stack is destroyed (Ctrl-C again to leave it up)");
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nsim rehearse: left at once: the stack may still be up: pulumi -C pulumi destroy --yes");
            std::process::exit(1);
        }
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
