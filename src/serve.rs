//! The small HTTP server shared by the demo target and the metrics endpoint:
//! accept on a listener, serve each connection (HTTP/1.1 or HTTP/2, optionally over
//! TLS) on a tracked task, and stop everything on cancellation.
//!
//! It must never be usable against the probes that share its process: it holds at
//! most [`MAX_CONNECTIONS`] connections (so it cannot take the file descriptors the
//! probes need), and a connection that has no request in progress is closed after
//! [`IDLE_TIMEOUT`] (a client that sends half a request and waits holds nothing for
//! long). At the cap, a new connection evicts the one idle the longest, so a flood
//! of silent connections cannot lock a scraper out either.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Answers one request.
pub type Handler =
    Arc<dyn Fn(Request<Incoming>) -> BoxFuture<'static, Response<Full<Bytes>>> + Send + Sync>;

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most connections served at once: far more than a scraper or the demo's probes
/// need, and few enough that the probes keep the rest of a 1,024-descriptor limit.
pub const MAX_CONNECTIONS: usize = 128;

/// How long a connection may go without a request in progress: a keep-alive
/// connection between two scrapes, or a client that sent half a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `listener` with `handler` until `cancel` (over TLS with `tls`); every
/// connection is a task of `tasks`, so the caller can wait for all of them after
/// cancelling.
pub async fn accept_loop(
    listener: TcpListener,
    handler: Handler,
    tls: Option<TlsAcceptor>,
    cancel: CancellationToken,
    tasks: TaskTracker,
) {
    let mut accept_errors = RateLimitedLog::default();
    let mut refused = RateLimitedLog::default();
    let open = OpenConnections::default();
    loop {
        let stream = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: say so (at most once a
                // second, so a flood cannot fill the log), back off, keep serving.
                Err(error) => {
                    accept_errors.warn(|unlogged| tracing::warn!(
                        %error,
                        also_failed = unlogged,
                        "accepting a connection failed; retrying in 50 ms"
                    ));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(activity) = open.admit(&cancel) else {
            // Every connection is busy with a request: this one is closed at once
            // (dropped), which its client sees as a refusal.
            refused.warn(|unlogged| {
                tracing::warn!(
                    limit = MAX_CONNECTIONS,
                    also_refused = unlogged,
                    "connection refused: every connection is busy"
                )
            });
            continue;
        };
        let handler = handler.clone();
        let tls = tls.clone();
        tasks.spawn(async move {
            match tls {
                None => serve_connection(stream, handler, activity).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    let stream = tokio::select! {
                        () = activity.cancel.cancelled() => return,
                        accepted = handshake => match accepted {
                            Ok(Ok(stream)) => stream,
                            // A failed or stalled handshake ends this connection only;
                            // it is the client's problem, worth a debug line at most.
                            Ok(Err(error)) => {
                                tracing::debug!(%error, "TLS handshake with a client failed");
                                return;
                            }
                            Err(_elapsed) => {
                                tracing::debug!("TLS handshake with a client timed out");
                                return;
                            }
                        },
                    };
                    serve_connection(stream, handler, activity).await;
                }
            }
        });
    }
}

async fn serve_connection<S>(stream: S, handler: Handler, activity: Arc<Activity>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request| {
            let busy = Busy::start(activity.clone());
            let answer = handler(request);
            async move {
                let response = answer.await;
                drop(busy);
                Ok::<_, std::convert::Infallible>(response)
            }
        })
    };
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
    loop {
        let idle_until = activity.idle_deadline();
        tokio::select! {
            () = activity.cancel.cancelled() => return,
            served = &mut connection => {
                // A client that goes away mid-request ends its own connection only.
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            // Woken at the deadline: close if still idle, else look again later.
            () = tokio::time::sleep_until(idle_until.into()) => {
                if activity.is_idle_past(IDLE_TIMEOUT) {
                    return;
                }
            }
        }
    }
}

/// What the accept loop knows of one open connection.
struct Activity {
    /// Ends the connection (the server stopping, or an eviction).
    cancel: CancellationToken,
    /// Requests in progress.
    busy: AtomicUsize,
    /// When the connection last started or finished a request, in ms after `opened`.
    last_ms: AtomicU64,
    opened: Instant,
}

impl Activity {
    fn new(cancel: CancellationToken) -> Self {
        Activity {
            cancel,
            busy: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            opened: Instant::now(),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last_active(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// When the connection becomes closable if nothing happens meanwhile.
    fn idle_deadline(&self) -> Instant {
        self.last_active() + IDLE_TIMEOUT
    }

    /// Whether no request is in progress and none started or ended for `limit`.
    fn is_idle_past(&self, limit: Duration) -> bool {
        self.busy.load(Ordering::Relaxed) == 0 && self.last_active().elapsed() >= limit
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed) > 0
    }
}

/// A request in progress on a connection; dropping it marks the end.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connections being served, oldest first.
#[derive(Default)]
struct OpenConnections(Mutex<VecDeque<Arc<Activity>>>);

impl OpenConnections {
    /// Makes room for one more connection and returns its record, or `None` when every
    /// connection is busy with a request. At the cap, the connection idle the longest
    /// is closed to make room.
    fn admit(&self, server: &CancellationToken) -> Option<Arc<Activity>> {
        // Poisoning would need a panic while the list is edited below, which does not
        // call out: the list is still consistent.
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|c| !c.cancel.is_cancelled() && !c.is_closed());
        if open.len() >= MAX_CONNECTIONS {
            let oldest_idle = open
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.is_busy())
                .min_by_key(|(_, c)| c.last_active())
                .map(|(i, _)| i)?;
            if let Some(evicted) = open.remove(oldest_idle) {
                evicted.cancel.cancel();
            }
        }
        let activity = Arc::new(Activity::new(server.child_token()));
        open.push_back(activity.clone());
        Some(activity)
    }
}

impl Activity {
    /// Whether its connection task has ended (only the list still holds it).
    fn is_closed(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) == 1
    }
}

/// A warning that is logged at once, then at most once a second with the count of
/// those in between, so a flood cannot fill the log.
#[derive(Default)]
struct RateLimitedLog {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl RateLimitedLog {
    fn warn(&mut self, log: impl FnOnce(u64)) {
        let now = Instant::now();
        if self
            .last_logged
            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(1))
        {
            self.unlogged += 1;
            return;
        }
        log(self.unlogged);
        self.last_logged = Some(now);
        self.unlogged = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room_and_busy_ones_never_do() {
        let server = CancellationToken::new();
        let open = OpenConnections::default();
        let admitted: Vec<Arc<Activity>> = (0..MAX_CONNECTIONS)
            .map(|_| open.admit(&server).expect("room below the cap"))
            .collect();
        // Every connection but the first is busy: only the first can go.
        let busy: Vec<Busy> = admitted[1..].iter().cloned().map(Busy::start).collect();
        let newcomer = open.admit(&server).expect("the idle one makes room");
        assert!(
            admitted[0].cancel.is_cancelled(),
            "the idle one was evicted"
        );
        assert!(admitted[1..].iter().all(|c| !c.cancel.is_cancelled()));
        // Now every connection is busy: a new one is refused.
        let _newcomer_busy = Busy::start(newcomer);
        assert!(open.admit(&server).is_none());
        // A request ending makes its connection evictable again.
        drop(busy);
        assert!(open.admit(&server).is_some());
        // Stopping the server ends every connection.
        server.cancel();
        assert!(admitted.iter().all(|c| c.cancel.is_cancelled()));
    }

    #[test]
    fn a_connection_without_requests_is_idle_after_the_timeout_only() {
        let activity = Arc::new(Activity::new(CancellationToken::new()));
        assert!(!activity.is_idle_past(IDLE_TIMEOUT), "just opened");
        assert!(activity.is_idle_past(Duration::ZERO));
        let busy = Busy::start(activity.clone());
        assert!(
            !activity.is_idle_past(Duration::ZERO),
            "a request in progress"
        );
        drop(busy);
        assert!(activity.idle_deadline() >= Instant::now() + IDLE_TIMEOUT - Duration::from_secs(1));
    }
}
