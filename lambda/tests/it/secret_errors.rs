//! Secrets Manager's failures, classified where they are born: a service
//! that cannot be reached is transient (Lambda's next init may succeed), a
//! secret that is missing or holds no password is not. Against moto's
//! Secrets Manager (`scripts/test.sh` installs it).

use crate::common;

use orderflow_lambda::InitError;
use orderflow_lambda::{Malformed, Secret, SecretError};

#[tokio::test]
async fn an_unreachable_service_is_transient_and_a_missing_or_malformed_secret_is_not() {
    let moto = common::moto::moto().await;
    let sm = common::secrets_client(&moto.url);

    let missing = Secret::new(sm.clone(), "orderflow/no-such-secret");
    let e = missing.read().await.unwrap_err();
    assert!(matches!(e, SecretError::Refused { .. }), "{e:?}");
    assert!(!e.is_transient());
    assert!(e.to_string().contains("no-such-secret"), "{e}");

    sm.create_secret()
        .name("orderflow/not-json")
        .secret_string("hunter2")
        .send()
        .await
        .unwrap();
    let e = Secret::new(sm.clone(), "orderflow/not-json")
        .credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SecretError::Malformed {
                problem: Malformed::NotJson(_),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!InitError::from(e).is_transient());

    // A port nothing listens on: no answer at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = Secret::new(common::secrets_client(&url), "orderflow/any")
        .read()
        .await
        .unwrap_err();
    assert!(matches!(e, SecretError::Unavailable { .. }), "{e:?}");
    let start = InitError::from(e);
    assert!(start.is_transient(), "{start}");
}
