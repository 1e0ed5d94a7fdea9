//! What the Lambda tests share: moto's server (SQS and Secrets Manager) per
//! test, and a Secrets Manager client for it (from the workspace's testkit).

pub use testkit::moto;
#[allow(unused_imports)] // not every test binary uses it
pub use testkit::moto::secrets_client;
