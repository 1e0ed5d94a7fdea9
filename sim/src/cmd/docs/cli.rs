//! The command line's pages: every command's long help, the environment
//! variables its flags read (and the functions' on Lambda), the exit
//! statuses.

use std::collections::BTreeMap;

use clap::Command;

use super::schema::cell;
use crate::cmd::help::EXIT_CODES;

/// Help is folded at this width, whatever the terminal that runs `sim docs`.
const WIDTH: usize = 100;

/// `sim --help`, then each subcommand's (and theirs), as the terminal
/// shows them.
pub fn commands(cli: Command) -> String {
    let mut cli = for_docs(cli);
    cli.build();
    let mut out = String::from(
        "Each command's `--help`, as this version prints it (`-h` prints the short form). \
         Every flag that reads an environment variable says so (`[env: NAME]`); \
         [Environment variables](env.md) lists them together, and \
         [Exit codes](exit-codes.md) the exit statuses.\n",
    );
    help_of(&mut out, &mut cli, "sim");
    out
}

fn help_of(out: &mut String, cmd: &mut Command, path: &str) {
    let help = cmd.render_long_help().to_string();
    out.push_str(&format!(
        "\n## `{path}`\n\n```text\n{}\n```\n",
        help.trim_end()
    ));
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        if let Some(sub) = cmd.find_subcommand_mut(&name) {
            help_of(out, sub, &format!("{path} {name}"));
        }
    }
}

/// The help as any terminal would show it: fixed width, no colour, and no
/// value of the variables set where `sim docs` runs.
fn for_docs(cmd: Command) -> Command {
    cmd.term_width(WIDTH)
        .max_term_width(WIDTH)
        .color(clap::ColorChoice::Never)
        .mut_args(|a| a.hide_env_values(true))
        .mut_subcommands(for_docs)
}

/// Every variable a flag reads, with the flag and the commands that take
/// it; then the Lambda functions' own.
pub fn environment(cli: Command) -> String {
    let mut vars = BTreeMap::new();
    // `sim` alone takes `sim run`'s flags: its subcommands say it all.
    for sub in cli.get_subcommands() {
        collect(sub, &format!("sim {}", sub.get_name()), &mut vars);
    }
    let mut out = String::from(
        "Each variable stands in for a flag: the flag wins when both are given, and `sim` reads \
         a `.env` file in the working directory for what the environment does not set \
         (`.env.example` lists them). The Lambda functions read theirs from the environment \
         only.\n\n## The sim\n\n",
    );
    out.push_str(&table(&vars));
    let mut lambda = BTreeMap::new();
    collect(
        &orderflow_lambda::environment_command(),
        "function",
        &mut lambda,
    );
    out.push_str(
        "\n## The Lambda functions\n\nSet by the Pulumi program on each function; \
         the engine's variables above apply as well where the table lists them.\n\n",
    );
    lambda.retain(|name, _| !vars.contains_key(name));
    out.push_str(&table(&lambda));
    out.push_str(
        "\n## Others\n\n| Variable | Meaning |\n|---|---|\n\
         | `RUST_LOG` | the log filter (tracing-subscriber's syntax); each command sets its own default |\n\
         | `NO_COLOR` | set (to anything) to turn colour off; colour is only ever used on a terminal |\n\
         | `TEST_MYSQL_URL` | the tests' MySQL server (`mysql://root@127.0.0.1:3306` by default) |\n\
         | `AWS_ENDPOINT_URL` | the SQS (and other AWS) endpoint the SDK calls: a local moto server in the tests |\n",
    );
    out
}

struct Var {
    flag: String,
    commands: Vec<String>,
    help: String,
}

fn collect(cmd: &Command, path: &str, vars: &mut BTreeMap<String, Var>) {
    for arg in cmd.get_arguments() {
        let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
            continue;
        };
        let var = vars.entry(env.to_owned()).or_insert_with(|| Var {
            flag: arg.get_long().map_or(String::new(), |l| format!("--{l}")),
            commands: vec![],
            help: arg
                .get_help()
                .map_or(String::new(), |h| first_sentence(&h.to_string())),
        });
        if !var.commands.iter().any(|c| c == path) {
            var.commands.push(path.to_owned());
        }
    }
    for sub in cmd.get_subcommands() {
        collect(sub, &format!("{path} {}", sub.get_name()), vars);
    }
}

fn table(vars: &BTreeMap<String, Var>) -> String {
    let mut out = String::from("| Variable | Flag | Read by | Meaning |\n|---|---|---|---|\n");
    for (name, var) in vars {
        let commands: Vec<String> = var.commands.iter().map(|c| format!("`{c}`")).collect();
        out.push_str(&format!(
            "| `{name}` | `{}` | {} | {} |\n",
            var.flag,
            commands.join(", "),
            cell(&var.help)
        ));
    }
    out
}

/// Up to the first full stop that ends a sentence (one followed by a
/// capital: "e.g. mysql://" goes on).
fn first_sentence(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = text
        .match_indices(". ")
        .map(|(i, _)| i)
        .find(|&i| text[i + 2..].starts_with(|c: char| c.is_uppercase()));
    match end {
        Some(end) => text[..=end].to_owned(),
        None => text,
    }
}

pub fn exit_codes() -> String {
    let mut out = String::from(
        "Every `sim` subcommand gives each status one meaning: **0** it worked, or the verdict \
         was met; **1** the verdict was not met (a scenario, an invariant or a target failed, a \
         shape does not fit, a metric regressed); **2** no verdict could be made (a usage error, \
         a file refused, a database or server unreachable, a build without the feature a path \
         needs, or a machine too busy to judge a speed-dependent target). A CI job can gate on \
         1 and treat 2 as an error of its own. Each command's `--help` ends with its table.\n\n\
         | Command | Status | Meaning |\n|---|---|---|\n",
    );
    for (command, codes) in EXIT_CODES {
        for (code, means) in *codes {
            out.push_str(&format!("| `sim {command}` | {code} | {} |\n", cell(means)));
        }
    }
    out.push_str(
        "\n`sim` alone is `sim run`. `loadtest` (the Goose load test) exits 0 when its \
         verification passed, 1 when a check failed and 2 when it could not run.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::first_sentence;

    #[test]
    fn a_meaning_is_its_first_sentence() {
        assert_eq!(
            first_sentence("A URL, e.g.\n mysql://h/db. More."),
            "A URL, e.g. mysql://h/db."
        );
        assert_eq!(first_sentence("No stop"), "No stop");
    }
}
