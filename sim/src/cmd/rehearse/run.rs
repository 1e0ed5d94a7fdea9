//! Running the plan once it is confirmed ([`super::preflight`]): each
//! step's programs and the sim's own doings and checks in order ([`Ctx`]),
//! stopping at the first that fails, and the destroy step after a failure
//! too (unless `--keep`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use super::args::Setup;
use super::plan::{Cmd, Run, Stdout, Step};
use super::preflight::interrupted;
use super::steps::Paths;

/// What a running rehearsal knows: the values found so far, the token
/// client's secret and the token (never printed or put on a command line),
/// the log.
pub struct Ctx {
    pub setup: Setup,
    pub paths: Paths,
    pub vars: BTreeMap<String, String>,
    pub client_secret: Option<String>,
    pub token: Option<String>,
    log: std::fs::File,
    /// Probe orders sent so far (each gets a key of its own).
    pub probes: u32,
}

/// The names whose values are secrets: filled into a command's
/// environment, never its arguments, and never shown.
const SECRET: &str = "token";

impl Ctx {
    pub fn new(setup: Setup, paths: Paths) -> Result<Ctx, String> {
        std::fs::create_dir_all(&paths.out)
            .map_err(|e| format!("cannot make {}: {e}", paths.out.display()))?;
        let log_path = paths.out.join("rehearse.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        println!(
            "(every command's output goes to {}: tail -f it to watch)",
            log_path.display()
        );
        Ok(Ctx {
            setup,
            paths,
            vars: BTreeMap::new(),
            client_secret: None,
            token: None,
            log,
            probes: 0,
        })
    }

    /// Each step in order until one fails; then the destroy step, unless
    /// --keep, or unless nothing was deployed yet.
    pub async fn run_all(&mut self, steps: &[Step]) -> ExitCode {
        let destroy = steps.len() - 1;
        let deploy = steps
            .iter()
            .position(|s| s.name == "deploy")
            .unwrap_or(destroy);
        let mut failed = None;
        for (i, step) in steps.iter().enumerate().take(destroy).skip(1) {
            if let Err(why) = self.step(i, step, true).await {
                self.say(&format!("step {i} {}: FAILED: {why}", step.name));
                failed = Some(i);
                break;
            }
        }
        let deployed = failed.is_none_or(|i| i >= deploy);
        let destroyed = match (deployed, self.setup.args.keep) {
            (false, _) => {
                self.say("nothing was deployed: nothing to destroy");
                true
            }
            (true, true) => {
                self.say(&format!(
                    "the stack is left up (--keep): pulumi -C {} destroy --yes --stack {} destroys it",
                    self.paths.pulumi, self.setup.args.stack
                ));
                true
            }
            // Not stopped by a Ctrl-C: that is what asked for it.
            (true, false) => match self.step(destroy, &steps[destroy], false).await {
                Ok(()) => true,
                Err(why) => {
                    self.say(&format!(
                        "step {destroy} destroy: FAILED: {why}: the stack may still be up and billing: \
                         pulumi -C {} destroy --yes --stack {}",
                        self.paths.pulumi, self.setup.args.stack
                    ));
                    false
                }
            },
        };
        let files = self.paths.out.display().to_string();
        match (failed, destroyed) {
            (None, true) => {
                self.say(&format!(
                    "\nrehearsal done: every check held; its files are in {files}"
                ));
                ExitCode::SUCCESS
            }
            (Some(i), _) => {
                self.say(&format!(
                    "\nrehearsal FAILED at step {i} {}; its files are in {files}",
                    steps[i].name
                ));
                ExitCode::FAILURE
            }
            (None, false) => ExitCode::FAILURE,
        }
    }

    /// One step: its runs in order, the first failure ending it (and a
    /// Ctrl-C, if `interruptible`).
    async fn step(&mut self, i: usize, step: &Step, interruptible: bool) -> Result<(), String> {
        self.say(&format!("\nstep {i} {}: {}", step.name, step.does));
        let mut runs = step.runs.iter().peekable();
        while let Some(run) = runs.next() {
            if interruptible && interrupted() {
                return Err("interrupted".into());
            }
            match run {
                Run::Sim(action) => super::act::act(self, action).await?,
                Run::Cmd(cmd) => {
                    // A command started beside this one (the failover).
                    let beside = runs.next_if(|r| matches!(r, Run::Cmd(c) if c.at.is_some()));
                    match beside {
                        Some(Run::Cmd(other)) => self.two(cmd, other).await?,
                        _ => self.cmd(cmd).await?,
                    }
                }
            }
        }
        self.say(&format!("step {i} {}: passed", step.name));
        Ok(())
    }

    /// `first`, and `second` started its `at` seconds later beside it.
    async fn two(&mut self, first: &Cmd, second: &Cmd) -> Result<(), String> {
        let at = Duration::from_secs_f64(second.at.unwrap_or(0.0));
        let a = self.spawn(first)?;
        tokio::time::sleep(at).await;
        let b = self.spawn(second)?;
        let (a, b) = (a.wait_with_output().await, b.wait_with_output().await);
        self.finish(first, a)?;
        self.finish(second, b)
    }

    /// One command run to its end, its exit status checked (if fatal).
    pub async fn cmd(&mut self, cmd: &Cmd) -> Result<(), String> {
        let child = match self.spawn(cmd) {
            Ok(child) => child,
            // A command reported only, naming what was never found.
            Err(why) if !cmd.fatal => {
                self.say(&format!("  skipped {}: {why}", cmd.line()));
                return Ok(());
            }
            Err(why) => return Err(why),
        };
        let out = child.wait_with_output().await;
        self.finish(cmd, out)
    }

    fn spawn(&mut self, cmd: &Cmd) -> Result<tokio::process::Child, String> {
        let argv: Vec<String> = cmd
            .argv
            .iter()
            .map(|a| self.fill(a, false))
            .collect::<Result<_, _>>()?;
        let shown = Cmd {
            argv: argv.clone(),
            env: cmd.env.clone(),
            ..Cmd::new(Vec::<String>::new())
        };
        self.say(&format!(
            "$ {}",
            Cmd {
                stdout: cmd.stdout,
                ..shown
            }
            .line()
        ));
        let program = match argv[0].as_str() {
            "sim" => std::env::current_exe()
                .map_err(|e| format!("cannot find this sim's binary: {e}"))?,
            other => PathBuf::from(other),
        };
        let mut command = tokio::process::Command::new(program);
        command
            .args(&argv[1..])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in &cmd.env {
            command.env(k, self.fill(v, true)?);
        }
        let log = |ctx: &Self| {
            ctx.log
                .try_clone()
                .map(Stdio::from)
                .map_err(|e| e.to_string())
        };
        command.stderr(log(self)?);
        match cmd.stdout {
            Stdout::Log => command.stdout(log(self)?),
            Stdout::File(name) => {
                let mut open = std::fs::OpenOptions::new();
                open.write(true).create(true).truncate(true);
                // outputs.json holds the token client's secret.
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
                let file = open
                    .open(self.paths.out.join(name))
                    .map_err(|e| format!("cannot write {name}: {e}"))?;
                command.stdout(file)
            }
            Stdout::Var(..) => command.stdout(Stdio::piped()),
        };
        command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", argv[0]))
    }

    fn finish(
        &mut self,
        cmd: &Cmd,
        out: std::io::Result<std::process::Output>,
    ) -> Result<(), String> {
        let out = out.map_err(|e| format!("{}: {e}", cmd.argv[0]))?;
        if !out.status.success() {
            let argv: Vec<String> = cmd
                .argv
                .iter()
                .map(|a| self.fill(a, false).unwrap_or_else(|_| a.clone()))
                .collect();
            let status = out
                .status
                .code()
                .map_or_else(|| out.status.to_string(), |c| format!("with {c}"));
            let what = format!(
                "`{}` exited {status} (its output: rehearse.log)",
                argv.join(" ")
            );
            if cmd.fatal {
                return Err(what);
            }
            self.say(&format!("  reported: {what}"));
            return Ok(());
        }
        if let Stdout::Var(name, path) = cmd.stdout {
            let value: serde_json::Value = serde_json::from_slice(&out.stdout)
                .map_err(|e| format!("{}: not JSON: {e}", cmd.argv[0]))?;
            let found = path
                .iter()
                .try_fold(&value, |v, k| v.get(k))
                .ok_or_else(|| format!("{} answered no {}", cmd.argv[0], path.join(".")))?;
            let text = found
                .as_str()
                .map_or_else(|| found.to_string(), str::to_owned);
            self.say(&format!("  {{{name}}} = {text}"));
            self.vars.insert(name.to_owned(), text);
        }
        Ok(())
    }

    /// `text` with each `{name}` of a value found so far filled in; a
    /// secret only where `secret` (a command's environment). Braces around
    /// anything but a name (JSON, a filter pattern) are left alone.
    pub fn fill(&self, text: &str, secret: bool) -> Result<String, String> {
        fill(text, |name| match name {
            SECRET if secret => self.token.clone().ok_or_else(|| "no token yet".to_owned()),
            SECRET => Err("the token goes in the environment, never on a command line".to_owned()),
            _ => self
                .vars
                .get(name)
                .cloned()
                .ok_or_else(|| format!("no {{{name}}} yet")),
        })
    }

    /// A line on the terminal and in the log.
    pub fn say(&mut self, line: &str) {
        println!("{line}");
        let _ = writeln!(self.log, "{line}");
    }

    /// Runs a program for what it prints (its errors to the log).
    pub async fn capture(&mut self, argv: &[String]) -> Result<String, String> {
        let argv: Vec<String> = argv
            .iter()
            .map(|a| self.fill(a, false))
            .collect::<Result<_, _>>()?;
        let _ = writeln!(self.log, "$ {}", argv.join(" "));
        let stderr = self.log.try_clone().map_err(|e| e.to_string())?;
        let out = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stderr(stderr)
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
        if !out.status.success() {
            return Err(format!(
                "{} exited {} (its errors: rehearse.log)",
                argv[..3.min(argv.len())].join(" "),
                out.status
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// `text` with each `{name}` (lowercase letters, digits, `_`) replaced by
/// `value(name)`; other braces kept.
pub fn fill(text: &str, value: impl Fn(&str) -> Result<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len =
            after.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        match name_len {
            Some(n) if n > 0 && after[n..].starts_with('}') => {
                out.push_str(&value(&after[..n])?);
                rest = &after[n + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_filled_and_other_braces_kept() {
        let value = |name: &str| match name {
            "api_endpoint" => Ok("https://x/".to_owned()),
            other => Err(format!("no {{{other}}} yet")),
        };
        assert_eq!(
            fill("{api_endpoint}api/orders", value).unwrap(),
            "https://x/api/orders"
        );
        assert_eq!(
            fill(
                r#"{"rotate_app_password": true} { $.type = "platform.start" }"#,
                value
            )
            .unwrap(),
            r#"{"rotate_app_password": true} { $.type = "platform.start" }"#
        );
        assert_eq!(fill("{sale_end}", value).unwrap_err(), "no {sale_end} yet");
        assert_eq!(fill("a{", value).unwrap(), "a{");
    }
}
