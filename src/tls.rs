//! TLS termination with rustls (ring), and client certificates as the
//! alternative to bearer tokens (mutual TLS).
//!
//! The handshake asks for a client certificate but does not require one,
//! and accepts any whose key the client proves it holds; the request layer
//! then judges it (`api::auth`): a path to `server.client_ca` valid now, and
//! the subject's O (the tenant) and OU (the role) name the principal. So a
//! certificate from an unknown CA gets a 401 like a bad token, and is in the
//! audit trail, instead of a bare handshake failure.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// The client certificate chain of a TLS connection (leaf first), put into
/// each request's extensions.
#[derive(Clone, Debug)]
pub struct ClientChain(pub Arc<Vec<CertificateDer<'static>>>);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {detail}")]
    File { path: String, detail: String },
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// Reads every certificate in a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no certificate in the file"));
    }
    Ok(certs)
}

#[derive(Debug)]
struct AskForClientCert {
    hints: Vec<DistinguishedName>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AskForClientCert {
    fn offer_client_auth(&self) -> bool {
        !self.hints.is_empty()
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // judged per request, against server.client_ca (see the module docs)
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The server's rustls configuration: its certificate chain and key, and
/// the client CA's names as hints (no client CA: no client certificates).
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&[x509_cert::Certificate]>,
) -> Result<rustls::ServerConfig, TlsError> {
    let chain = load_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let hints = client_ca
        .unwrap_or(&[])
        .iter()
        .filter_map(|c| der::Encode::to_der(&c.tbs_certificate.subject).ok())
        .map(DistinguishedName::from)
        .collect();
    let verifier = Arc::new(AskForClientCert {
        hints,
        algorithms: provider.signature_verification_algorithms,
    });
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Serves `app` on `listener` until `shutdown` resolves: over TLS with
/// `tls`, else plain HTTP. Request headers must arrive within
/// `header_timeout` and a TLS handshake within 30 s (slow clients are cut
/// off); HTTP/1.1 and HTTP/2.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<rustls::ServerConfig>,
    header_timeout: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::ServiceExt;

    let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // e.g. too many open files: wait a little instead of spinning
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let svc = |chain: Option<ClientChain>| {
                hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    if let Some(c) = &chain {
                        req.extensions_mut().insert(c.clone());
                    }
                    app.clone().oneshot(req.map(axum::body::Body::new))
                })
            };
            let done = match acceptor {
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(tcp), svc(None))
                        .await
                }
                Some(acceptor) => {
                    // a client that does not finish its handshake in time is dropped
                    let tls = match tokio::time::timeout(
                        std::time::Duration::from_secs(30),
                        acceptor.accept(tcp),
                    )
                    .await
                    {
                        Ok(Ok(t)) => t,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let chain = tls.get_ref().1.peer_certificates().map(|c| {
                        ClientChain(Arc::new(c.iter().map(|c| c.clone().into_owned()).collect()))
                    });
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(tls), svc(chain))
                        .await
                }
            };
            if let Err(e) = done {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
