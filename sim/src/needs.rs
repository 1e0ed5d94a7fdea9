//! What a command line needs of the build. The AWS SDK, the Lambda runtime
//! and TLS to the database (aws-lc, a long C build) are features of the
//! sim, so the common run, in memory or on a MySQL server without TLS,
//! builds without them. The command line is the same either way; one that
//! needs what this build left out is refused before anything starts, with
//! the command that builds it.

use engine::config::Config;
use sqlx::mysql::MySqlSslMode;

/// The features a build has.
#[derive(Debug, Clone, Copy)]
pub struct Built {
    /// SQS and the deployed shape (feature `aws`; brings `tls`).
    pub aws: bool,
    /// TLS to the database (feature `tls`).
    pub tls: bool,
}

impl Built {
    /// This build's.
    pub const THIS: Built = Built {
        aws: cfg!(feature = "aws"),
        tls: cfg!(feature = "tls"),
    };
}

/// What a command line asks for that a build may leave out.
#[derive(Default)]
pub struct Asks<'a> {
    /// What needs the `aws` feature, as the user asked for it (`sim plan`,
    /// `--topology lambda`, `--queue sqs`).
    pub aws: Option<&'static str>,
    /// The configuration of a command that connects to the database, for
    /// what in it requires TLS.
    pub database: Option<&'a Config>,
    /// What needs TLS to an API, as the user asked for it (`sim load --url
    /// https://...`).
    pub https: Option<&'static str>,
}

impl<'a> Asks<'a> {
    /// A command that runs the pipeline: the deployed shape if
    /// `lambda`, SQS if the configuration names it, and the database.
    pub fn pipeline(lambda: bool, config: &'a Config) -> Asks<'a> {
        let aws = match (lambda, config.queue) {
            (true, _) => Some("--topology lambda"),
            (false, engine::config::QueueKind::Sqs) => Some("--queue sqs (QUEUE_BACKEND=sqs)"),
            (false, engine::config::QueueKind::Channel) => None,
        };
        Asks {
            aws,
            database: Some(config),
            https: None,
        }
    }

    /// A command that only connects to the database.
    pub fn database(config: &'a Config) -> Asks<'a> {
        Asks {
            aws: None,
            database: Some(config),
            https: None,
        }
    }

    /// A command that is all the `aws` feature's, named as `what`.
    pub fn aws(what: &'static str) -> Asks<'a> {
        Asks {
            aws: Some(what),
            database: None,
            https: None,
        }
    }

    /// A command that speaks to an https:// API, named as `what`.
    pub fn https(what: &'static str) -> Asks<'a> {
        Asks {
            https: Some(what),
            ..Asks::default()
        }
    }
}

/// Why a build with `built` cannot run a command line that asks `asks`,
/// and the command that builds what it needs (`args`: the command line
/// after `sim`, repeated in it); none if it can.
pub fn refusal(asks: &Asks, built: Built, args: &[String]) -> Option<String> {
    if let (Some(what), false) = (asks.aws, built.aws) {
        return Some(aws_refusal(what, args));
    }
    if let (Some(what), false) = (asks.https, built.tls) {
        return Some(format!(
            "{what} needs TLS to the API, and this sim is built without it: \
             build it with the tls feature: {}",
            rerun("tls", args)
        ));
    }
    let tls = asks.database.and_then(Config::tls_demand);
    match (tls, built.tls) {
        (Some(what), false) => Some(format!(
            "{what} needs TLS to the database, and this sim is built without it: \
             build it with the tls feature: {}",
            rerun("tls", args)
        )),
        _ => None,
    }
}

/// What a build without TLS says before it connects in the clear to a
/// server on another machine where the user left the choice open (ssl mode
/// `preferred`, which encrypts only where TLS is built in): that it does,
/// and how to have TLS. None on this machine, or where TLS is built in or
/// turned off.
pub fn plaintext_note(asks: &Asks, built: Built) -> Option<String> {
    let config = asks.database.filter(|_| !built.tls)?;
    let options = config.mysql().ok()??;
    let host = options.get_host();
    let here = host == "localhost" || host == "::1" || host.starts_with("127.");
    let off = matches!(options.get_ssl_mode(), MySqlSslMode::Disabled);
    if here || off || options.get_socket().is_some() {
        return None;
    }
    Some(format!(
        "the connection to the database at {host} is not encrypted: this sim is built \
         without TLS (cargo run -p sim --features tls builds it; DB_SSL_MODE=verify-identity \
         then requires it)"
    ))
}

/// The refusal of `what` by a build without the `aws` feature.
pub fn aws_refusal(what: &str, args: &[String]) -> String {
    format!(
        "{what} needs the sim built with the aws feature: {}",
        rerun("aws", args)
    )
}

/// `args` again, through cargo with `feature` on.
fn rerun(feature: &str, args: &[String]) -> String {
    let mut line = format!("cargo run -p sim --features {feature} --");
    if args.is_empty() {
        line.push_str(" ...");
    }
    for arg in args {
        line.push(' ');
        line.push_str(&quoted(arg));
    }
    line
}

/// `arg` as a POSIX shell reads it back.
fn quoted(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Built = Built {
        aws: false,
        tls: false,
    };

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn a_plain_build_names_the_feature_and_the_command_that_builds_it() {
        let line = args("--topology lambda --requests 10 --target p99<2s");
        let refused = refusal(&Asks::aws("--topology lambda"), PLAIN, &line);
        assert_eq!(
            refused.as_deref(),
            Some(
                "--topology lambda needs the sim built with the aws feature: cargo run -p sim \
                 --features aws -- --topology lambda --requests 10 --target 'p99<2s'"
            )
        );
        let built = Built {
            aws: true,
            tls: true,
        };
        assert_eq!(refusal(&Asks::aws("sim plan"), built, &line), None);
    }

    #[test]
    fn tls_is_asked_of_the_build_only_where_the_connection_must_be_encrypted() {
        let config = |mode: &str| Config {
            database_url: Some(format!(
                "mysql://root@db.example.com/orderflow?ssl-mode={mode}"
            )),
            ..Config::default()
        };
        let required = config("VERIFY_IDENTITY");
        let refused = refusal(&Asks::database(&required), PLAIN, &args("check"));
        assert_eq!(
            refused.as_deref(),
            Some(
                "the database URL's ssl-mode=verify-identity needs TLS to the database, and \
                 this sim is built without it: build it with the tls feature: \
                 cargo run -p sim --features tls -- check"
            )
        );
        let tls = Built {
            aws: false,
            tls: true,
        };
        assert_eq!(refusal(&Asks::database(&required), tls, &[]), None);
        let preferred = config("PREFERRED");
        assert_eq!(refusal(&Asks::database(&preferred), PLAIN, &[]), None);
    }

    #[test]
    fn a_build_without_tls_says_when_it_connects_to_another_machine_in_the_clear() {
        let note = |url: &str, tls: bool| {
            let config = Config {
                database_url: Some(url.to_owned()),
                ..Config::default()
            };
            plaintext_note(&Asks::database(&config), Built { aws: false, tls })
        };
        assert_eq!(
            note("mysql://app@db.example.com/shop", false).as_deref(),
            Some(
                "the connection to the database at db.example.com is not encrypted: this sim \
                 is built without TLS (cargo run -p sim --features tls builds it; \
                 DB_SSL_MODE=verify-identity then requires it)"
            )
        );
        assert_eq!(note("mysql://app@db.example.com/shop", true), None);
        let disabled = "mysql://app@db.example.com/shop?ssl-mode=DISABLED";
        assert_eq!(note(disabled, false), None);
        assert_eq!(note("mysql://root@127.0.0.1:3306/orderflow", false), None);
        assert_eq!(note("mysql://root@localhost/orderflow", false), None);
    }

    #[test]
    fn sqs_needs_the_aws_feature_whether_a_flag_or_the_environment_names_it() {
        let config = Config {
            queue: engine::config::QueueKind::Sqs,
            ..Config::default()
        };
        let refused = refusal(&Asks::pipeline(false, &config), PLAIN, &[]);
        assert_eq!(
            refused.as_deref(),
            Some(
                "--queue sqs (QUEUE_BACKEND=sqs) needs the sim built with the aws feature: \
                 cargo run -p sim --features aws -- ..."
            )
        );
        let channel = Config::default();
        assert_eq!(refusal(&Asks::pipeline(false, &channel), PLAIN, &[]), None);
    }

    #[test]
    fn arguments_are_quoted_as_a_shell_reads_them_back() {
        assert_eq!(quoted("--requests"), "--requests");
        assert_eq!(quoted("first_try_5xx<0.1%"), "'first_try_5xx<0.1%'");
        assert_eq!(quoted("it's"), r"'it'\''s'");
        assert_eq!(quoted(""), "''");
    }
}
