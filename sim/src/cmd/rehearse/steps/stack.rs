//! The steps that stand a stack up to rehearse on: the preflight, the
//! zips, the deploy (with the load's stock) and a token.

use super::super::actions::Action;
use super::super::args::Setup;
use super::super::costs::{self, Traffic};
use super::super::plan::{Cmd, Run, Stdout, Step};
use super::{invoke, pulumi, Paths, DEPLOY_MINS, TOKEN_MINS};

pub fn preflight() -> Step {
    Step {
        name: "preflight",
        does: "finds the tools, asks AWS who you are, shows the bill and asks before anything is spent",
        runs: vec![Cmd::new(["aws", "sts", "get-caller-identity", "--output", "json"]).into()],
        also_checks: vec![
            "pulumi, aws, node, npm, python3 and cargo (not with --zips) are on PATH, and pulumi/Pulumi.yaml is here"
                .into(),
            "aws sts get-caller-identity names the account and you: shown before the prompt".into(),
            "yes is typed at the prompt (or --yes given); anything else, or no answer, and nothing more runs (exit 2)"
                .into(),
        ],
        minutes: 1.0,
        minutes_why: "assumed: one AWS call and your answer".into(),
        costs: Vec::new(),
    }
}

pub fn build(s: &Setup, paths: &Paths) -> Step {
    let arch = s.settings.architecture.as_str();
    let mut runs: Vec<Run> = Vec::new();
    if s.args.zips.is_none() {
        runs.push(
            Cmd::new(["scripts/build-lambdas.sh"])
                .env("ORDERFLOW_SETTINGS", &paths.settings)
                .into(),
        );
    }
    runs.push(Cmd::new(["cp", "-R", &format!("{}/.", paths.built), &paths.zips()]).into());
    runs.push(Action::ZipsThere { architecture: arch }.into());
    Step {
        name: "build",
        does: "builds the functions' zips for the settings file and copies them to zips/, which the stack deploys",
        runs,
        also_checks: Vec::new(),
        minutes: if s.args.zips.is_none() { 10.0 } else { 0.5 },
        minutes_why: if s.args.zips.is_none() {
            "assumed: the first x86_64 build took about 9 minutes on 2 cores (the book's Deploying to AWS); less when warm".into()
        } else {
            "assumed: a copy of zips already built".into()
        },
        costs: Vec::new(),
    }
}

pub fn deploy(s: &Setup, paths: &Paths) -> Step {
    let (stack, region) = (s.args.stack.as_str(), s.args.region.as_str());
    let config = |key: &str, value: &str| pulumi(paths, stack, ["config", "set", key, value]);
    let stock_payload = format!("file://{}", paths.file("stock.json"));
    let runs: Vec<Run> = vec![
        Cmd::new([
            "npm",
            "--prefix",
            &paths.pulumi,
            "ci",
            "--no-audit",
            "--no-fund",
        ])
        .into(),
        pulumi(paths, stack, ["stack", "select", "--create"]).into(),
        config("aws:region", region).into(),
        config("preset", "production").into(),
        config("rehearsal", "true").into(),
        config("settingsFile", &paths.settings).into(),
        config("lambdaDir", &paths.zips()).into(),
        pulumi(paths, stack, ["up", "--yes"]).into(),
        pulumi(
            paths,
            stack,
            ["stack", "output", "--json", "--show-secrets"],
        )
        .to(Stdout::File("outputs.json"))
        .into(),
        Action::Outputs.into(),
        Action::Applied.into(),
        Action::WriteStock.into(),
        invoke(
            region,
            &stock_payload,
            &paths.file("stock-answer.json"),
            "stock-invoke.json",
        )
        .into(),
        Action::Answered {
            invoke: "stock-invoke.json",
            answer: "stock-answer.json",
            says: "22 products stocked",
        }
        .into(),
    ];
    let mut costs = costs::standing(&s.prices, &s.class, DEPLOY_MINS);
    costs.extend(costs::migrate_invocation(&s.prices, &s.settings));
    costs.extend(costs::migrate_invocation(&s.prices, &s.settings));
    Step {
        name: "deploy",
        does: "deploys a production stack of its own with a token issuer (rehearsal true), reads its outputs, \
               stocks the load's products",
        runs,
        also_checks: Vec::new(),
        minutes: DEPLOY_MINS,
        minutes_why: "assumed: creating a Multi-AZ RDS instance is most of it, 15 to 25 minutes; \
                      no pulumi up of this program has been timed"
            .into(),
        costs,
    }
}

pub fn token(s: &Setup) -> Step {
    let mut costs = costs::standing(&s.prices, &s.class, TOKEN_MINS);
    costs.push(costs::tokens(1.0));
    costs.extend(costs::traffic(
        &s.prices,
        &s.settings,
        Traffic {
            orders: 2.0,
            ..Traffic::default()
        },
    ));
    Step {
        name: "token",
        does: "gets an access token by the client credentials grant, and sees the authorizer take it and refuse none",
        runs: vec![
            Action::Token.into(),
            Action::Order {
                token: true,
                expect: 202,
                when: "",
            }
            .into(),
            Action::Order {
                token: false,
                expect: 401,
                when: "",
            }
            .into(),
        ],
        also_checks: Vec::new(),
        minutes: TOKEN_MINS,
        minutes_why: "assumed: three requests".into(),
        costs,
    }
}
