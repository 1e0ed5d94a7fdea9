//! TLS to the database, as the Lambda functions use it against RDS
//! (`DB_SSL_MODE=verify-identity`, `DB_SSL_CA`), against a MariaDB server
//! this test starts with `require_secure_transport` and a certificate
//! signed by a CA it generates (openssl): the store connects when it is
//! given that CA, and is refused when it is given another CA, or when it
//! tries without TLS. Needs `mariadb-install-db`, `mariadbd` and `openssl`
//! on the PATH (the machine's MariaDB provides the first two); fails, never
//! skips, without them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use engine::config::{Config, SslMode};
use engine::store::{MySqlStore, OrderStore, StoreOptions};
use sqlx::mysql::MySqlConnectOptions;

/// A MariaDB server of the test's own, TLS required, killed and removed
/// when dropped.
struct TlsServer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("this test needs `{program}` on the PATH: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA: `<name>.pem` and `<name>.key` in `dir`.
fn make_ca(dir: &Path, name: &str) {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    run(
        dir,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-subj",
            "/CN=orderflow test CA",
        ],
    );
}

impl TlsServer {
    async fn start() -> TlsServer {
        let dir = std::env::temp_dir().join(format!(
            "orderflow-tls-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        make_ca(&dir, "ca");
        // Another CA with the very same name: only its key differs.
        make_ca(&dir, "other");
        run(
            &dir,
            "openssl",
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(
            &dir,
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                "server.pem",
                "-extfile",
                "ext.cnf",
            ],
        );
        let data = dir.join("data");
        run(
            &dir,
            "mariadb-install-db",
            &[
                "--no-defaults",
                &format!("--datadir={}", data.display()),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--user=root",
            ],
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let arg = |name: &str, file: &str| format!("--{name}={}", dir.join(file).display());
        let child = Command::new("mariadbd")
            .args([
                "--no-defaults".to_owned(),
                format!("--datadir={}", data.display()),
                format!("--port={port}"),
                "--bind-address=127.0.0.1".to_owned(),
                arg("socket", "sock"),
                arg("pid-file", "pid"),
                arg("log-error", "error.log"),
                "--user=root".to_owned(),
                arg("ssl-ca", "ca.pem"),
                arg("ssl-cert", "server.pem"),
                arg("ssl-key", "server.key"),
                "--require-secure-transport=ON".to_owned(),
                "--skip-log-bin".to_owned(),
                "--innodb-buffer-pool-size=16M".to_owned(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("this test needs `mariadbd` on the PATH: {e}"));
        let mut server = TlsServer { child, dir, port };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(server.dir.join("error.log")).unwrap_or_default();
                panic!("mariadbd exited ({status}): {log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("mariadbd did not listen on {port}");
    }

    /// The engine's configuration for this server, as a function's.
    fn config(&self, mode: SslMode, ca: &str) -> Config {
        Config {
            // No password: the URL form sends none (DB_PASSWORD's empty
            // default would be sent as an empty one).
            database_url: Some(format!(
                "mysql://root@127.0.0.1:{}/orderflow_tls",
                self.port
            )),
            db_ssl_mode: Some(mode),
            db_ssl_ca: Some(self.dir.join(ca).display().to_string()),
            ..Config::default()
        }
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .into()
}

async fn connect(config: &Config) -> Result<MySqlStore, engine::store::StoreError> {
    let options: MySqlConnectOptions = config.mysql().unwrap().unwrap();
    StoreOptions::mysql(options).pool_size(1).open_mysql().await
}

#[tokio::test]
async fn the_store_verifies_the_servers_certificate_and_name_and_never_goes_plaintext() {
    let server = TlsServer::start().await;

    // The server's own CA, the name checked: accepted, over TLS.
    let store = connect(&server.config(SslMode::VerifyIdentity, "ca.pem"))
        .await
        .expect("a certificate from the given CA, for 127.0.0.1, is accepted");
    store.ping().await.unwrap();
    let (_, cipher): (String, String) = sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(!cipher.is_empty(), "the session is encrypted");

    // A CA with the same name but another key: refused.
    let refused = connect(&server.config(SslMode::VerifyIdentity, "other.pem")).await;
    let err = refused
        .err()
        .expect("a certificate from another CA is refused");
    assert!(
        err.to_string().to_lowercase().contains("certificate")
            || err.to_string().to_lowercase().contains("tls"),
        "refused for the certificate: {err}"
    );
    let refused = connect(&server.config(SslMode::VerifyCa, "other.pem")).await;
    assert!(refused.is_err(), "verify-ca refuses it too");

    // Without TLS: the server (require_secure_transport) refuses.
    let plain = connect(&server.config(SslMode::Disabled, "ca.pem")).await;
    assert!(
        plain.is_err(),
        "a plaintext connection is refused by the server"
    );

    // The RDS bundle built in does not vouch for this server.
    let mut rds = server.config(SslMode::VerifyIdentity, "ca.pem");
    rds.db_ssl_ca = Some("rds".into());
    assert!(
        connect(&rds).await.is_err(),
        "the RDS CAs do not sign a local certificate"
    );
}

#[test]
fn a_missing_or_empty_ca_file_is_a_clear_error() {
    let config = Config {
        db_host: Some("127.0.0.1".into()),
        db_ssl_mode: Some(SslMode::VerifyIdentity),
        db_ssl_ca: Some("/nonexistent/ca.pem".into()),
        ..Config::default()
    };
    let err = config.mysql().unwrap_err().to_string();
    assert!(
        err.contains("DB_SSL_CA: cannot read /nonexistent/ca.pem"),
        "{err}"
    );
    let empty = std::env::temp_dir().join(format!("orderflow-empty-{}.pem", std::process::id()));
    std::fs::write(&empty, "not a certificate").unwrap();
    let config = Config {
        db_ssl_ca: Some(empty.display().to_string()),
        ..config
    };
    let err = config.mysql().unwrap_err().to_string();
    assert!(err.contains("holds no PEM certificate"), "{err}");
    let _ = std::fs::remove_file(empty);
}
