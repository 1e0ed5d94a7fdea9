//! What is rehearsed on the stack: the sale with a failover, a password
//! rotation, a migrate-only redeploy, an alias rollback.

use std::path::Path;

use super::super::actions::Action;
use super::super::args::Setup;
use super::super::costs::{self, Traffic};
use super::super::plan::{Cmd, Stdout, Step};
use super::{
    aws, invoke, load, pulumi, sale_mins, Paths, ALIAS_MINS, DRAIN_MINS, LOAD_CHECK, REDEPLOY_MINS,
    ROTATION_MINS,
};
use crate::load::Profile;

pub fn sale(s: &Setup, paths: &Paths) -> Step {
    let a = &s.args;
    let at = s.browse_secs() + s.failover_at;
    let orders = a.requests as f64;
    let mut costs = costs::standing(&s.prices, &s.class, sale_mins(s));
    costs.extend(costs::traffic(
        &s.prices,
        &s.settings,
        Traffic {
            orders,
            reads: costs::reads_of(&s.profile, orders),
            cold_starts: true,
            failover: true,
        },
    ));
    Step {
        name: "sale",
        does: "sends the sale through API Gateway with the token, forces a database failover in it, waits for \
               every order to end",
        runs: vec![
            Action::Mark { var: "sale_start", millis: false }.into(),
            load(&a.profile, a.requests, a.duration, 1, &paths.file("load.json")).into(),
            aws(&a.region, ["rds", "reboot-db-instance", "--db-instance-identifier", "{db_instance_id}", "--force-failover"])
                .to(Stdout::File("failover.json"))
                .at(at)
                .into(),
            Action::Drained { at_most_mins: 15.0 }.into(),
            Action::Mark { var: "sale_end", millis: false }.into(),
            Action::Window.into(),
        ],
        also_checks: vec![LOAD_CHECK.into(), "the reboot with a forced failover is accepted (aws exits 0)".into()],
        minutes: sale_mins(s),
        minutes_why: format!(
            "the load's {:.0} s of browsing and {} s of orders, then {DRAIN_MINS:.0} minutes assumed for the failover \
             (RDS gives 60 to 120 s) and the orders caught in it (retried after 5, 15, 45, 135 s) to drain",
            s.browse_secs(),
            a.duration
        ),
        costs,
    }
}

pub fn rotation(s: &Setup, paths: &Paths) -> Step {
    let region = s.args.region.as_str();
    let even = Profile::from_arg("even")
        .map(|p| costs::reads_of(&p, 200.0))
        .unwrap_or(0.0);
    let mut costs = costs::standing(&s.prices, &s.class, ROTATION_MINS);
    costs.extend(costs::migrate_invocation(&s.prices, &s.settings));
    costs.push(costs::tokens(1.0));
    costs.extend(costs::traffic(
        &s.prices,
        &s.settings,
        Traffic {
            orders: 200.0,
            reads: even,
            ..Traffic::default()
        },
    ));
    let runs = vec![
        invoke(
            region,
            r#"{"rotate_app_password": true}"#,
            &paths.file("rotate-answer.json"),
            "rotate-invoke.json",
        )
        .into(),
        Action::Answered {
            invoke: "rotate-invoke.json",
            answer: "rotate-answer.json",
            says: "password rotated",
        }
        .into(),
        Action::Token.into(),
        load("even", 200, 10.0, 2, &paths.file("rotation-load.json")).into(),
        Action::Drained { at_most_mins: 10.0 }.into(),
    ];
    Step {
        name: "rotation",
        does: "rotates the application user's database password, then a small load must all be processed \
               (the functions read the new password from its secret when the database refuses the old one)",
        runs,
        also_checks: vec![LOAD_CHECK.into()],
        minutes: ROTATION_MINS,
        minutes_why: "assumed: an invocation, 200 orders over 10 s and their drain".into(),
        costs,
    }
}

pub fn redeploy(s: &Setup, paths: &Paths) -> Step {
    let zip = Path::new(&paths.zips())
        .join("migrate")
        .join("bootstrap.zip");
    let mut costs = costs::standing(&s.prices, &s.class, REDEPLOY_MINS);
    costs.extend(costs::migrate_invocation(&s.prices, &s.settings));
    Step {
        name: "redeploy",
        does: "redeploys with only the migrate zip changed (a file added to it): the migration step must run again \
               and nothing else change",
        runs: vec![
            Action::Mark { var: "redeploy_start_ms", millis: true }.into(),
            Cmd::new([
                "python3",
                "-c",
                "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'a').writestr('rehearsal-redeploy', sys.argv[2])",
                &zip.display().to_string(),
                "{redeploy_start_ms}",
            ])
            .into(),
            pulumi(paths, &s.args.stack, ["up", "--yes", "--json"]).to(Stdout::File("redeploy-events.json")).into(),
            Action::OnlyMigrateChanged { events: "redeploy-events.json" }.into(),
            Action::RanAgain.into(),
        ],
        also_checks: Vec::new(),
        minutes: REDEPLOY_MINS,
        minutes_why: "assumed: pulumi up reads every resource and updates two".into(),
        costs,
    }
}

pub fn alias(s: &Setup) -> Step {
    let region = s.args.region.as_str();
    let ingest = "{ingest_function}";
    let move_to = |version: &str| {
        aws(
            region,
            [
                "lambda",
                "update-alias",
                "--function-name",
                ingest,
                "--name",
                "live",
                "--function-version",
                version,
            ],
        )
    };
    let mut costs = costs::standing(&s.prices, &s.class, ALIAS_MINS);
    costs.push(costs::tokens(1.0));
    costs.extend(costs::traffic(
        &s.prices,
        &s.settings,
        Traffic {
            orders: 3.0,
            ..Traffic::default()
        },
    ));
    Step {
        name: "alias",
        does: "publishes a version of ingest (the same code) and points live at it, as a deploy does; then moves live \
               back one version (the rollback) and forward again, an order taken each time",
        runs: vec![
            Action::Mark { var: "alias_start_ms", millis: true }.into(),
            aws(region, ["lambda", "get-alias", "--function-name", ingest, "--name", "live", "--output", "json"])
                .to(Stdout::Var("live_version", &["FunctionVersion"]))
                .into(),
            aws(region, ["lambda", "update-function-configuration", "--function-name", ingest, "--description", "rehearsal {alias_start_ms}"]).into(),
            aws(region, ["lambda", "wait", "function-updated", "--function-name", ingest]).into(),
            aws(region, ["lambda", "publish-version", "--function-name", ingest, "--output", "json"])
                .to(Stdout::Var("new_version", &["Version"]))
                .into(),
            Action::NewVersion.into(),
            move_to("{new_version}").into(),
            Action::Token.into(),
            Action::Order {
                token: true,
                expect: 202,
                when: "with live on the new version",
            }
            .into(),
            move_to("{live_version}").into(),
            Action::Order {
                token: true,
                expect: 202,
                when: "with live moved back one version (the rollback)",
            }
            .into(),
            move_to("{new_version}").into(),
            Action::Order {
                token: true,
                expect: 202,
                when: "with live forward again",
            }
            .into(),
        ],
        also_checks: Vec::new(),
        minutes: ALIAS_MINS,
        minutes_why: "assumed: six Lambda calls and three orders".into(),
        costs,
    }
}
