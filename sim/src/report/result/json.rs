//! A result as JSON: written (to a file, standard output, or beside a
//! Markdown summary), read back refusing another schema, and the JSON
//! Schema `results.schema.json` holds. Apart from the value (the parent):
//! this is the one place the schema's version is enforced.

use std::path::Path;

use super::{RunResult, SCHEMA};

impl RunResult {
    pub fn to_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }

    /// Writes the JSON to `path`, or to standard output for `-`.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        match path.as_os_str() == "-" {
            true => {
                print!("{}", self.to_json()?);
                Ok(())
            }
            false => crate::report::write_file(path, &self.to_json()?),
        }
    }

    /// Writes the JSON (to `json`, or for `-` to `stdout`, the real standard
    /// output [`crate::console::stdout_to_stderr`] kept) and the Markdown
    /// summary, as asked.
    pub fn emit(
        &self,
        json: Option<&Path>,
        stdout: Option<std::fs::File>,
        summary: Option<&Path>,
    ) -> anyhow::Result<()> {
        use std::io::Write as _;
        match (json, stdout) {
            (Some(_), Some(mut out)) => {
                std::io::stdout().flush()?;
                out.write_all(self.to_json()?.as_bytes())?;
            }
            (Some(path), None) => self.write(path)?,
            (None, _) => {}
        }
        if let Some(path) = summary {
            crate::report::write_file(path, &crate::report::markdown::render(self))?;
        }
        Ok(())
    }

    /// Reads a result back, refusing another schema.
    pub fn read(path: &Path) -> anyhow::Result<RunResult> {
        use anyhow::Context as _;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let schema = value
            .get("schema")
            .and_then(|s| s.as_str())
            .unwrap_or("none");
        if schema != SCHEMA {
            anyhow::bail!(
                "{} has schema {schema:?}; this sim reads {SCHEMA:?}",
                path.display()
            );
        }
        serde_json::from_value(value)
            .with_context(|| format!("{} does not follow {SCHEMA}", path.display()))
    }
}

/// The JSON Schema of a result, as `results.schema.json` holds it.
pub fn schema() -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&schemars::schema_for!(RunResult))? + "\n")
}
