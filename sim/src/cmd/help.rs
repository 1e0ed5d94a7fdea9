//! What `--help` says after the options: each subcommand's examples, and
//! what its exit status means. The exit statuses live in one table, so the
//! long help and the book's reference page (`sim docs`) cannot disagree.

/// The one meaning of each status across subcommands: 0 it worked (or the
/// verdict was met), 1 the verdict was not met, 2 no verdict could be made.
pub const EXIT_CODES: &[(&str, &[(u8, &str)])] = &[
    (
        "run",
        &[
            (0, "every scenario passed, every invariant held, the client kept its schedule, the queues drained and every target was met"),
            (1, "something of that failed: the report (and --json) says which, and by how much"),
            (2, "the run could not be made (bad arguments, no database, a settings, profile or model file refused, a feature this build lacks), or gave NO VERDICT: nothing failed outright, but a target on a figure that depends on this machine's speed was missed while the machine could not keep the model's time (NOT EMULATED, its timers woke late, or its CPU was busy), so the miss may be the machine's"),
        ],
    ),
    (
        "serve",
        &[
            (0, "stopped by Ctrl-C or SIGTERM after every accepted order was processed and notified"),
            (1, "stopped at once by a second Ctrl-C: what was left is printed (in the in-process queues it is lost; in SQS it stays)"),
            (2, "could not start (bad arguments, the address taken, the database or the queues unreachable)"),
        ],
    ),
    (
        "check",
        &[
            (0, "the inventory and the recent orders were printed (or written as JSON)"),
            (2, "no database configured, or it could not be read"),
        ],
    ),
    (
        "migrate",
        &[
            (0, "the database is at orderflow's schema (migrated now, or already)"),
            (2, "no database configured, or a migration failed (nothing after the failing one was applied)"),
        ],
    ),
    (
        "dlq",
        &[
            (0, "the dead letters were listed or redriven"),
            (2, "the server could not be reached or refused the request"),
        ],
    ),
    (
        "deployment",
        &[
            (0, "the settings are valid and `pulumi up` takes them (the connections fit the instance, the mappings are capped, the visibility timeout covers the consumers)"),
            (1, "the settings are valid but `pulumi up` refuses them (the line says why)"),
            (2, "the settings file could not be read or was refused"),
        ],
    ),
    (
        "model",
        &[
            (0, "the model was printed"),
            (2, "the model file could not be read or was refused"),
        ],
    ),
    (
        "plan",
        &[
            (0, "a shape met every target in its confirming runs and its settings file was written"),
            (1, "no candidate did (each confirming run's log says why)"),
            (2, "the plan could not be made (no MySQL, bad arguments, a settings, profile, model or price file refused, a feature this build lacks)"),
        ],
    ),
    (
        "bench",
        &[
            (0, "every figure was measured and every --target met"),
            (1, "a target was missed (each is listed with the figure and by how much)"),
            (2, "the benchmark could not run (no MySQL, bad arguments, a feature this build lacks)"),
        ],
    ),
    (
        "load",
        &[
            (0, "the client kept its schedule and every target was met"),
            (1, "a target was missed, or the client could not keep its schedule"),
            (2, "the load could not be sent (bad arguments, a profile refused)"),
        ],
    ),
    (
        "compare",
        &[
            (0, "no metric regressed beyond the tolerance"),
            (1, "a metric regressed, or a target the base met is now missed (each is listed); with --observed, a verdict figure (throughput, p99, refused, DLQ) of what AWS did is outside the model's range"),
            (2, "a file could not be read or is not an orderflow result (or observed file), or a sim run of the observed sale could not be made"),
        ],
    ),
    (
        "collect",
        &[
            (0, "the observed file was written (what could not be read is listed in its notes)"),
            (2, "the stack's outputs, the load's result, the settings or the bill could not be read, or AWS answered none of the calls"),
        ],
    ),
    (
        "rehearse",
        &[
            (0, "every step ran and its checks held, and the stack was destroyed (unless --keep); or, with --dry-run, the plan was printed and nothing run"),
            (1, "a step's check failed: the steps after it did not run, but the stack is destroyed unless --keep was given (or the destroy itself failed: the command to finish it is printed)"),
            (2, "the rehearsal could not start, and nothing was deployed: bad arguments or settings, a tool it runs is not on PATH, AWS did not say who you are, or yes was not typed"),
        ],
    ),
    (
        "calibrate",
        &[
            (0, "the model file was written with every constant the run could inform fitted"),
            (2, "the observed file or the model file could not be read, or the run informs no constant"),
        ],
    ),
    (
        "docs",
        &[
            (0, "the reference pages were written, or (--check) are up to date"),
            (1, "(--check) a page differs from what this build writes"),
            (2, "a page could not be read or written"),
        ],
    ),
];

/// A few command lines for each subcommand, as its help ends with them
/// (a test parses every one). The AWS paths need the sim built with
/// `--features aws`.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "run",
        "  sim                                  # the flash sale in memory: 5,000 order requests over 10 s
  sim --seed 42 --faults all           # every fault injected; the same seed replays the run
  DATABASE_URL=mysql://root@127.0.0.1:3306/orderflow sim --db-outage 5   # MySQL, stopped 5 s
  sim --topology lambda --requests 20000 --duration 20   # the deployed shape (aws feature, MySQL)
  sim --topology lambda --target 'p99_accept_to_processed<1s' --json result.json
  sim --quiet --no-html                # only the verdict line; the exit status says the rest",
    ),
    (
        "serve",
        "  sim serve --load-products            # http://127.0.0.1:3000, the load's products stocked
  sim serve --addr 127.0.0.1:8080 --faults duplicate-delivery=0.1
  DATABASE_URL=mysql://root@127.0.0.1:3306/orderflow sim serve --queue sqs   # aws feature",
    ),
    (
        "check",
        "  sim check --limit 50                 # the inventory and the 50 latest orders
  sim check --json -                   # the same as JSON, on standard output",
    ),
    (
        "migrate",
        "  DATABASE_URL=mysql://root@127.0.0.1:3306/orders sim migrate   # back the database up first",
    ),
    (
        "dlq",
        "  sim dlq list                         # both DLQs of the sim serve on 127.0.0.1:3000
  sim dlq redrive --dlq orders         # the order DLQ's letters back to the order queue
  sim dlq list --url http://127.0.0.1:8080",
    ),
    (
        "deployment",
        "  sim deployment                       # deploy/settings.json: the shape, its connection budget
  sim deployment --settings deploy/planned/flash-sale-pessimistic.json
  sim deployment --schema              # the settings' JSON Schema",
    ),
    (
        "model",
        "  sim model                            # every constant, its range and its source
  sim model --markdown                 # the same as a Markdown table
  sim model --host                     # this machine's speed against the reference host",
    ),
    (
        "plan",
        "  sim plan                             # the shipped flash sale (aws feature, MySQL)
  sim plan --peak 3000 --duration 30   # a sale of 3,000 requests a second at its peak
  sim plan --model central --target 'p99_accept_to_processed<1s'",
    ),
    (
        "bench",
        "  sim bench                            # processor, ingest and end to end (MySQL)
  sim bench --only processor --seconds 10
  sim bench --json bench.json --target 'processor_orders_per_s>=30000'",
    ),
    (
        "load",
        "  sim load --url http://127.0.0.1:3000  # against a sim serve --load-products
  sim load --url https://abc123.execute-api.us-east-1.amazonaws.com --token \"$TOKEN\" --requests 2000
  sim load --url \"$API\" --token \"$TOKEN\" --customer \"$SUB\"   # every order the token's subject's",
    ),
    (
        "compare",
        "  sim compare main.json branch.json    # exit 1 if the branch regressed
  sim compare --tolerance 5% main.json branch.json
  sim compare --observed observed.json # the sale in the sim at all three model ends beside AWS's",
    ),
    (
        "collect",
        "  sim collect --outputs outputs.json --load load.json --settings deploy/settings.json --start 2026-12-06T10:00:00Z --end 2026-12-06T10:20:00Z
  sim collect --outputs outputs.json --load load.json --settings deploy/settings.json --start 2026-12-06T10:00:00Z --end 2026-12-06T10:20:00Z --failover-at 300 --failover-secs 45 --bill bill.json --out observed.json",
    ),
    (
        "rehearse",
        "  sim rehearse --dry-run                # the plan, its steps, their checks and the expected bill
  sim rehearse --stack rehearsal --region us-east-1   # asks before it spends anything
  sim rehearse --zips \"$CARGO_TARGET_DIR/lambda\" --requests 5000 --failover-at 2 --keep",
    ),
    (
        "calibrate",
        "  sim calibrate observed.json --out deploy/model-observed.json
  sim --topology lambda --model-file deploy/model-observed.json --model central",
    ),
    (
        "docs",
        "  sim docs                             # write docs/src/reference/*.md
  sim docs --check                     # exit 1 if a page differs from this build's",
    ),
];

/// The exit statuses of `command`, as the long help ends with them.
pub fn exit_codes(command: &str) -> String {
    let mut text = String::from("Exit status:\n");
    for (code, means) in lookup(EXIT_CODES, command).iter() {
        text.push_str(&format!("  {code}  {}\n", wrap(means, 86, "     ")));
    }
    text.push_str("  (a usage error, which clap reports, is 2 as well)");
    text
}

fn lookup<T: Copy + Default>(table: &[(&str, T)], command: &str) -> T {
    table
        .iter()
        .find(|(name, _)| *name == command)
        .map_or_else(T::default, |(_, v)| *v)
}

/// `sim <command> -h`: the examples after the options.
pub fn short(command: &str) -> String {
    format!("Examples:\n{}", lookup(EXAMPLES, command))
}

/// `sim <command> --help`: `notes`, the examples and the exit statuses.
pub fn long(command: &str, notes: &str) -> String {
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("{notes}\n\n")
    };
    format!("{notes}{}\n\n{}", short(command), exit_codes(command))
}

/// `text` folded at `width` characters, later lines indented by `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split(' ') {
        if line > 0 && line + 1 + word.len() > width {
            out.push('\n');
            out.push_str(indent);
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_says_what_its_exit_statuses_mean() {
        for (command, codes) in EXIT_CODES {
            assert!(!lookup(EXAMPLES, command).is_empty(), "{command}");
            assert!(codes.iter().any(|(c, _)| *c == 0), "{command}");
            assert!(codes.iter().any(|(c, _)| *c == 2), "{command}");
            assert!(exit_codes(command).contains("  2  "), "{command}");
        }
        assert!(exit_codes("run").lines().all(|l| l.len() <= 100));
    }
}
