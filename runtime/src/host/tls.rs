//! Certificate authorities the operator gives a grant: a Kubernetes cluster
//! or an internal service whose certificate is signed by a private CA, not
//! a public root. A request allowed by such a grant trusts that CA and
//! nothing else; other requests trust the public roots as before.

use crate::host::limits;
use http_body_util::BodyExt;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// A CA bundle could not be used.
#[derive(Debug, thiserror::Error)]
#[error("CA bundle {path}: {reason}")]
pub struct CaError {
    path: PathBuf,
    reason: String,
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
        let fail = |reason: String| CaError {
            path: path.to_path_buf(),
            reason,
        };
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|error| fail(format!("cannot read it: {error}")))?
            .collect::<Result<_, _>>()
            .map_err(|error| fail(format!("it is not PEM: {error}")))?;
        if certificates.is_empty() {
            return Err(fail(
                "it holds no certificate (expected -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        let mut roots = rustls::RootCertStore::empty();
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|error| fail(format!("a certificate is not usable: {error}")))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| fail(error.to_string()))?
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
}

/// Sends one HTTPS request trusting only `ca`, with the same timeouts the
/// default sender applies.
pub async fn send(
    mut request: http::Request<WasiBody>,
    options: RequestOptions,
    ca: &TrustedCa,
) -> Result<http::Response<WasiBody>, HttpError> {
    let uri = request.uri().clone();
    let host = uri.host().ok_or(HttpError::HttpRequestUriInvalid)?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(443);
    let connect_timeout = options
        .connect_timeout
        .unwrap_or(limits::HTTP_CONNECT_TIMEOUT);
    let first_byte_timeout = options
        .first_byte_timeout
        .unwrap_or(Duration::from_secs(600));
    let stream = tokio::time::timeout(
        connect_timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)?
    .map_err(HttpError::Connect)?;
    let name = match host.parse::<std::net::IpAddr>() {
        Ok(address) => ServerName::from(address),
        Err(_) => {
            ServerName::try_from(host.clone()).map_err(|_| HttpError::HttpRequestUriInvalid)?
        }
    };
    let connector = tokio_rustls::TlsConnector::from(ca.config.clone());
    let stream = tokio::time::timeout(connect_timeout, connector.connect(name, stream))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(|_| HttpError::TlsCertificateError)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(HttpError::from)?;
    // The connection is driven on its own until the response is read.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // Origin form on the wire: the authority goes in the Host header.
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(uri.path_and_query().map_or("/", |p| p.as_str()))
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)?
        .map_err(HttpError::from)?;
    Ok(response.map(|body| body.map_err(HttpError::from).boxed_unsync()))
}
