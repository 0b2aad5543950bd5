//! The HTTP server and the aggregator task feeding it.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use perf_core::event::SuiteEvent;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::state::metrics;
use crate::state::{LiveFinal, LiveState, Published};
use crate::{page, LiveError};

/// How long shutting down waits for open connections before closing them.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The live view holds at most this share (1/N) of the process's soft descriptor limit: the
/// rest stays for the run (connections to the bot, samples.jsonl, reports, the history).
const DESCRIPTOR_SHARE: u64 = 4;

/// How long the accept loop waits after a failed accept (a full descriptor table, most
/// often) before trying again, so that it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How the live server runs.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// How often the snapshot (page, `/metrics`, streams) is updated.
    pub interval: Duration,
    /// Allow an address that is not loopback (anyone who reaches it sees the run).
    pub allow_public: bool,
    /// How long [`LiveHandle::shutdown`] keeps serving the final state.
    pub linger: Duration,
    /// Connections served at once; more are answered 503 and closed. Never more than a
    /// quarter of the process's soft `RLIMIT_NOFILE` ([`LiveHandle::max_connections`]).
    pub max_connections: usize,
    /// How long a client has to send a whole request head, counted from the connection's
    /// start or the end of its previous response: an idle or slow-header client is closed.
    pub header_timeout: Duration,
    /// How long a write may wait for a client that reads nothing before it is closed (a
    /// stalled `/stream` or `/events` reader).
    pub write_timeout: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            allow_public: false,
            linger: Duration::ZERO,
            max_connections: 64,
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Starts the live view of a run.
#[derive(Debug)]
pub struct LiveServer;

impl LiveServer {
    /// Binds `addr` and serves the live view until [`LiveHandle::shutdown`]. Suite events
    /// sent on the returned sender (give it to `perf_suite::run_suite`) are folded into
    /// the view. A non-loopback `addr` is refused unless `options.allow_public`.
    pub async fn bind(
        addr: SocketAddr,
        options: LiveOptions,
    ) -> Result<(LiveHandle, UnboundedSender<SuiteEvent>), LiveError> {
        if !addr.ip().is_loopback() && !options.allow_public {
            return Err(LiveError::NotLoopback { addr });
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| LiveError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| LiveError::Bind { addr, source })?;
        let interval = options.interval.max(Duration::from_millis(10));
        let mut state = LiveState::new();
        let first = Arc::new(state.publish(Duration::ZERO, interval));
        let (snap_tx, snap_rx) = watch::channel(first);
        let (event_tx, event_rx) = unbounded_channel();
        let (final_tx, final_rx) = unbounded_channel();
        let stop = CancellationToken::new();
        let aggregator = tokio::spawn(aggregate(
            state,
            event_rx,
            final_rx,
            snap_tx,
            interval,
            stop.clone(),
        ));
        let router = Router::new()
            .route("/", get(index))
            .route("/metrics", get(metrics_text))
            .route("/stream", get(sse))
            .route("/events", get(json_lines))
            .with_state(snap_rx.clone());
        let limits = Limits {
            max_connections: descriptor_cap(options.max_connections, nofile_soft_limit()),
            header_timeout: options.header_timeout,
            write_timeout: options.write_timeout,
        };
        let max_connections = limits.max_connections;
        let server = tokio::spawn(serve(listener, router, limits, stop.clone()));
        Ok((
            LiveHandle {
                addr: local_addr,
                max_connections,
                final_tx,
                snapshots: snap_rx,
                stop,
                server,
                aggregator,
                linger: options.linger,
            },
            event_tx,
        ))
    }
}

/// A running live server.
#[derive(Debug)]
pub struct LiveHandle {
    addr: SocketAddr,
    max_connections: usize,
    final_tx: UnboundedSender<LiveFinal>,
    snapshots: watch::Receiver<Arc<Published>>,
    stop: CancellationToken,
    server: JoinHandle<()>,
    aggregator: JoinHandle<()>,
    linger: Duration,
}

impl LiveHandle {
    /// The address served (with the port the OS chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections are served at once: [`LiveOptions::max_connections`], lowered
    /// to a quarter of the soft descriptor limit when that is smaller.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Records how the run ended; the page shows it at once.
    pub fn finish(&self, end: LiveFinal) {
        // The aggregator only stops on shutdown, which takes `self`.
        let _ = self.final_tx.send(end);
    }

    /// The latest published snapshot.
    pub fn snapshot(&self) -> Arc<Published> {
        Arc::clone(&self.snapshots.borrow())
    }

    /// A receiver of each published snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.snapshots.clone()
    }

    /// Whether the server is still serving.
    pub fn is_serving(&self) -> bool {
        !self.server.is_finished()
    }

    /// Keeps serving for the configured linger, then publishes the final state, ends the
    /// streams and stops the server.
    pub async fn shutdown(self) {
        if !self.linger.is_zero() {
            tokio::time::sleep(self.linger).await;
        }
        self.stop.cancel();
        let _ = self.aggregator.await;
        let mut server = self.server;
        if tokio::time::timeout(CLOSE_GRACE, &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
    }
}

/// The connection limits in force.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_connections: usize,
    header_timeout: Duration,
    write_timeout: Duration,
}

/// `requested`, lowered to a [`DESCRIPTOR_SHARE`] of the soft descriptor limit; at least 1.
fn descriptor_cap(requested: usize, soft_limit: Option<u64>) -> usize {
    let share = soft_limit.map_or(u64::MAX, |n| n / DESCRIPTOR_SHARE);
    let share = usize::try_from(share).unwrap_or(usize::MAX);
    requested.min(share).max(1)
}

#[cfg(unix)]
fn nofile_soft_limit() -> Option<u64> {
    // `None` is RLIM_INFINITY.
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn nofile_soft_limit() -> Option<u64> {
    None
}

/// Accepts connections until `stop`, each under a slot of `limits.max_connections`; a
/// connection beyond them gets a 503 (if its socket takes it at once) and is closed, so the
/// live view never holds more descriptors than its share.
async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusal = refusal(limits.max_connections);
    let mut connections = JoinSet::new();
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            // Reaps finished connections so the set stays as small as the slots.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::debug!("live view: accept failed: {e}");
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    }
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Never waits on a client: what the socket does not take at once is dropped.
            let _ = stream.try_write(refusal.as_bytes());
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let io = TokioIo::new(StallLimit::new(stream, limits.write_timeout));
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(io, service);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // Timeouts and clients that went away: nothing the run should hear of.
                tracing::debug!("live view connection closed: {e}");
            }
        });
    }
    // Streams end when the aggregator drops its sender; `shutdown` bounds this wait.
    while connections.join_next().await.is_some() {}
}

/// The whole response to a connection beyond the limit.
fn refusal(max: usize) -> String {
    let body =
        format!("the live view serves at most {max} connections at once; close one and retry\n");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nretry-after: 10\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A socket whose writes fail with `TimedOut` once they have waited `limit` for a client
/// that reads nothing; reads pass through (hyper's header timeout bounds those).
#[derive(Debug)]
struct StallLimit<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallLimit<S> {
    fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Records the outcome of a write-side poll: progress clears the stall, a pending
    /// poll starts (or checks) its deadline.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {} s", limit.as_secs_f64()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallLimit<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallLimit<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}

async fn aggregate(
    mut state: LiveState,
    mut events: UnboundedReceiver<SuiteEvent>,
    mut finals: UnboundedReceiver<LiveFinal>,
    snapshots: watch::Sender<Arc<Published>>,
    interval: Duration,
    stop: CancellationToken,
) {
    let start = Instant::now();
    let mut tick = tokio::time::interval_at(start + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = start;
    let mut events_open = true;
    let publish = |state: &mut LiveState, last: &mut Instant| {
        let now = Instant::now();
        let p = state.publish(now - start, now - *last);
        *last = now;
        snapshots.send_replace(Arc::new(p));
    };
    loop {
        // The tick comes before events so a flood of samples cannot starve it.
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            _ = tick.tick() => publish(&mut state, &mut last),
            Some(end) = finals.recv() => {
                while let Ok(e) = events.try_recv() {
                    state.fold(&e);
                }
                state.finish(end);
                publish(&mut state, &mut last);
            }
            e = events.recv(), if events_open => match e {
                Some(e) => state.fold(&e),
                None => events_open = false,
            },
        }
    }
    while let Ok(e) = events.try_recv() {
        state.fold(&e);
    }
    while let Ok(end) = finals.try_recv() {
        state.finish(end);
    }
    publish(&mut state, &mut last);
    // Dropping the sender ends every stream.
}

fn with_headers(mut r: Response, content_type: &'static str) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn index() -> Response {
    let mut r = with_headers(page::html().into_response(), "text/html; charset=utf-8");
    let h = r.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&page::content_security_policy()) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    } else {
        // Unreachable with the constant policy; never serve the page without one.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

async fn metrics_text(State(rx): State<watch::Receiver<Arc<Published>>>) -> Response {
    let text = rx.borrow().metrics.clone();
    with_headers(text.into_response(), metrics::CONTENT_TYPE)
}

/// Every published snapshot, starting with the current one, until the server stops.
fn snapshots(
    rx: watch::Receiver<Arc<Published>>,
) -> impl Stream<Item = Arc<Published>> + Send + 'static {
    stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let p = Arc::clone(&rx.borrow_and_update());
        Some((p, (rx, false)))
    })
}

async fn sse(
    State(rx): State<watch::Receiver<Arc<Published>>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    use futures_util::StreamExt;
    let events = snapshots(rx).map(|p| Ok(Event::default().data(p.json.as_str())));
    Sse::new(events).keep_alive(KeepAlive::default())
}

async fn json_lines(State(rx): State<watch::Receiver<Arc<Published>>>) -> Response {
    use futures_util::StreamExt;
    let lines = snapshots(rx).map(|p| {
        let mut line = Vec::with_capacity(p.json.len() + 1);
        line.extend_from_slice(p.json.as_bytes());
        line.push(b'\n');
        Ok::<_, Infallible>(bytes::Bytes::from(line))
    });
    with_headers(
        axum::body::Body::from_stream(lines).into_response(),
        "application/x-ndjson",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_a_quarter_of_the_soft_descriptor_limit_at_most() {
        assert_eq!(descriptor_cap(64, Some(1024)), 64);
        assert_eq!(descriptor_cap(64, Some(128)), 32);
        assert_eq!(descriptor_cap(64, None), 64, "no limit");
        assert_eq!(descriptor_cap(64, Some(2)), 1, "one connection at least");
        assert_eq!(descriptor_cap(0, Some(1024)), 1);
    }

    #[test]
    fn the_refusal_is_one_whole_response() {
        let r = refusal(7);
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(body.contains("at most 7 connections"), "{body}");
    }
}
