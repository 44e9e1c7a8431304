//! Whom HTTPS requests trust: the public roots, or the certificate
//! authorities the operator gives a grant (a Kubernetes cluster or an
//! internal service whose certificate a private CA signed). A request
//! allowed by such a grant trusts that CA and nothing else.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A CA bundle could not be used.
#[derive(Debug, thiserror::Error)]
#[error("CA bundle {}: {reason}", .path.display())]
pub struct CaError {
    path: PathBuf,
    #[source]
    reason: CaProblem,
}

/// What is wrong with a CA bundle.
#[derive(Debug, thiserror::Error)]
pub enum CaProblem {
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Unreadable(#[source] rustls::pki_types::pem::Error),
    /// The file is not PEM.
    #[error("it is not PEM: {0}")]
    NotPem(#[source] rustls::pki_types::pem::Error),
    /// The file holds no certificate.
    #[error("it holds no certificate (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    /// A certificate cannot serve as a root.
    #[error("a certificate is not usable: {0}")]
    Unusable(#[source] rustls::Error),
    /// No TLS configuration can be built on the certificates.
    #[error(transparent)]
    Tls(rustls::Error),
}

/// A grant's certificate authorities, loaded once from a PEM file.
#[derive(Clone)]
pub struct TrustedCa {
    path: PathBuf,
    config: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for TrustedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedCa")
            .field("path", &self.path)
            .finish()
    }
}

impl PartialEq for TrustedCa {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl Eq for TrustedCa {}

impl TrustedCa {
    /// Loads the certificates of a PEM file; at least one must be there.
    pub fn load(path: &Path) -> Result<Self, CaError> {
        let fail = |reason: CaProblem| CaError {
            path: path.to_path_buf(),
            reason,
        };
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|error| fail(CaProblem::Unreadable(error)))?
            .collect::<Result<_, _>>()
            .map_err(|error| fail(CaProblem::NotPem(error)))?;
        if certificates.is_empty() {
            return Err(fail(CaProblem::NoCertificate));
        }
        let mut roots = rustls::RootCertStore::empty();
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|error| fail(CaProblem::Unusable(error)))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| fail(CaProblem::Tls(error)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Self {
            path: path.to_path_buf(),
            config: Arc::new(config),
        })
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The TLS settings trusting this bundle only.
    pub(crate) fn client_config(&self) -> Arc<rustls::ClientConfig> {
        self.config.clone()
    }
}

/// TLS settings trusting the public roots (Mozilla's, as shipped in
/// `webpki-roots`), built once.
pub(crate) fn public_roots() -> Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}
