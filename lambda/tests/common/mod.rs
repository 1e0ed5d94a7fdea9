//! What the Lambda tests share: moto's server (SQS and Secrets Manager) per
//! test, and a Secrets Manager client for it.

#![allow(dead_code)]

#[path = "../../../engine/tests/common/moto.rs"]
pub mod moto;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

pub fn secrets_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}
