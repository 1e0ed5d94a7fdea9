//! `sim rehearse`: the sale rehearsed in a team's sandbox AWS account by one
//! command. The rehearsal is data ([`plan::Step`]: what each step runs, what
//! it checks, how long it takes and what it costs), built from the
//! arguments ([`args`]) and the prices ([`costs`]) by [`steps`], printed
//! the same by `--dry-run` and before a real run, and run after
//! [`preflight`] by [`run`] (the programs) and [`act`] (what the sim does
//! and checks itself).

mod args;
pub use args::RehearseArgs;

#[cfg(feature = "aws")]
mod act;
#[cfg(feature = "aws")]
mod actions;
#[cfg(feature = "aws")]
mod costs;
#[cfg(feature = "aws")]
mod plan;
#[cfg(feature = "aws")]
mod preflight;
#[cfg(feature = "aws")]
mod run;
#[cfg(feature = "aws")]
mod steps;

#[cfg(feature = "aws")]
pub async fn rehearse(args: RehearseArgs) -> std::process::ExitCode {
    use std::process::ExitCode;

    let setup = match args::Setup::of(args) {
        Ok(setup) => setup,
        Err(e) => {
            eprintln!("sim rehearse: {e}");
            return ExitCode::from(2);
        }
    };
    let paths = match paths(&setup) {
        Ok(paths) => paths,
        Err(e) => {
            eprintln!("sim rehearse: {e}");
            return ExitCode::from(2);
        }
    };
    let steps = steps::steps(&setup, &paths);
    println!("{}", header(&setup, &paths));
    print!("{}", plan::print(&steps, &setup.args.region));
    println!("\n{}", plan::bill_line(&steps, &setup.prices.read));
    if setup.args.dry_run {
        let missing = preflight::missing_tools(setup.args.zips.is_some());
        let tools = match missing.is_empty() {
            true => "every tool it runs is on PATH".to_owned(),
            false => format!("not on PATH now: {}", missing.join("; ")),
        };
        println!("\ndry run: nothing was run ({tools})");
        return ExitCode::SUCCESS;
    }
    preflight::run(setup, paths, steps).await
}

/// Where the rehearsal's files go, absolute: the Pulumi program runs in
/// pulumi/ and resolves the settings file and the zips from there.
#[cfg(feature = "aws")]
fn paths(setup: &args::Setup) -> Result<steps::Paths, String> {
    let absolute = |p: &std::path::Path| {
        std::path::absolute(p).map_err(|e| format!("cannot resolve {}: {e}", p.display()))
    };
    let built = match &setup.args.zips {
        Some(dir) => absolute(dir)?,
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
            absolute(&std::path::Path::new(&target).join("lambda"))?
        }
    };
    Ok(steps::Paths {
        pulumi: "pulumi".into(),
        settings: absolute(&setup.args.settings)?.display().to_string(),
        out: absolute(&setup.out)?,
        built: built.display().to_string(),
    })
}

/// What the rehearsal is, before its steps.
#[cfg(feature = "aws")]
fn header(setup: &args::Setup, paths: &steps::Paths) -> String {
    let a = &setup.args;
    format!(
        "sim rehearse: the sale rehearsed on AWS: stack {stack} in {region}, deploying {settings} as a production \
         stack ({class}, Multi-AZ) with its own token issuer; the sale: {profile}, {requests} requests over {duration} s, \
         the database failed over {failover:.1} s into it; files in {out}\n\
         {{name}}: a value found as the rehearsal goes (the stack's outputs in outputs.json, the token, the sale's \
         window, versions read back); the token only ever in a command's environment",
        stack = a.stack,
        region = a.region,
        settings = paths.settings,
        class = setup.class,
        profile = setup.profile.name,
        requests = a.requests,
        duration = a.duration,
        failover = setup.failover_at,
        out = paths.out.display(),
    )
}
