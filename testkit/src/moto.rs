//! A moto server (a local SQS and Secrets Manager) per test, and clients
//! for it. The server comes from `pip install "moto[server]"`;
//! `scripts/test.sh` installs it into the project's virtualenv. Without it
//! the tests that need it fail and say so.
//!
//! [`moto_with_iam`] starts one that checks every request against IAM, as
//! AWS does: each function's code runs under its own user, whose policy is
//! the one the Pulumi program gives the function (`deploy/iam-policies.json`,
//! exported by the program's tests), so an action the code calls and the
//! policy lacks fails the test. moto checks SQS calls against the queue's
//! ARN, and Secrets Manager's against `*` only (it does not resolve the
//! secret), so a secret's statements are checked here for their actions, and
//! the Pulumi tests check their resources.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};

/// A moto server for one test, killed when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return p.into();
    }
    let venv = std::env::var("ORDERFLOW_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let cache = std::env::var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|_| {
                    PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache")
                });
            cache.join("orderflow/venv")
        });
    let in_venv = venv.join("bin/moto_server");
    if in_venv.exists() {
        in_venv
    } else {
        "moto_server".into()
    }
}

pub async fn moto() -> Moto {
    start(None).await
}

/// An access key of a user in moto's IAM.
#[derive(Debug, Clone)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

/// A moto server that checks every request against IAM, with a user for
/// each of `users` (its name and its policy document) and an `admin` user
/// allowed everything (for the test's own setup); answers their keys by
/// name. Every request but the users' making is checked: moto skips the
/// check for its first requests, exactly those.
pub async fn moto_with_iam(
    users: &[(&str, serde_json::Value)],
) -> (Moto, std::collections::HashMap<String, AccessKey>) {
    let admin = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }],
    });
    let all: Vec<(&str, serde_json::Value)> = std::iter::once(("admin", admin))
        .chain(users.iter().cloned())
        .collect();
    // Three requests a user: CreateUser, PutUserPolicy, CreateAccessKey.
    let moto = start(Some(3 * all.len())).await;
    let http = orderflow_client::http();
    let mut keys = std::collections::HashMap::new();
    for (name, policy) in &all {
        let call = |params: Vec<(&str, String)>| {
            let request = http
                .post(&moto.url)
                .header(
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request",
                )
                .form(&params);
            async move {
                let answer = request.send().await.expect("moto's IAM answers");
                let status = answer.status();
                let text = answer.text().await.unwrap_or_default();
                assert!(status.is_success(), "moto's IAM: {status} {text}");
                text
            }
        };
        let user = || ("UserName", name.to_string());
        let version = || ("Version", "2010-05-08".to_string());
        call(vec![("Action", "CreateUser".into()), user(), version()]).await;
        call(vec![
            ("Action", "PutUserPolicy".into()),
            user(),
            ("PolicyName", format!("{name}-policy")),
            ("PolicyDocument", policy.to_string()),
            version(),
        ])
        .await;
        let created = call(vec![
            ("Action", "CreateAccessKey".into()),
            user(),
            version(),
        ])
        .await;
        let field = |tag: &str| {
            let open = format!("<{tag}>");
            let start = created.find(&open).map(|i| i + open.len());
            let end = created.find(&format!("</{tag}>"));
            match (start, end) {
                (Some(s), Some(e)) => created[s..e].to_owned(),
                _ => panic!("no {tag} in moto's answer: {created}"),
            }
        };
        keys.insert(
            name.to_string(),
            AccessKey {
                id: field("AccessKeyId"),
                secret: field("SecretAccessKey"),
            },
        );
    }
    (moto, keys)
}

/// The Pulumi program's policy for `function` (`deploy/iam-policies.json`),
/// its placeholders filled from `arns` (`orders` -> a queue's ARN); a
/// Secrets Manager statement's resources become `*`, which is all moto
/// checks them against.
pub fn deployed_policy(function: &str, arns: &[(&str, &str)]) -> serde_json::Value {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/iam-policies.json");
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut text = arns.iter().fold(text, |t, (name, arn)| {
        t.replace(&format!("${{{name}}}"), arn)
    });
    // What the test does not name (log groups, the VPC): an ARN of its own,
    // which no request of the test reaches.
    while let Some(start) = text.find("${") {
        let Some(len) = text[start..].find('}') else {
            break;
        };
        let name = text[start + 2..start + len].to_owned();
        text.replace_range(
            start..=start + len,
            &format!("arn:aws:logs:us-east-1:123456789012:log-group:{name}"),
        );
    }
    let all: serde_json::Value = serde_json::from_str(&text).expect("iam-policies.json is JSON");
    let mut policy = all
        .get(function)
        .unwrap_or_else(|| panic!("no policy for {function} in {file}"))
        .clone();
    for statement in policy["Statement"].as_array_mut().into_iter().flatten() {
        // AWS authorizes SQS's batch calls by their single action
        // (SendMessageBatch by sqs:SendMessage); moto asks for the batch
        // call's own name, so it is added beside each.
        if let Some(actions) = statement["Action"].as_array_mut() {
            let batches: Vec<serde_json::Value> = actions
                .iter()
                .filter_map(|a| a.as_str())
                .filter(|a| {
                    matches!(
                        *a,
                        "sqs:SendMessage" | "sqs:DeleteMessage" | "sqs:ChangeMessageVisibility"
                    )
                })
                .map(|a| format!("{a}Batch").into())
                .collect();
            actions.extend(batches);
        }
        let secrets = statement["Action"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&statement["Action"]))
            .filter_map(|a| a.as_str())
            .any(|a| a.starts_with("secretsmanager:"));
        if secrets {
            statement["Resource"] = "*".into();
        }
    }
    policy
}

impl AccessKey {
    /// Makes the code that follows run as this key's user: the SDK reads
    /// the keys from the process's environment each time a client is made
    /// (so only for a test binary of one test).
    pub fn act_as(&self) {
        std::env::set_var("AWS_ACCESS_KEY_ID", &self.id);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", &self.secret);
    }
}

/// A queue's ARN in moto's default account.
pub fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:us-east-1:123456789012:{name}")
}

async fn start(unchecked_requests: Option<usize>) -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = moto_binary();
    let mut command = Command::new(&bin);
    if let Some(n) = unchecked_requests {
        command.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
    }
    let child = command
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "the SQS tests need moto's server ({} : {e}); run ./scripts/test.sh, which installs it, \
                 or `pip install \"moto[server]\"` and set MOTO_SERVER",
                bin.display()
            )
        });
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto_server did not start on port {port}");
}

pub fn client(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// A Secrets Manager client for the moto server at `endpoint`.
pub fn secrets_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    secrets_client_as(
        endpoint,
        &AccessKey {
            id: "test".into(),
            secret: "test".into(),
        },
    )
}

/// A Secrets Manager client for the moto server at `endpoint`, signing
/// with `key`.
pub fn secrets_client_as(endpoint: &str, key: &AccessKey) -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(&key.id, &key.secret, None, None, "tests"))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// An SQS client for the moto server at `endpoint`, signing with `key`.
pub fn sqs_client_as(endpoint: &str, key: &AccessKey) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(&key.id, &key.secret, None, None, "tests"))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}
