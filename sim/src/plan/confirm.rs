//! The costly half of a plan: a candidate run in the sim exactly as a user
//! would run it, `sim run --topology lambda --settings <its file> --json`,
//! in a process of its own (its output to a log beside the file), and its
//! outcome read back. `sim compare --observed` runs an observed sale at the
//! model's ends the same way.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::aws::settings::DeploymentSettings;
use anyhow::Context as _;

use super::Load;
use crate::report::result::RunResult;
use crate::targets::Target;

/// How a confirming run is started: the load, the model end and the rest
/// of `sim run`'s flags that a plan passes on.
#[derive(Clone)]
pub struct Runner {
    pub load: Load,
    pub seed: u64,
    pub model: crate::aws::model::End,
    pub model_file: Option<PathBuf>,
    pub multi_az: bool,
    pub region: String,
    pub time_scale: f64,
    /// The targets each run is held to (`sim run --target`).
    pub targets: Vec<Target>,
    /// A database outage in the run: when (seconds into the load) and for
    /// how many seconds (`--db-outage-at`, `--db-outage`).
    pub outage: Option<(f64, u64)>,
    /// Also write what CloudWatch would hold (`--observed`), as
    /// `<name>.observed.json`.
    pub observed: bool,
    pub dir: PathBuf,
}

/// A confirmed candidate: where its files are and what its run showed.
#[derive(Debug, Clone)]
pub struct Confirmed {
    pub settings: PathBuf,
    pub log: PathBuf,
    pub outcome: RunResult,
    /// Its observed file, if asked for ([`Runner::observed`]).
    pub observed: Option<PathBuf>,
}

/// The first target or check a confirming run missed (none: it met them).
pub fn missed(o: &RunResult) -> Option<String> {
    (!o.passed).then(|| {
        o.first_miss()
            .unwrap_or_else(|| "the run failed (see its log)".into())
    })
}

impl Runner {
    /// The arguments of `sim run` for the settings file at `settings`,
    /// writing its outcome to `json`.
    pub fn args(&self, settings: &Path, json: &Path) -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--topology",
            "lambda",
            "--no-html",
            "--model",
            self.model.as_str(),
        ]
        .map(str::to_owned)
        .into();
        args.extend([
            "--profile".into(),
            self.load.profile.source.clone(),
            "--settings".into(),
            settings.display().to_string(),
            "--json".into(),
            json.display().to_string(),
            "--requests".into(),
            self.load.orders.to_string(),
            "--duration".into(),
            self.load.duration.to_string(),
            "--seed".into(),
            self.seed.to_string(),
            "--region".into(),
            self.region.clone(),
            "--time-scale".into(),
            self.time_scale.to_string(),
        ]);
        for t in &self.targets {
            args.extend(["--target".into(), t.text.clone()]);
        }
        if let Some(f) = &self.model_file {
            args.extend(["--model-file".into(), f.display().to_string()]);
        }
        if self.multi_az {
            args.push("--multi-az".into());
        }
        if let Some((at, secs)) = self.outage {
            args.extend(["--db-outage".into(), secs.to_string()]);
            args.extend(["--db-outage-at".into(), at.to_string()]);
        }
        args
    }

    /// Writes `settings` as `<dir>/<name>.json` and runs it in the sim.
    pub async fn confirm(
        &self,
        name: &str,
        settings: &DeploymentSettings,
    ) -> anyhow::Result<Confirmed> {
        self.confirm_with_seed(name, settings, self.seed).await
    }

    /// [`Runner::confirm`], the run's load and draws seeded by `seed`.
    pub async fn confirm_with_seed(
        &self,
        name: &str,
        settings: &DeploymentSettings,
        seed: u64,
    ) -> anyhow::Result<Confirmed> {
        let runner = Runner {
            seed,
            ..self.clone()
        };
        let file = self.dir.join(format!("{name}.json"));
        write_settings(&file, settings)?;
        let json = self.dir.join(format!("{name}.result.json"));
        let log = self.dir.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&json);
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let observed = self
            .observed
            .then(|| self.dir.join(format!("{name}.observed.json")));
        let mut args = runner.args(&file, &json);
        if let Some(path) = &observed {
            args.extend(["--observed".into(), path.display().to_string()]);
        }
        let status = tokio::process::Command::new(own_binary()?)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .await
            .context("starting a confirming run")?;
        let outcome = RunResult::read(&json).with_context(|| {
            format!(
                "the confirming run of {} ended ({status}) without a result; its log: {}",
                file.display(),
                log.display()
            )
        })?;
        Ok(Confirmed {
            settings: file,
            log,
            outcome,
            observed,
        })
    }
}

/// This very binary, even if a build replaced its file while it ran.
fn own_binary() -> anyhow::Result<PathBuf> {
    let proc_exe = Path::new("/proc/self/exe");
    match proc_exe.exists() {
        true => Ok(proc_exe.to_path_buf()),
        false => std::env::current_exe().context("finding the sim's own binary"),
    }
}

/// Writes a settings file as the Pulumi program and the sim read it.
pub fn write_settings(path: &Path, settings: &DeploymentSettings) -> anyhow::Result<()> {
    crate::report::write_file(path, &(serde_json::to_string_pretty(settings)? + "\n"))
}
