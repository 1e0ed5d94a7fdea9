//! The Lambda functions' integration tests, as one binary: the handlers
//! over real SQS semantics (moto), the migration step and the password
//! rotation against the MariaDB server, the roles' policies, the secrets'
//! errors.
//!
//! A test that walks a scenario end to end reads as one story, so the
//! function-length lint, which holds for the code, is off here.
#![allow(clippy::too_many_lines)]

#[macro_use]
mod common;
mod handlers;
mod queue_roles;
mod rotation;
mod secret_errors;
