//! Secrets stay with their origin: what a redirect to another origin carries (and
//! what it does not), which redirects are refused and why, secrets in URLs masked in
//! every output; `resolve`; and where the latest response came from. Real servers on
//! loopback (`localhost` resolves from /etc/hosts), the real binary.

use crate::support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use support::{TestCert, TestServer, count, endpoint, free_port, get_metrics, probetop, run};

/// One request as a [`Recorder`] received it.
#[derive(Debug, Clone)]
struct Received {
    /// Path and query.
    target: String,
    /// Header names (lowercase) and values.
    headers: Vec<(String, String)>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP(S) server that records every request and answers
/// `/goto?to=URL` with a 302 to `URL` (percent-decoded) and anything else with 200.
pub(crate) struct Recorder {
    addr: SocketAddr,
    tls: bool,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    pub(crate) fn start(cert: Option<&TestCert>) -> Self {
        let acceptor = cert.map(TestCert::acceptor);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let serving = async move {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            continue;
                        };
                        let log = Arc::clone(&log);
                        tokio::spawn(support::server::serve_connection(
                            stream,
                            acceptor.clone(),
                            move |request| {
                                let log = Arc::clone(&log);
                                async move { answer(request, &log) }
                            },
                        ));
                    }
                };
                tokio::select! {
                    _ = stopped => {}
                    () = serving => {}
                }
            });
        });
        Recorder {
            addr,
            tls: cert.is_some(),
            received,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http(s)://HOST:PORT` of this server, by `host`.
    pub(crate) fn base(&self, host: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{host}:{}", self.addr.port())
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(
    request: Request<hyper::body::Incoming>,
    log: &Mutex<Vec<Received>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(String::new, |pq| pq.as_str().to_string());
    let headers = request
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    log.lock().unwrap().push(Received {
        target: target.clone(),
        headers,
    });
    let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
    if request.uri().path() == "/goto" {
        let to = url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .find(|(name, _)| name == "to")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        *response.status_mut() = hyper::StatusCode::FOUND;
        response
            .headers_mut()
            .insert(hyper::header::LOCATION, to.parse().unwrap());
    }
    Ok(response)
}

/// `/goto?to=…` for `location`, encoded as a query value.
pub(crate) fn goto(location: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(location.as_bytes()).collect();
    format!("/goto?to={encoded}")
}

/// A headless run of the config `text` in `dir` for `duration`, with `--fail-on down`:
/// the snapshot, and stderr (its `NAME: STATE: CLASS: MESSAGE` lines).
fn run_config(
    dir: &std::path::Path,
    text: &str,
    env: &[(&str, &str)],
    duration: &str,
) -> (serde_json::Value, String) {
    support::write_config(dir, text);
    let mut command = probetop(dir);
    command.args(["--headless", "--duration", duration, "--fail-on", "down"]);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = run(&mut command, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let snapshot = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no snapshot ({e}); stderr: {stderr}"));
    (snapshot, stderr)
}

/// [`run_config`] for a second, in a fresh directory.
fn run_for_a_second(text: &str, env: &[(&str, &str)]) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    run_config(dir.path(), text, env, "1s")
}

/// The `--fail-on` line of the endpoint `name`.
fn failure_line<'a>(stderr: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}: ");
    stderr
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {name} in {stderr}"))
}

const TOKEN: &str = "t0k3n-from-env";
const KEY: &str = "k3y-from-env";
const BEARER: &str = "b3arer-from-env";
/// The secrets above, as the configs take them from the environment.
const SECRETS: &[(&str, &str)] = &[("TOKEN", TOKEN), ("KEY", KEY), ("BEARER", BEARER)];

#[test]
fn a_redirect_to_another_origin_carries_no_secret() {
    let home = Recorder::start(None);
    let other = Recorder::start(None);
    // 127.0.0.1 → localhost: another origin on the same machine. The Location
    // carries a secret parameter of its own, and one that is not secret.
    let location = format!(
        "{}/landing?access_token=echoed-s3cret&page=2",
        other.base("localhost")
    );
    let config = format!(
        r#"
[defaults]
interval = "200ms"

[[endpoint]]
name = "away"
url = "{home}{goto}&token=${{TOKEN}}"
bearer_token = "${{BEARER}}"
headers = {{ X-Api-Key = "${{KEY}}", Cookie = "session=c00kie" }}
user_agent = "probetop-test"
"#,
        home = home.base("127.0.0.1"),
        goto = goto(&location),
    );
    let (snapshot, stderr) = run_for_a_second(&config, SECRETS);
    let e = endpoint(&snapshot, "away");
    assert!(count(e, "probes") >= 2, "{e:#}");
    assert_eq!(count(e, "ok"), count(e, "probes"), "{e:#} {stderr}");
    assert_eq!(e["status_codes"]["200"], count(e, "probes"), "{e:#}");

    // The first request had everything the config set.
    let first = home.received();
    assert!(!first.is_empty());
    for request in &first {
        assert_eq!(request.header("x-api-key"), Some(KEY), "{request:?}");
        assert_eq!(request.header("cookie"), Some("session=c00kie"));
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {BEARER}").as_str())
        );
        assert!(request.target.contains(TOKEN), "{request:?}");
        assert_eq!(request.header("referer"), None, "{request:?}");
    }
    // The other origin got none of it.
    let landed = other.received();
    assert!(
        !landed.is_empty(),
        "the redirect was not followed: {first:?}"
    );
    for request in &landed {
        for name in ["authorization", "cookie", "x-api-key", "referer"] {
            assert_eq!(request.header(name), None, "{name} in {request:?}");
        }
        let everything = format!("{request:?}");
        for secret in [TOKEN, KEY, BEARER, "c00kie", "echoed-s3cret"] {
            assert!(!everything.contains(secret), "{secret} in {request:?}");
        }
        assert_eq!(request.target, "/landing?page=2", "{request:?}");
        assert_eq!(request.header("user-agent"), Some("probetop-test"));
    }
}

#[test]
fn a_redirect_within_the_origin_keeps_the_headers_but_sends_no_referer() {
    let home = Recorder::start(None);
    let config = format!(
        r#"
[defaults]
interval = "250ms"

[[endpoint]]
name = "home"
url = "{home}{goto}&token=${{TOKEN}}"
bearer_token = "${{BEARER}}"
headers = {{ X-Api-Key = "${{KEY}}" }}
"#,
        home = home.base("127.0.0.1"),
        goto = goto("/landing?token=kept"),
    );
    let (snapshot, stderr) = run_for_a_second(&config, SECRETS);
    let e = endpoint(&snapshot, "home");
    assert_eq!(count(e, "ok"), count(e, "probes"), "{e:#} {stderr}");
    let received = home.received();
    let landed: Vec<_> = received
        .iter()
        .filter(|r| r.target.starts_with("/landing"))
        .collect();
    assert!(!landed.is_empty(), "{received:?}");
    for request in landed {
        assert_eq!(request.header("x-api-key"), Some(KEY), "{request:?}");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {BEARER}").as_str())
        );
        assert_eq!(request.target, "/landing?token=kept");
        assert_eq!(request.header("referer"), None, "{request:?}");
    }
}

#[test]
fn https_to_http_is_refused_unless_allowed() {
    let cert = TestCert::generate();
    let secure = Recorder::start(Some(&cert));
    let plain = Recorder::start(None);
    let dir = tempfile::tempdir().unwrap();
    let ca = cert.write_ca(dir.path());
    let refused_location = format!("{}/refused", plain.base("127.0.0.1"));
    let config = format!(
        r#"
[defaults]
interval = "250ms"

[[endpoint]]
name = "downgrade"
url = "{secure}{refused}"
ca_file = "{ca}"
headers = {{ X-Api-Key = "${{KEY}}" }}

[[endpoint]]
name = "allowed"
url = "{secure}{allowed}"
ca_file = "{ca}"
allow_downgrade = true
headers = {{ X-Api-Key = "${{KEY}}" }}
"#,
        secure = secure.base("127.0.0.1"),
        refused = goto(&refused_location),
        allowed = goto(&format!("{}/allowed", plain.base("127.0.0.1"))),
        ca = ca.display(),
    );
    let (snapshot, stderr) = run_config(dir.path(), &config, &[("KEY", KEY)], "1s");
    let refused = endpoint(&snapshot, "downgrade");
    assert_eq!(
        refused["errors"]["redirect"],
        count(refused, "probes"),
        "{refused:#}"
    );
    assert_eq!(refused["state"], "down");
    assert_eq!(
        failure_line(&stderr, "downgrade"),
        format!(
            "downgrade: down: redirect: redirect from https:// to http:// refused (allow_downgrade = true follows it); Location: {refused_location}"
        )
    );
    let allowed = endpoint(&snapshot, "allowed");
    assert_eq!(
        count(allowed, "ok"),
        count(allowed, "probes"),
        "{allowed:#}"
    );
    let received = plain.received();
    assert!(
        received.iter().all(|r| r.target == "/allowed"),
        "{received:?}"
    );
    assert!(!received.is_empty());
    // Followed, but to another origin (the scheme differs): without the headers.
    assert!(received.iter().all(|r| r.header("x-api-key").is_none()));
}

#[test]
fn redirects_to_schemes_that_cannot_be_followed_fail_naming_the_location() {
    let home = Recorder::start(None);
    let targets = [
        ("file", "file:///etc/passwd"),
        ("ftp", "ftp://127.0.0.1/pub/x"),
        ("data", "data:text/plain,hello"),
    ];
    let mut config = String::from("[defaults]\ninterval = \"250ms\"\n");
    for (name, location) in targets {
        config.push_str(&format!(
            "\n[[endpoint]]\nname = \"{name}\"\nurl = \"{}{}\"\n",
            home.base("127.0.0.1"),
            goto(location)
        ));
    }
    let (snapshot, stderr) = run_for_a_second(&config, &[]);
    for (name, location) in targets {
        let e = endpoint(&snapshot, name);
        assert_eq!(e["errors"]["redirect"], count(e, "probes"), "{e:#}");
        assert_eq!(count(e, "ok"), 0, "{e:#}");
        assert_eq!(
            failure_line(&stderr, name),
            format!(
                "{name}: down: redirect: redirect to a {name}: URL, which cannot be followed; Location: {location}"
            )
        );
    }
}

#[test]
fn too_many_redirects_say_how_many_and_where_they_went() {
    let server = TestServer::start();
    let config = format!(
        "[defaults]\ninterval = \"250ms\"\n\n[[endpoint]]\nname = \"loop\"\nurl = \"{}\"\n\n[[endpoint]]\nname = \"ten\"\nurl = \"{}\"\n",
        server.url("/redirect/11"),
        server.url("/redirect/10"),
    );
    let (snapshot, stderr) = run_for_a_second(&config, &[]);
    let e = endpoint(&snapshot, "loop");
    assert_eq!(e["errors"]["redirect"], count(e, "probes"), "{e:#}");
    assert_eq!(
        failure_line(&stderr, "loop"),
        "loop: down: redirect: stopped after 10 redirects; last Location: /redirect/0"
    );
    // Ten are followed.
    let ten = endpoint(&snapshot, "ten");
    assert_eq!(count(ten, "ok"), count(ten, "probes"), "{ten:#}");
}

#[test]
fn a_redirect_that_fails_later_says_where_it_was_going() {
    let home = Recorder::start(None);
    // Nothing listens on a port that was free a moment ago.
    let location = format!("http://127.0.0.1:{}/gone?sig=abc", free_port());
    let config = format!(
        "[defaults]\ninterval = \"250ms\"\n\n[[endpoint]]\nname = \"gone\"\nurl = \"{}{}\"\n",
        home.base("127.0.0.1"),
        goto(&location)
    );
    let (snapshot, stderr) = run_for_a_second(&config, &[]);
    let e = endpoint(&snapshot, "gone");
    assert_eq!(e["errors"]["connect"], count(e, "probes"), "{e:#}");
    let line = failure_line(&stderr, "gone");
    let masked = location.replace("sig=abc", "sig=***");
    assert!(
        line.starts_with("gone: down: connect: ")
            && line.ends_with(&format!("(after 1 redirect; last Location: {masked})")),
        "{line}"
    );
}

/// Secrets of the masking test: a password and a parameter written in the URL, and
/// one from the environment.
const PASSWORD: &str = "hunter2pw";
const LITERAL_KEY: &str = "l1teral-k3y";
const ENV_TOKEN: &str = "env-t0ken-value";

#[test]
fn secrets_in_urls_are_masked_in_every_output() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "http://ann:{PASSWORD}@127.0.0.1:{}/status/503?api_key={LITERAL_KEY}&token=${{TOKEN}}&page=1",
        server.addr().port()
    );
    let masked = format!(
        "http://ann:***@127.0.0.1:{}/status/503?api_key=***&token=${{TOKEN}}&page=1",
        server.addr().port()
    );
    // Unnamed: its name is its URL, which labels metrics and tags the hlog.
    let config = format!(
        "[defaults]\ninterval = \"200ms\"\n\n[export]\nhlog = \"run.hlog\"\nhlog_interval = \"1s\"\n\n[[endpoint]]\nurl = \"{url}\"\n"
    );
    support::write_config(dir.path(), &config);
    let secrets = [PASSWORD, LITERAL_KEY, ENV_TOKEN];
    let assert_masked = |what: &str, text: &str| {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in {what}: {text}");
        }
    };

    let check = run(
        probetop(dir.path()).env("TOKEN", ENV_TOKEN).arg("--check"),
        Duration::from_secs(30),
    );
    let check_text = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{check:?}");
    assert!(check_text.contains(&masked), "{check_text}");
    assert_masked(
        "--check",
        &format!("{check_text}{}", String::from_utf8_lossy(&check.stderr)),
    );

    // URLs on the command line: named and listed masked, and so are their errors.
    let listed = run(
        probetop(dir.path()).env("TOKEN", ENV_TOKEN).args([
            "--check",
            &format!("https://bob:{PASSWORD}@127.0.0.1:1/?sig={LITERAL_KEY}"),
        ]),
        Duration::from_secs(30),
    );
    let listed_text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        listed_text.contains("https://bob:***@127.0.0.1:1/?sig=***"),
        "{listed_text}"
    );
    assert_masked("--check with a URL argument", &listed_text);
    let invalid = run(
        probetop(dir.path()).env("TOKEN", ENV_TOKEN).args([
            "--check",
            &format!("https://bob:{PASSWORD}@/?key={LITERAL_KEY}"),
        ]),
        Duration::from_secs(30),
    );
    let invalid_text = String::from_utf8_lossy(&invalid.stderr);
    assert_eq!(invalid.status.code(), Some(2), "{invalid_text}");
    assert!(
        invalid_text.contains("invalid URL argument"),
        "{invalid_text}"
    );
    assert_masked("an invalid URL argument", &invalid_text);

    // Every stdout format, with the log file, the hlog and /metrics during the run.
    for format in ["json", "csv", "md"] {
        let port = free_port();
        let child = probetop(dir.path())
            .env("TOKEN", ENV_TOKEN)
            .args(["--headless", "--duration", "3s", "--fail-on", "down"])
            .args(["--export-format", format, "--log-file", "run.log"])
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        let metrics = loop {
            assert!(Instant::now() < deadline, "no /metrics with a probe");
            if let Some(text) = get_metrics(port)
                && text.contains("result=\"status\"")
            {
                break text;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            metrics.contains(&format!("endpoint=\"{masked}\"")),
            "{metrics}"
        );
        assert_masked("/metrics", &metrics);
        let output = support::wait_bounded(child, Duration::from_secs(60));
        // Down (503): exit 3, the report on stderr.
        assert_eq!(output.status.code(), Some(3), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stdout.contains(&masked) || stdout.contains(&masked.replace('"', "\"\"")),
            "{format}: {stdout}"
        );
        assert!(
            stderr.contains(&format!("{masked}: down: status")),
            "{stderr}"
        );
        assert_masked(format, &stdout);
        assert_masked("stderr", &stderr);
        let log = std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default();
        assert_masked("the log file", &log);
    }
    let hlog = std::fs::read_to_string(dir.path().join("run.hlog")).unwrap();
    assert!(hlog.contains("Tag="), "{hlog}");
    assert!(hlog.contains("ann:***@"), "{hlog}");
    assert_masked("the hlog", &hlog);
}

#[test]
fn resolve_connects_to_the_address_and_keeps_the_name_for_host_and_sni() {
    // A certificate for svc.test only: the handshake verifies only if the name the
    // probe checks (and sends as SNI) is the URL's host. svc.test resolves nowhere, so
    // a lookup would fail: the probes succeeding shows that none was made.
    let cert = TestCert::generate_for(&["svc.test"], Duration::from_secs(30 * 86_400));
    let server = TestServer::start_tls(&cert);
    let plain = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ca = cert.write_ca(dir.path());
    let port = server.addr().port();
    let config = format!(
        r#"
[defaults]
interval = "250ms"

[[endpoint]]
name = "h1"
url = "https://svc.test:{port}/echo-header/host"
resolve = "127.0.0.1"
ca_file = "{ca}"
http = "1.1"
[endpoint.expect]
body_contains = "svc.test:{port}"

[[endpoint]]
name = "h2"
url = "https://svc.test:{port}/version"
resolve = "127.0.0.1"
ca_file = "{ca}"
[endpoint.expect]
body_contains = "HTTP/2"

[[endpoint]]
name = "plain"
url = "{plain}"

[[endpoint]]
name = "tcp"
url = "tcp://svc.test:{port}"
resolve = "127.0.0.1"
"#,
        ca = ca.display(),
        plain = plain.url("/"),
    );
    let (snapshot, stderr) = run_config(dir.path(), &config, &[], "1s");
    let addr = format!("127.0.0.1:{port}");
    for (name, version) in [("h1", "HTTP/1.1"), ("h2", "HTTP/2")] {
        let e = endpoint(&snapshot, name);
        assert!(count(e, "probes") >= 2, "{e:#}");
        assert_eq!(count(e, "ok"), count(e, "probes"), "{name}: {e:#} {stderr}");
        assert_eq!(e["last_response"]["http_version"], version, "{e:#}");
        assert_eq!(e["last_response"]["remote_addr"], addr.as_str(), "{e:#}");
        // No lookup, so no DNS phase; but connections were made and timed.
        assert_eq!(e["phases_ms"]["dns"]["count"], 0, "{e:#}");
        assert!(
            e["phases_ms"]["connect"]["count"].as_u64() >= Some(1),
            "{e:#}"
        );
        assert!(e["phases_ms"]["tls"]["count"].as_u64() >= Some(1), "{e:#}");
    }
    let plain_entry = endpoint(&snapshot, "plain");
    assert_eq!(plain_entry["last_response"]["http_version"], "HTTP/1.1");
    assert_eq!(
        plain_entry["last_response"]["remote_addr"],
        plain.addr().to_string().as_str()
    );
    let tcp = endpoint(&snapshot, "tcp");
    assert_eq!(count(tcp, "ok"), count(tcp, "probes"), "{tcp:#}");
    assert!(tcp["last_response"]["http_version"].is_null(), "{tcp:#}");
    assert_eq!(tcp["last_response"]["remote_addr"], addr.as_str());
    assert_eq!(tcp["phases_ms"]["dns"]["count"], 0, "{tcp:#}");
}

#[test]
fn resolve_must_be_an_ip_address() {
    let dir = tempfile::tempdir().unwrap();
    support::write_config(
        dir.path(),
        "[[endpoint]]\nurl = \"https://svc.test/\"\nresolve = \"127.0.0.1:8443\"\n\n[[endpoint]]\nurl = \"tcp://svc.test:1\"\nallow_downgrade = true\n",
    );
    let output = run(probetop(dir.path()).arg("--check"), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("endpoint[0].resolve")
            && stderr.contains("must be an IP address without a port"),
        "{stderr}"
    );
    assert!(stderr.contains("endpoint[1].allow_downgrade"), "{stderr}");
}
