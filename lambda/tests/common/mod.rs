//! What the Lambda tests share: moto's server (SQS and Secrets Manager) per
//! test, and a Secrets Manager client for it (from the workspace's testkit).

pub use testkit::moto;
pub use testkit::moto::secrets_client;
