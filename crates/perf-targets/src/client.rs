//! The HTTP client under [`HttpTarget`](crate::HttpTarget): hyper connections and a pool of
//! our own.
//!
//! An HTTP/1.1 connection serves one request at a time, so the pool is a stack of idle
//! connections behind a mutex: a request takes one (or dials a new one) and gives it back
//! once its response has been read to the end. A response dropped half-read (an error, an
//! oversize body, a timeout) closes its connection, which can carry nothing else. HTTP/2
//! multiplexes: every request shares one connection, dialled again when it closes.
//!
//! Why not reqwest: against one nginx on loopback it cost 1.5–2.1 times the CPU per request
//! of this client (docs/performance.md, "reqwest against hyper"); it parses the URL twice
//! per request and runs each one through retry and redirect layers, none of which a
//! measuring client wants. TLS is rustls (ring, Mozilla's roots), as before.

use std::future::poll_fn;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::header::{HeaderMap, HeaderValue, HOST};
use hyper::{Method, Request, Response, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tower_service::Service;

use crate::spec::HttpVersion;

/// A request body.
pub(crate) type Body = Full<Bytes>;

/// Why a request got no response.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection: refused, unresolvable, TLS handshake failed, connect timeout.
    Connect(String),
    /// Connected, but the exchange failed before a response head arrived.
    Request(hyper::Error),
}

/// Which protocol the pool speaks, decided by the first connection when the URL is
/// `https://` and the version `auto` (ALPN).
const UNDECIDED: u8 = 0;
const H1: u8 = 1;
const H2: u8 = 2;

/// What every request of a target repeats.
pub(crate) struct RequestParts {
    pub(crate) method: Method,
    /// `scheme://host[:port]`: what the connector dials, and HTTP/2's request URI base.
    pub(crate) origin: Uri,
    /// Path and query (HTTP/1.1 sends the origin form, with a `host` header).
    pub(crate) path: Uri,
    /// The absolute URI (HTTP/2 sends it as `:scheme`, `:authority` and `:path`).
    pub(crate) absolute: Uri,
    /// Headers of every request, without `host`.
    pub(crate) headers: HeaderMap,
    /// The `host` header of HTTP/1.1 requests.
    pub(crate) host: HeaderValue,
}

/// Connections to one origin.
pub(crate) struct Client {
    connector: HttpsConnector<HttpConnector>,
    parts: RequestParts,
    /// HTTP/1.1 headers: `parts.headers` plus `host` (unless the user set one).
    h1_headers: HeaderMap,
    version: HttpVersion,
    mode: AtomicU8,
    idle: Mutex<Vec<http1::SendRequest<Body>>>,
    max_idle: usize,
    h2: Mutex<Option<http2::SendRequest<Body>>>,
    /// Held while dialling the shared HTTP/2 connection, so concurrent requests wait for
    /// one connection instead of each dialling its own.
    h2_dialing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("origin", &self.parts.origin)
            .field("version", &self.version)
            .field("idle", &lock(&self.idle).len())
            .finish_non_exhaustive()
    }
}

/// A connection lent to one request. Give an HTTP/1.1 connection back with
/// [`Lease::release`] once the response has been read to its end; dropping the lease
/// closes it.
pub(crate) struct Lease<'a> {
    client: &'a Client,
    conn: Option<http1::SendRequest<Body>>,
}

impl Lease<'_> {
    /// Returns the connection to the pool (HTTP/1.1; HTTP/2's is shared anyway).
    pub(crate) fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = lock(&self.client.idle);
            if idle.len() < self.client.max_idle {
                idle.push(conn);
            }
        }
    }
}

enum Dialed {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

impl Client {
    /// A client for `parts.origin`; nothing is dialled until the first request.
    /// `extra_roots` are trusted besides Mozilla's roots.
    pub(crate) fn new(
        parts: RequestParts,
        version: HttpVersion,
        connect_timeout: Duration,
        max_idle: usize,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Result<Self, rustls::Error> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in extra_roots {
            roots.add(cert)?;
        }
        let tls =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let builder = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let connector = match version {
            HttpVersion::Http1 => builder.enable_http1().wrap_connector(http),
            HttpVersion::Http2 => builder.enable_http2().wrap_connector(http),
            HttpVersion::Auto => builder.enable_all_versions().wrap_connector(http),
        };
        let https = parts.origin.scheme_str() == Some("https");
        let mode = match version {
            HttpVersion::Http1 => H1,
            HttpVersion::Http2 => H2,
            HttpVersion::Auto if https => UNDECIDED,
            HttpVersion::Auto => H1,
        };
        let mut h1_headers = parts.headers.clone();
        h1_headers.entry(HOST).or_insert_with(|| parts.host.clone());
        Ok(Self {
            connector,
            parts,
            h1_headers,
            version,
            mode: AtomicU8::new(mode),
            idle: Mutex::new(Vec::new()),
            max_idle,
            h2: Mutex::new(None),
            h2_dialing: tokio::sync::Mutex::new(()),
        })
    }

    fn request(&self, h2: bool, body: Bytes) -> Request<Body> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = self.parts.method.clone();
        if h2 {
            *request.uri_mut() = self.parts.absolute.clone();
            *request.headers_mut() = self.parts.headers.clone();
        } else {
            *request.uri_mut() = self.parts.path.clone();
            *request.headers_mut() = self.h1_headers.clone();
        }
        request
    }

    /// Sends one request; the response's body is still to be read.
    pub(crate) async fn send(
        &self,
        body: Bytes,
    ) -> Result<(Response<Incoming>, Lease<'_>), SendError> {
        if self.mode.load(Ordering::Acquire) == H2 {
            return self.send_h2(body).await;
        }
        let mut request = self.request(false, body);
        loop {
            let (mut conn, reused) = match self.ready_idle().await {
                Some(conn) => (conn, true),
                None => match self.dial().await? {
                    Dialed::H1(conn) => (conn, false),
                    Dialed::H2(conn) => {
                        // `auto` over TLS, and the server chose HTTP/2.
                        let body = match request.into_body().collect().await {
                            Ok(collected) => collected.to_bytes(),
                            Err(never) => match never {},
                        };
                        return self.send_on_h2(conn, body).await;
                    }
                },
            };
            match conn.try_send_request(request).await {
                Ok(response) => {
                    let lease = Lease {
                        client: self,
                        conn: Some(conn),
                    };
                    return Ok((response, lease));
                }
                Err(mut e) => match e.take_message() {
                    // An idle connection the server had closed: the request never left,
                    // so it goes out on another connection. Not a retry of a sent request.
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(SendError::Request(e.into_error())),
                },
            }
        }
    }

    /// An idle HTTP/1.1 connection that is ready for a request, if there is one.
    async fn ready_idle(&self) -> Option<http1::SendRequest<Body>> {
        loop {
            let mut conn = lock(&self.idle).pop()?;
            // Ready at once unless the previous response's end is still being processed;
            // an error means the connection has closed.
            if conn.ready().await.is_ok() {
                return Some(conn);
            }
        }
    }

    async fn send_h2(&self, body: Bytes) -> Result<(Response<Incoming>, Lease<'_>), SendError> {
        let conn = self.h2_conn().await?;
        self.send_on_h2(conn, body).await
    }

    async fn send_on_h2(
        &self,
        mut conn: http2::SendRequest<Body>,
        body: Bytes,
    ) -> Result<(Response<Incoming>, Lease<'_>), SendError> {
        let response = conn
            .send_request(self.request(true, body))
            .await
            .map_err(SendError::Request)?;
        Ok((
            response,
            Lease {
                client: self,
                conn: None,
            },
        ))
    }

    /// The shared HTTP/2 connection, dialled when there is none or it has closed.
    async fn h2_conn(&self) -> Result<http2::SendRequest<Body>, SendError> {
        if let Some(conn) = self.open_h2() {
            return Ok(conn);
        }
        let _dialing = self.h2_dialing.lock().await;
        if let Some(conn) = self.open_h2() {
            return Ok(conn);
        }
        match self.dial().await? {
            Dialed::H2(conn) => Ok(conn),
            Dialed::H1(_) => Err(SendError::Connect(
                "the server no longer offers HTTP/2 (ALPN chose HTTP/1.1)".to_owned(),
            )),
        }
    }

    fn open_h2(&self) -> Option<http2::SendRequest<Body>> {
        lock(&self.h2)
            .as_ref()
            .filter(|conn| !conn.is_closed())
            .cloned()
    }

    async fn dial(&self) -> Result<Dialed, SendError> {
        let mut connector = self.connector.clone();
        poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|e| SendError::Connect(error_chain(e.as_ref())))?;
        let io = connector
            .call(self.parts.origin.clone())
            .await
            .map_err(|e| SendError::Connect(error_chain(e.as_ref())))?;
        let h2 = match self.version {
            HttpVersion::Http1 => false,
            HttpVersion::Http2 => true,
            HttpVersion::Auto => io.connected().is_negotiated_h2(),
        };
        let handshake_failed = |e: hyper::Error| {
            SendError::Connect(format!("HTTP handshake failed: {}", error_chain(&e)))
        };
        if h2 {
            let (conn, driver) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(handshake_failed)?;
            tokio::spawn(async move {
                // Its end (or error) shows in the requests that were using it.
                let _ = driver.await;
            });
            *lock(&self.h2) = Some(conn.clone());
            self.mode.store(H2, Ordering::Release);
            Ok(Dialed::H2(conn))
        } else {
            let (conn, driver) = http1::handshake(io).await.map_err(handshake_failed)?;
            tokio::spawn(async move {
                let _ = driver.await;
            });
            self.mode.store(H1, Ordering::Release);
            Ok(Dialed::H1(conn))
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values (connection handles) stay valid whatever panicked.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `e`'s message followed by its sources' (where they add something).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
