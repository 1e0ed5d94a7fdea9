//! The rehearsal as data: its steps ([`Step`]), each with what it runs
//! (programs, and what the sim does itself), what it checks, how long it
//! is expected to take and what it costs; printed the same by `--dry-run`
//! and before a real run, and executed by `run` from the same values.

use std::fmt::Write as _;

use super::actions::Action;
use super::costs::{self, Cost};

/// One step of the rehearsal.
pub struct Step {
    pub name: &'static str,
    /// What the step is for, one sentence.
    pub does: &'static str,
    pub runs: Vec<Run>,
    /// What the runner checks besides its runs (the preflight's tools and
    /// prompt, the destroy's running after a failure).
    pub also_checks: Vec<String>,
    /// Minutes it is expected to take, and why that many.
    pub minutes: f64,
    pub minutes_why: String,
    pub costs: Vec<Cost>,
}

/// What a step runs: a program, or something the sim does itself.
pub enum Run {
    Cmd(Cmd),
    Sim(Action),
}

/// A program and its arguments. `{name}` in an argument or an environment
/// value is filled in as the rehearsal goes (the stack's outputs, the
/// sale's window, versions read back); the token is passed in the
/// environment only, never on a command line.
pub struct Cmd {
    pub env: Vec<(String, String)>,
    pub argv: Vec<String>,
    /// Where its standard output goes.
    pub stdout: Stdout,
    /// Started this many seconds after the command before it, beside it
    /// (the failover, in the sale).
    pub at: Option<f64>,
    /// Whether a non-zero exit fails the step (`sim compare`'s verdict is
    /// reported, not fatal).
    pub fatal: bool,
}

/// Where a command's standard output goes (its standard error goes to the
/// log).
#[derive(Clone, Copy)]
pub enum Stdout {
    /// The rehearsal's log.
    Log,
    /// A file of the out directory.
    File(&'static str),
    /// Read into a value later commands name: `{name}` from the JSON field
    /// at this path.
    Var(&'static str, &'static [&'static str]),
}

impl Cmd {
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Cmd {
        Cmd {
            env: Vec::new(),
            argv: argv.into_iter().map(Into::into).collect(),
            stdout: Stdout::Log,
            at: None,
            fatal: true,
        }
    }

    pub fn env(mut self, name: &str, value: impl Into<String>) -> Cmd {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    pub fn to(mut self, stdout: Stdout) -> Cmd {
        self.stdout = stdout;
        self
    }

    pub fn at(mut self, secs: f64) -> Cmd {
        self.at = Some(secs);
        self
    }

    pub fn not_fatal(mut self) -> Cmd {
        self.fatal = false;
        self
    }

    /// The command as a shell would take it, `{names}` left in.
    pub fn line(&self) -> String {
        let env = self.env.iter().map(|(k, v)| format!("{k}={}", quote(v)));
        let mut line: Vec<String> = env.chain(self.argv.iter().map(|a| quote(a))).collect();
        if let Stdout::File(file) = self.stdout {
            line.push(format!("> {file}"));
        }
        line.join(" ")
    }
}

impl From<Cmd> for Run {
    fn from(cmd: Cmd) -> Run {
        Run::Cmd(cmd)
    }
}

impl From<Action> for Run {
    fn from(action: Action) -> Run {
        Run::Sim(action)
    }
}

/// An argument quoted for a shell when it needs it.
pub fn quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,@{}%+".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

impl Step {
    /// What it checks: every command's exit status, and each check the
    /// sim makes.
    pub fn checks(&self) -> Vec<String> {
        let mut checks = Vec::new();
        if self
            .runs
            .iter()
            .any(|r| matches!(r, Run::Cmd(c) if c.fatal))
        {
            checks.push("every command above exits 0 (unless marked: reported only)".to_owned());
        }
        checks.extend(self.runs.iter().flat_map(|r| match r {
            Run::Sim(a) => a.checks(),
            Run::Cmd(_) => Vec::new(),
        }));
        if self
            .runs
            .iter()
            .any(|r| matches!(r, Run::Cmd(c) if !c.fatal))
        {
            checks.push(
                "the exit status of a command marked reported only is printed, not held to"
                    .to_owned(),
            );
        }
        checks.extend(self.also_checks.iter().cloned());
        checks
    }

    /// Its cost in dollars, rounded to a hundredth of a cent as printed:
    /// the total is the sum of these.
    pub fn usd(&self) -> f64 {
        round4(costs::sum(&self.costs))
    }
}

fn round4(usd: f64) -> f64 {
    // `+ 0.0`: an empty sum is -0.0, printed as such.
    (usd * 1e4).round() / 1e4 + 0.0
}

/// The plan's total: the sum of its steps' printed costs.
pub fn total_usd(steps: &[Step]) -> f64 {
    round4(steps.iter().map(Step::usd).sum())
}

/// The plan as `--dry-run` prints it, and a real run before its prompt
/// (`region` fills the commands the sim's own checks run).
pub fn print(steps: &[Step], region: &str) -> String {
    let mut text = String::new();
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(text, "\nstep {i} {}: {}", step.name, step.does);
        text.push_str("  runs:\n");
        for run in &step.runs {
            let line = match run {
                Run::Cmd(c) => match c.at {
                    Some(at) => format!(
                        "$ {}   (started {at:.1} s after the one before, beside it)",
                        c.line()
                    ),
                    None if !c.fatal => format!("$ {}   (its exit status reported only)", c.line()),
                    None => format!("$ {}", c.line()),
                },
                Run::Sim(a) => match a.runs(region) {
                    Some(line) => line,
                    None => continue,
                },
            };
            let _ = writeln!(text, "    {line}");
        }
        text.push_str("  checks:\n");
        for check in step.checks() {
            let _ = writeln!(text, "    - {check}");
        }
        let _ = writeln!(
            text,
            "  takes: {:.0} min ({})",
            step.minutes, step.minutes_why
        );
        text.push_str("  costs:\n");
        for c in step.costs.iter().filter(|c| c.quantity > 0.0) {
            let _ = writeln!(
                text,
                "    {:<56} {:>12} {:<14} x ${:<12} = ${:.4}",
                c.item,
                format_quantity(c.quantity),
                c.unit,
                format_price(c.each_usd),
                c.usd()
            );
        }
        let _ = writeln!(text, "  step cost: ${:.4}", step.usd());
    }
    text
}

fn format_quantity(q: f64) -> String {
    if q >= 100.0 {
        format!("{q:.0}")
    } else {
        format!("{q:.4}")
    }
}

fn format_price(p: f64) -> String {
    let text = format!("{p:.10}");
    let text = text.trim_end_matches('0');
    text.strip_suffix('.').unwrap_or(text).to_owned()
}

/// The bill line printed after the steps and before the prompt.
pub fn bill_line(steps: &[Step], prices_read: &str) -> String {
    let minutes: f64 = steps.iter().map(|s| s.minutes).sum();
    format!(
        "expected bill: ${:.4} (the sum of the {} steps' costs above; about {minutes:.0} minutes; \
         prices of deploy/prices.json read {prices_read}, others as each line's source in \
         sim/src/cmd/rehearse/costs.rs says; what AWS's part uses is an upper bound, each \
         step's length assumed)",
        total_usd(steps),
        steps.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_shown_as_a_shell_takes_it() {
        let cmd = Cmd::new([
            "aws",
            "lambda",
            "invoke",
            "--payload",
            r#"{"rotate_app_password": true}"#,
        ])
        .env("ORDERFLOW_TOKEN", "{token}")
        .to(Stdout::File("answer.json"));
        assert_eq!(
            cmd.line(),
            r#"ORDERFLOW_TOKEN={token} aws lambda invoke --payload '{"rotate_app_password": true}' > answer.json"#
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn the_total_is_the_sum_of_the_printed_step_costs() {
        let step = |usd: f64| Step {
            name: "s",
            does: "",
            runs: Vec::new(),
            also_checks: Vec::new(),
            minutes: 1.0,
            minutes_why: String::new(),
            costs: vec![Cost {
                item: "x".into(),
                quantity: 1.0,
                unit: "u",
                each_usd: usd,
            }],
        };
        // Each rounds half up to 0.0001 as printed; the total sums those.
        let steps = [step(0.000_04), step(0.000_06), step(0.123_456)];
        assert_eq!(
            steps.iter().map(Step::usd).collect::<Vec<_>>(),
            [0.0, 0.0001, 0.1235]
        );
        assert_eq!(total_usd(&steps), 0.1236);
        assert!(print(&steps, "us-east-1").contains("  step cost: $0.1235\n"));
    }
}
