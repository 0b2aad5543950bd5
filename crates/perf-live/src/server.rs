//! The HTTP server and the aggregator task feeding it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream};
use perf_suite::SuiteEvent;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::state::{LiveFinal, LiveState, Published};
use crate::{metrics, page, LiveError};

/// How long shutting down waits for open connections before closing them.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How the live server runs.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// How often the snapshot (page, `/metrics`, streams) is updated.
    pub interval: Duration,
    /// Allow an address that is not loopback (anyone who reaches it sees the run).
    pub allow_public: bool,
    /// How long [`LiveHandle::shutdown`] keeps serving the final state.
    pub linger: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            allow_public: false,
            linger: Duration::ZERO,
        }
    }
}

/// Starts the live view of a run.
#[derive(Debug)]
pub struct LiveServer;

impl LiveServer {
    /// Binds `addr` and serves the live view until [`LiveHandle::shutdown`]. Suite events
    /// sent on the returned sender (give it to [`perf_suite::run_suite`]) are folded into
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
        let serve_stop = stop.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router)
                .with_graceful_shutdown(async move { serve_stop.cancelled().await });
            if let Err(e) = serve.await {
                tracing::warn!("live view server stopped: {e}");
            }
        });
        Ok((
            LiveHandle {
                addr: local_addr,
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
