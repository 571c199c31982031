//! The built-in demo target: a loopback HTTP server whose routes behave differently,
//! and the endpoints that watch it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Endpoint, Expect};

/// The running demo server.
pub struct DemoServer {
    addr: SocketAddr,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl DemoServer {
    /// Binds 127.0.0.1 on an ephemeral port and starts serving.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let handler: crate::serve::Handler = Arc::new(|request| Box::pin(handle(request)));
        tasks.spawn(crate::serve::accept_loop(
            listener,
            handler,
            cancel.clone(),
            tasks.clone(),
        ));
        Ok(DemoServer {
            addr,
            cancel,
            tasks,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoints that watch the demo routes.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let route = |name: &str, path: &str, interval_ms: u64, timeout_ms: u64, expect: Expect| {
            let interval = Duration::from_millis(interval_ms);
            let timeout = Duration::from_millis(timeout_ms);
            let url = format!("http://{}{path}", self.addr);
            let mut endpoint = Endpoint::new(
                name,
                url.parse()
                    .expect("a loopback address and a fixed path make a valid URL"),
                interval,
                timeout,
            );
            endpoint.expect = expect;
            endpoint
        };
        let slow_expect = Expect {
            max_latency: Some(Duration::from_millis(200)),
            ..Expect::default()
        };
        // By name, on a new connection every time: every probe shows its DNS lookup
        // (from /etc/hosts) and TCP connect in the phase breakdown.
        let mut fresh = route("demo-fresh", "/jitter", 1_000, 2_000, Expect::default());
        fresh.url = format!("http://localhost:{}/jitter", self.addr.port())
            .parse()
            .expect("localhost and a port make a valid URL");
        fresh.url_as_written = fresh.url.to_string();
        fresh.connection = crate::config::ConnectionMode::Fresh;
        let mut tcp = route("demo-tcp", "", 1_000, 1_000, Expect::default());
        tcp.url = format!("tcp://{}", self.addr)
            .parse()
            .expect("an address makes a valid tcp:// URL");
        tcp.url_as_written = tcp.url.to_string();
        vec![
            route("demo-fast", "/fast", 500, 2_000, Expect::default()),
            route("demo-slow", "/slow", 1_000, 2_000, slow_expect),
            route("demo-jitter", "/jitter", 500, 2_000, Expect::default()),
            route("demo-flaky", "/flaky", 1_000, 2_000, Expect::default()),
            route("demo-stall", "/stall", 1_000, 1_000, Expect::default()),
            fresh,
            tcp,
        ]
    }

    /// Stops accepting and closes every connection.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

async fn handle(request: Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: &'static str| {
        let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *response.status_mut() = status;
        response
    };
    let sleep_ms = |ms: u64| tokio::time::sleep(Duration::from_millis(ms));
    match request.uri().path() {
        "/fast" => reply(StatusCode::OK, "fast\n"),
        "/slow" => {
            // 150–250 ms: over the 200 ms expectation about half the time.
            sleep_ms(150 + fastrand::u64(0..=100)).await;
            reply(StatusCode::OK, "slow\n")
        }
        "/jitter" => {
            // Mostly 5–40 ms, with a long tail up to 300 ms.
            let ms = if fastrand::u8(0..10) == 0 {
                fastrand::u64(40..=300)
            } else {
                fastrand::u64(5..=40)
            };
            sleep_ms(ms).await;
            reply(StatusCode::OK, "jitter\n")
        }
        "/flaky" => {
            sleep_ms(fastrand::u64(10..=30)).await;
            if fastrand::u8(0..100) < 15 {
                reply(StatusCode::INTERNAL_SERVER_ERROR, "flaky\n")
            } else {
                reply(StatusCode::OK, "flaky\n")
            }
        }
        "/stall" => {
            // One in eight stalls well past the endpoint's 1 s timeout.
            if fastrand::u8(0..8) == 0 {
                sleep_ms(30_000).await;
            } else {
                sleep_ms(fastrand::u64(20..=60)).await;
            }
            reply(StatusCode::OK, "stall\n")
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "routes: /fast /slow /jitter /flaky /stall\n",
        ),
    }
}
