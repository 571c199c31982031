//! The small HTTP server shared by the demo target and the metrics endpoint:
//! accept on a listener, serve each connection (HTTP/1.1 or HTTP/2, optionally over
//! TLS) on a tracked task, and stop everything on cancellation.

use std::sync::Arc;
use std::time::Duration;

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
    let mut accept_errors = AcceptErrors::default();
    loop {
        let stream = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: say so (at most once a
                // second, so a flood cannot fill the log), back off, keep serving.
                Err(error) => {
                    accept_errors.note(&error);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let handler = handler.clone();
        let cancel = cancel.clone();
        let tls = tls.clone();
        tasks.spawn(async move {
            match tls {
                None => serve_connection(stream, handler, cancel).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    let stream = tokio::select! {
                        () = cancel.cancelled() => return,
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
                    serve_connection(stream, handler, cancel).await;
                }
            }
        });
    }
}

async fn serve_connection<S>(stream: S, handler: Handler, cancel: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let answer = handler(request);
        async move { Ok::<_, std::convert::Infallible>(answer.await) }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        () = cancel.cancelled() => {}
        served = connection => {
            // A client that goes away mid-request ends its own connection only.
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
    }
}

/// Logs failed accepts without flooding the log: the first at once, then at most
/// one line a second with the count of those in between.
#[derive(Default)]
struct AcceptErrors {
    last_logged: Option<std::time::Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    fn note(&mut self, error: &std::io::Error) {
        let now = std::time::Instant::now();
        if self
            .last_logged
            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(1))
        {
            self.unlogged += 1;
            return;
        }
        tracing::warn!(
            %error,
            also_failed = self.unlogged,
            "accepting a connection failed; retrying in 50 ms"
        );
        self.last_logged = Some(now);
        self.unlogged = 0;
    }
}
