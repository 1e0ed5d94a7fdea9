//! One module per subcommand, each with its arguments (clap's `Args`) and
//! the function `main` calls. What they share lives beside this folder:
//! the start path of `run` and `serve` (`pipeline`), the load and the
//! scenarios a run sends, the checks of what it left (`gather`,
//! `invariants`, `timeline`), the report (`report`), the simulated AWS
//! (`lambda`), the network between the pools and the database (`netem`).

pub mod bench;
pub mod calibrate;
pub mod check;
pub mod collect;
pub mod compare;
pub mod deployment;
pub mod dlq;
pub mod docs;
pub mod help;
pub mod load;
pub mod migrate;
pub mod model;
pub mod plan;
pub mod rehearse;
pub mod run;
pub mod serve;
