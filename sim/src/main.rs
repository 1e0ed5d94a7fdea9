//! `sim`: parses the command line and hands it to the library ([`sim::cli`]).

use std::process::ExitCode;

use clap::Parser;

// The pipeline allocates for every request, event and row; mimalloc makes
// that cheaper than glibc's allocator (BENCHMARKS.md has the A/B run).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `.env` fills in what the environment does not set; a missing file is fine.
    let _ = dotenvy::dotenv();
    sim::cli::run(sim::cli::Cli::parse())
}
