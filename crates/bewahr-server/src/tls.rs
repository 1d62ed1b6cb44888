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

/// How the serve loop treats connections.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Request headers must arrive within this (also between requests of a
    /// kept-alive HTTP/1.1 connection).
    pub header_timeout: std::time::Duration,
    /// At most this many connections at once; the next ones wait in the
    /// listen backlog (none is accepted and then starved).
    pub max_connections: usize,
    /// A connection (HTTP/1.1 or HTTP/2) with no request in flight for this
    /// long is closed gracefully.
    pub idle_timeout: std::time::Duration,
    /// On shutdown, open connections get this long to finish their requests.
    pub drain_deadline: std::time::Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: std::time::Duration::from_secs(30),
            max_connections: 4096,
            idle_timeout: std::time::Duration::from_secs(120),
            drain_deadline: std::time::Duration::from_secs(30),
        }
    }
}

/// Requests in flight on one connection and when the last one ended, so
/// that an idle connection can be told apart from a slow request.
#[derive(Default)]
struct Activity {
    in_flight: std::sync::atomic::AtomicUsize,
    last_ms: std::sync::atomic::AtomicU64,
}

impl Activity {
    fn touch(&self, epoch: std::time::Instant) {
        self.last_ms.store(
            epoch.elapsed().as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    fn idle_for(&self, epoch: std::time::Instant) -> Option<std::time::Duration> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.in_flight.load(Relaxed) > 0 {
            return None;
        }
        let now = epoch.elapsed().as_millis() as u64;
        Some(std::time::Duration::from_millis(
            now.saturating_sub(self.last_ms.load(Relaxed)),
        ))
    }
}

/// Decrements a connection's in-flight count when its response is done (or dropped).
struct InFlight(Arc<Activity>, std::time::Instant);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch(self.1);
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Serves `app` on `listener` until `shutdown` resolves: over TLS with
/// `tls`, else plain HTTP; HTTP/1.1 and HTTP/2. Slow clients are cut off
/// (headers within `header_timeout`, a TLS handshake within 30 s), idle
/// connections closed after `idle_timeout`, at most `max_connections` at
/// once. On shutdown the listener closes, every connection is asked to
/// finish (graceful shutdown: HTTP/2 GOAWAY, HTTP/1.1 after the current
/// response) and the function returns once all are done or after
/// `drain_deadline`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<rustls::ServerConfig>,
    opts: ServeOptions,
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
        .header_read_timeout(opts.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        // a peer that stops answering pings is gone
        .keep_alive_interval(Some(std::time::Duration::from_secs(30)))
        .keep_alive_timeout(std::time::Duration::from_secs(20))
        .max_concurrent_streams(256);
    let builder = Arc::new(builder);
    let max = opts.max_connections.max(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let epoch = std::time::Instant::now();
    tokio::pin!(shutdown);
    loop {
        // a free slot first: beyond the cap, clients wait in the backlog
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
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
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let builder = builder.clone();
        let mut stop = stop_rx.clone();
        let idle_timeout = opts.idle_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let activity = Arc::new(Activity::default());
            activity.touch(epoch);
            let svc = |chain: Option<ClientChain>, activity: Arc<Activity>| {
                hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    if let Some(c) = &chain {
                        req.extensions_mut().insert(c.clone());
                    }
                    // the client's address: failed authentications are limited per address
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    activity
                        .in_flight
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let guard = InFlight(activity.clone(), epoch);
                    let fut = app.clone().oneshot(req.map(axum::body::Body::new));
                    async move {
                        let resp = fut.await?;
                        // the request counts as in flight until its body is sent
                        Ok::<_, std::convert::Infallible>(resp.map(|b| {
                            axum::body::Body::new(GuardedBody {
                                inner: b,
                                _guard: guard,
                            })
                        }))
                    }
                })
            };
            macro_rules! drive {
                ($conn:expr) => {{
                    let conn = $conn;
                    tokio::pin!(conn);
                    let mut tick = tokio::time::interval(
                        idle_timeout
                            .min(std::time::Duration::from_secs(5))
                            .max(std::time::Duration::from_millis(100)),
                    );
                    let mut asked = false;
                    loop {
                        tokio::select! {
                            r = conn.as_mut() => break r,
                            _ = stop.changed(), if !asked => {
                                conn.as_mut().graceful_shutdown();
                                asked = true;
                            }
                            _ = tick.tick(), if !asked => {
                                if activity.idle_for(epoch).is_some_and(|d| d >= idle_timeout) {
                                    tracing::debug!(%peer, "idle connection closed");
                                    conn.as_mut().graceful_shutdown();
                                    asked = true;
                                }
                            }
                        }
                    }
                }};
            }
            let done = match acceptor {
                None => drive!(builder.serve_connection_with_upgrades(
                    TokioIo::new(tcp),
                    svc(None, activity.clone())
                )),
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
                    drive!(builder.serve_connection_with_upgrades(
                        TokioIo::new(tls),
                        svc(chain, activity.clone())
                    ))
                }
            };
            if let Err(e) = done {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = max - slots.available_permits();
    if open > 0 {
        tracing::info!(connections = open, "draining connections");
    }
    let drained = tokio::time::timeout(opts.drain_deadline, slots.acquire_many(max as u32))
        .await
        .is_ok();
    if !drained {
        let left = max - slots.available_permits();
        tracing::warn!(
            connections = left,
            "connections still open after the drain deadline; closing them"
        );
    }
    Ok(())
}

/// A response body that keeps its request counted as in flight until it
/// has been sent (or dropped).
struct GuardedBody {
    inner: axum::body::Body,
    _guard: InFlight,
}

impl http_body::Body for GuardedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.inner)
    }
    fn size_hint(&self) -> http_body::SizeHint {
        http_body::Body::size_hint(&self.inner)
    }
}
