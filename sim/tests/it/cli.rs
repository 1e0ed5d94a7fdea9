//! The sim's commands answer bad or missing setup with a message and an exit
//! status, never a panic.

use std::process::{Command, Output};

fn sim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sim"));
    // Empty, not unset: a developer's .env must not fill them in.
    cmd.args(args)
        .env("DATABASE_URL", "")
        .env("DB_HOST", "")
        .env("RUST_LOG", "off");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("sim runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn dlq_commands_say_when_no_server_answers() {
    // Port 9 (discard) has no listener here. `sim dlq`'s own flag once
    // collided with the pipeline's `--queue` and panicked while parsing.
    for args in [
        &["dlq", "list", "--url", "http://127.0.0.1:9"][..],
        &[
            "dlq",
            "redrive",
            "--url",
            "http://127.0.0.1:9",
            "--dlq",
            "processed",
        ],
    ] {
        let out = sim(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot reach http://127.0.0.1:9"),
            "{}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    let out = sim(&["dlq", "list", "--dlq", "everything"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("possible values: orders, processed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn deployment_shows_the_shipped_shape_fits_and_an_uncapped_one_does_not() {
    let out = sim(&["deployment"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("total 45 of 50: fits"), "{stdout}");

    // The first deployment: no concurrency caps.
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/first-deployment.json"
    );
    let out = sim(&["deployment", "--settings", file], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("does NOT fit"), "{stdout}");
}

#[test]
fn migrate_without_a_database_says_how_to_name_one() {
    let out = sim(&["migrate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no database configured: set DATABASE_URL"),
        "{}",
        stderr(&out)
    );
}

#[test]
#[cfg(feature = "aws")]
fn a_region_without_prices_is_refused_before_the_run_starts() {
    let out = sim(&["--topology", "lambda", "--region", "mars-north-1"], &[]);
    assert_ne!(out.status.code(), Some(0));
    let e = stderr(&out);
    assert!(
        e.contains("no prices for mars-north-1") && e.contains("us-east-1"),
        "{e}"
    );
}

#[test]
#[cfg(feature = "aws")]
fn the_book_shows_the_model_the_sim_runs_under() {
    let out = sim(&["model", "--markdown"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/src/reference/model.md"
    ))
    .expect("docs/src/reference/model.md");
    assert!(
        page.contains(table.trim()),
        "docs/src/reference/model.md is not deploy/model.json's model: write it again with `cargo run -p sim --features aws -- docs`"
    );
}

#[test]
#[cfg(feature = "aws")]
fn plan_refuses_a_load_it_cannot_plan_for_and_says_it_needs_mysql() {
    for (args, says) in [
        (&["plan", "--peak=-5"][..], "--peak must be a positive rate"),
        (
            &["plan", "--duration", "0"][..],
            "--duration must be a positive",
        ),
        (&["plan", "--requests", "0"][..], "the load has no requests"),
        (
            &["plan", "--region", "mars-north-1"][..],
            "no prices for mars-north-1",
        ),
        (&["plan"][..], "which needs MySQL: set DATABASE_URL"),
    ] {
        let out = sim(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let e = stderr(&out);
        assert!(e.contains(says), "{args:?}: {e}");
    }
}

/// A sim built without the `aws` feature (`cargo test -p sim`) refuses what
/// needs it before anything starts, naming the command that builds it.
#[test]
#[cfg(not(feature = "aws"))]
fn a_sim_without_the_aws_feature_says_how_to_build_one_that_has_it() {
    for (args, what) in [
        (&["--topology", "lambda"][..], "--topology lambda"),
        (&["plan", "--quick"][..], "sim plan"),
        (
            &["serve", "--queue", "sqs"][..],
            "--queue sqs (QUEUE_BACKEND=sqs)",
        ),
    ] {
        let out = sim(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let e = stderr(&out);
        assert!(
            e.contains(&format!(
                "{what} needs the sim built with the aws feature: \
                 cargo run -p sim --features aws -- {}",
                args.join(" ")
            )),
            "{args:?}: {e}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: started before refusing");
    }
}

/// The book's reference pages are what this build writes, and a page that
/// drifted is named.
#[test]
#[cfg(feature = "aws")]
fn the_books_reference_pages_are_what_the_code_writes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/src/reference");
    let out = sim(&["docs", "--check", "--dir", dir], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\nwrite them again with: cargo run -p sim --features aws -- docs",
        stderr(&out)
    );

    let copy = std::env::temp_dir().join(format!("orderflow-docs-{}", std::process::id()));
    std::fs::create_dir_all(&copy).unwrap();
    let copy_str = copy.to_str().unwrap();
    let out = sim(&["docs", "--dir", copy_str], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = copy.join("exit-codes.md");
    let text = std::fs::read_to_string(&page).unwrap();
    std::fs::write(&page, text.replace("| 1 |", "| 3 |")).unwrap();
    let out = sim(&["docs", "--check", "--dir", copy_str], &[]);
    std::fs::remove_dir_all(&copy).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("exit-codes.md"), "{}", stderr(&out));
}
