//! Embeds `db/migrations` in the engine: one entry a migration, read by
//! sqlx's own rules (`<version>_<description>.sql`, `.up.sql` and
//! `.down.sql` for reversible ones, in version order), as sqlx's
//! `migrate!` would, without sqlx's macros, whose build compiles sqlx and
//! its MySQL driver a second time for the compiler.
//! `store::mysql::MIGRATOR` makes them sqlx migrations; a test holds them
//! to sqlx's reading of the folder.

use std::error::Error;
use std::path::PathBuf;
use std::{env, fs};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../db/migrations");
    // A migration added or removed; each file's own changes are tracked
    // through `include_str!`.
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut found = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((version, rest)) = name.split_once('_') else {
            continue;
        };
        if !rest.ends_with(".sql") {
            continue;
        }
        let version: i64 = version.parse().map_err(|_| {
            format!(
                "db/migrations/{name}: expected an integer version prefix (e.g. `0004_foo.sql`)"
            )
        })?;
        let (kind, suffix) = if rest.ends_with(".up.sql") {
            ("ReversibleUp", ".up.sql")
        } else if rest.ends_with(".down.sql") {
            ("ReversibleDown", ".down.sql")
        } else {
            ("Simple", ".sql")
        };
        let description = rest.trim_end_matches(suffix).replace('_', " ");
        let path = fs::canonicalize(entry.path())?;
        let path = path
            .to_str()
            .ok_or_else(|| format!("db/migrations/{name}: the path is not UTF-8"))?
            .to_owned();
        found.push((version, description, kind, path));
    }
    found.sort_by_key(|m| m.0);
    let mut out = String::from("&[\n");
    for (version, description, kind, path) in &found {
        out.push_str(&format!(
            "    ({version}, {description:?}, sqlx::migrate::MigrationType::{kind}, include_str!({path:?})),\n"
        ));
    }
    out.push_str("]\n");
    fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("migrations.rs"),
        out,
    )?;
    Ok(())
}
