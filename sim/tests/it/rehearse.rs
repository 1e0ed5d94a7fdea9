//! `sim rehearse` without an AWS account: its dry run prints every step and
//! a bill that is their sum and runs nothing; bad input and a missing yes
//! stop it before anything runs; a step that fails once the deploy began
//! still destroys the stack. The programs it runs are stand-ins here that
//! write down each call (no pulumi, no aws: nothing reaches AWS).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository's root, where `sim rehearse` is run from.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A directory of this test's own, empty.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("orderflow-rehearse-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Stand-ins for the programs the rehearsal runs, in `dir/bin`: each
/// writes its name and arguments to `dir/calls`; `aws sts
/// get-caller-identity` answers an identity; `pulumi up` fails when
/// `fail_up`; `cp` is the real one, so a copy works.
fn stand_ins(dir: &Path, fail_up: bool) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = dir.join("calls");
    let record = format!(
        "#!/bin/sh\necho \"${{0##*/}} $*\" >> '{}'\n",
        calls.display()
    );
    let script = |name: &str, body: &str| {
        let path = bin.join(name);
        std::fs::write(&path, format!("{record}{body}exit 0\n")).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(
        "aws",
        "if [ \"$1 $2\" = \"sts get-caller-identity\" ]; then\n  \
         echo '{\"UserId\": \"AIDATEST\", \"Account\": \"123456789012\", \"Arn\": \"arn:aws:iam::123456789012:user/rehearser\"}'\n\
         fi\n",
    );
    let up = if fail_up {
        "for a in \"$@\"; do [ \"$a\" = up ] && exit 1; done\n"
    } else {
        ""
    };
    script("pulumi", up);
    for name in ["node", "npm", "python3", "cargo"] {
        script(name, "");
    }
    let cp = ["/bin/cp", "/usr/bin/cp"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("cp");
    std::os::unix::fs::symlink(cp, bin.join("cp")).unwrap();
    bin
}

/// The calls the stand-ins saw, one a line.
fn calls(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `sim rehearse args` from the repository's root with PATH `path` and
/// `stdin` as its standard input.
fn rehearse(args: &[&str], path: &Path, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("rehearse")
        .args(args)
        .current_dir(root())
        .env("PATH", path)
        .env("DATABASE_URL", "")
        .env("DB_HOST", "")
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sim runs");
    use std::io::Write as _;
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().expect("sim ends")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Dollars as printed (`$0.0796`), in ten-thousandths, exactly.
fn usd(s: &str) -> i64 {
    let digits: String = s
        .trim()
        .trim_start_matches('$')
        .chars()
        .filter(|c| *c != '.')
        .collect();
    assert_eq!(s.trim().split('.').nth(1).map(str::len), Some(4), "{s}");
    digits
        .parse()
        .unwrap_or_else(|_| panic!("not dollars: {s}"))
}

#[test]
fn the_dry_run_prints_every_step_its_checks_and_costs_and_runs_nothing() {
    let dir = scratch("dry-run");
    let out = dir.join("out");
    // An empty PATH: no pulumi, no aws; then stand-ins that write down any call.
    for path in [dir.join("nothing"), stand_ins(&dir, false)] {
        std::fs::create_dir_all(&path).unwrap();
        let o = rehearse(&["--dry-run", "--out", out.to_str().unwrap()], &path, "");
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{stdout}{stderr}");
        assert!(calls(&dir).is_empty(), "a dry run ran {:?}", calls(&dir));
        assert!(!out.exists(), "a dry run writes nothing");
        assert!(stdout.contains("dry run: nothing was run"), "{stdout}");

        let names = [
            "preflight",
            "build",
            "deploy",
            "token",
            "sale",
            "rotation",
            "redeploy",
            "alias",
            "collect",
            "destroy",
        ];
        let starts: Vec<usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                stdout
                    .find(&format!("\nstep {i} {n}: "))
                    .unwrap_or_else(|| panic!("no step {i} {n}:\n{stdout}"))
            })
            .collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "in order");
        let bill_at = stdout.find("\nexpected bill: $").expect("the bill");
        let mut sum = 0;
        for (i, start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(bill_at);
            let step = &stdout[*start..end];
            for part in [
                "\n  runs:\n",
                "\n  checks:\n    - ",
                "\n  takes: ",
                "\n  costs:\n",
                "\n  step cost: $",
            ] {
                assert!(step.contains(part), "step {i} has no {part:?}:\n{step}");
            }
            let cost = step
                .rsplit("  step cost: ")
                .next()
                .unwrap()
                .lines()
                .next()
                .unwrap();
            sum += usd(cost);
        }
        let total = stdout[bill_at..]
            .trim_start()
            .trim_start_matches("expected bill: ")
            .split_whitespace()
            .next()
            .unwrap();
        assert_eq!(usd(total), sum, "the bill is the sum of the steps' costs");
        assert!(sum > 0);

        for command in [
            "$ aws sts get-caller-identity",
            "scripts/build-lambdas.sh",
            "$ pulumi -C pulumi config set rehearsal true --stack rehearsal",
            "$ pulumi -C pulumi config set preset production --stack rehearsal",
            "$ pulumi -C pulumi up --yes --stack rehearsal",
            "$ pulumi -C pulumi stack output --json --show-secrets --stack rehearsal > outputs.json",
            "$ ORDERFLOW_TOKEN={token} sim load --url {api_endpoint} --customer {rehearsal_client_id} --profile flash-sale --requests 20000 --duration 10",
            "$ aws rds reboot-db-instance --db-instance-identifier {db_instance_id} --force-failover",
            "(started 8.3 s after the one before, beside it)",
            "--payload '{\"rotate_app_password\": true}'",
            "$ pulumi -C pulumi up --yes --json --stack rehearsal > redeploy-events.json",
            "--function-version {live_version}",
            "$ sim collect --outputs",
            "--failover-at 3.3 ",
            "$ pulumi -C pulumi destroy --yes --stack rehearsal",
            "$ pulumi -C pulumi stack rm --yes --stack rehearsal",
        ] {
            assert!(stdout.contains(command), "no {command:?} in:\n{stdout}");
        }
        for check in [
            "every 202 has ended PROCESSED or FAILED",
            "both DLQs hold nothing",
            "that one gets 401",
            "saying `password rotated`",
            "no other resource of the stack",
            "the migrate function was invoked again after the redeploy began",
        ] {
            assert!(stdout.contains(check), "no check {check:?}");
        }
        assert!(
            stdout.contains("RDS db.t4g.medium instance, Multi-AZ (twice)"),
            "{stdout}"
        );
        assert!(!stdout.contains("$-"), "no negative dollars");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_is_refused_by_name_before_anything_runs() {
    let dir = scratch("bad-input");
    let bin = stand_ins(&dir, false);
    for (args, says) in [
        (
            &["--failover-at", "12"][..],
            "--failover-at 12 is not within the sale: it lasts --duration 10 s",
        ),
        (
            &["--duration", "30", "--failover-at=-1"][..],
            "--failover-at -1 is not within the sale",
        ),
        (
            &["--settings", "deploy/no-such-settings.json"][..],
            "--settings deploy/no-such-settings.json: no such file",
        ),
        (
            &["--region", "eu-west-1"][..],
            "has no prices for eu-west-1",
        ),
        (
            &["--stack", "2nd-try"][..],
            "--stack \"2nd-try\": use letters, digits and single hyphens",
        ),
        (&["--requests", "0"][..], "--requests must be at least 1"),
        (
            &["--profile", "no-such-profile"][..],
            "--profile: no profile \"no-such-profile\"",
        ),
    ] {
        let o = rehearse(args, &bin, "yes\n");
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(calls(&dir).is_empty(), "{args:?} ran {:?}", calls(&dir));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_yes_it_refuses_having_only_asked_aws_who_you_are() {
    let dir = scratch("no-yes");
    let bin = stand_ins(&dir, false);
    let out = dir.join("out");
    for answer in ["", "no\n", "y\n"] {
        let o = rehearse(&["--out", out.to_str().unwrap()], &bin, answer);
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{answer:?}: {stdout}{stderr}");
        assert!(
            stdout.contains(
                "AWS says you are arn:aws:iam::123456789012:user/rehearser in account 123456789012"
            ),
            "{stdout}"
        );
        assert!(
            stdout.contains("\nexpected bill: $"),
            "the bill before the prompt"
        );
        assert!(
            stdout.contains("Type yes to deploy the stack rehearsal"),
            "{stdout}"
        );
        assert!(stderr.contains("not confirmed"), "{stderr}");
        assert_eq!(
            calls(&dir),
            ["aws sts get-caller-identity --output json"],
            "{answer:?}"
        );
        assert!(!out.exists(), "nothing written");
        std::fs::remove_file(dir.join("calls")).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Zips as scripts/build-lambdas.sh lays them out, for --zips.
fn built_zips(dir: &Path) -> PathBuf {
    let zips = dir.join("built");
    for f in ["ingest", "processor", "notifier", "migrate"] {
        std::fs::create_dir_all(zips.join(f)).unwrap();
        std::fs::write(zips.join(f).join("bootstrap.zip"), f).unwrap();
    }
    std::fs::write(zips.join("manifest.json"), r#"{"architecture": "x86_64"}"#).unwrap();
    zips
}

#[test]
fn a_step_that_fails_once_the_deploy_began_still_destroys_the_stack() {
    let dir = scratch("fails");
    let bin = stand_ins(&dir, true);
    let zips = built_zips(&dir);
    let out = dir.join("out");
    let args = [
        "--yes",
        "--zips",
        zips.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = rehearse(&args, &bin, "");
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "step 2 deploy: FAILED: `pulumi -C pulumi up --yes --stack rehearsal` exited with 1"
        ),
        "{stdout}"
    );
    let seen = calls(&dir);
    let at = |prefix: &str| {
        seen.iter()
            .position(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}: {seen:?}"))
    };
    assert!(
        at("pulumi -C pulumi up --yes --stack rehearsal")
            < at("pulumi -C pulumi destroy --yes --stack rehearsal")
    );
    assert!(
        at("pulumi -C pulumi destroy --yes")
            < at("pulumi -C pulumi stack rm --yes --stack rehearsal")
    );
    assert!(
        !seen
            .iter()
            .any(|c| c.starts_with("pulumi -C pulumi stack output")),
        "nothing after the failure: {seen:?}"
    );
    assert!(
        out.join("zips/migrate/bootstrap.zip").is_file(),
        "the zips copied for the stack"
    );
    let log = std::fs::read_to_string(out.join("rehearse.log")).unwrap();
    assert!(log.contains("step 9 destroy: passed"), "{log}");
    assert!(
        log.contains("skipped aws logs delete-log-group --log-group-name /aws/rds/instance/{db_instance_id}/error"),
        "RDS's own log groups are deleted only once the instance is known: {log}"
    );

    // --keep leaves it up, and says how to destroy it.
    std::fs::remove_file(dir.join("calls")).unwrap();
    let o = rehearse(&[&args[..], &["--keep"]].concat(), &bin, "");
    let (stdout, _) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout.contains(
            "the stack is left up (--keep): pulumi -C pulumi destroy --yes --stack rehearsal"
        ),
        "{stdout}"
    );
    assert!(
        !calls(&dir).iter().any(|c| c.contains("destroy")),
        "{:?}",
        calls(&dir)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_step_that_fails_before_the_deploy_destroys_nothing() {
    let dir = scratch("no-zips");
    let bin = stand_ins(&dir, false);
    let out = dir.join("out");
    // --zips names a directory with no zips in it.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = rehearse(
        &[
            "--yes",
            "--zips",
            empty.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &bin,
        "",
    );
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("step 1 build: FAILED: no "), "{stdout}");
    assert!(
        stdout.contains("nothing was deployed: nothing to destroy"),
        "{stdout}"
    );
    assert_eq!(calls(&dir), ["aws sts get-caller-identity --output json"]);
    let _ = std::fs::remove_dir_all(&dir);
}
