//! Each expectation passing and failing against a real server, with the failure
//! message checked: the real prober, in-process, on 127.0.0.1.

use crate::support;

use std::time::Duration;

use probetop::config::{Endpoint, StatusMatch};
use probetop::probe::{ClientPool, ErrorClass, ProbeOutcome, Prober, discard_connections};
use regex::Regex;
use support::TestServer;

fn endpoint(server: &TestServer, path: &str) -> Endpoint {
    Endpoint::new(
        path,
        server.url(path).parse().unwrap(),
        Duration::from_secs(1),
        Duration::from_secs(5),
    )
}

async fn probe(endpoint: &Endpoint) -> ProbeOutcome {
    Prober::new(endpoint, &mut ClientPool::default(), discard_connections())
        .unwrap()
        .probe()
        .await
}

/// Asserts a failure of `class` whose message contains every one of `needles`.
fn assert_fails(outcome: &ProbeOutcome, class: ErrorClass, needles: &[&str]) {
    let error = outcome
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("passed: {outcome:?}"));
    assert_eq!(error.class, class, "{error:?}");
    for needle in needles {
        assert!(
            error.message.contains(needle),
            "{needle:?} not in {:?}",
            error.message
        );
    }
    assert!(
        outcome.latency.is_some(),
        "a complete response has a latency"
    );
}

#[tokio::test]
async fn status_codes_and_classes() {
    let server = TestServer::start();
    let mut e = endpoint(&server, "/status/503");
    e.expect.status = Some(vec![StatusMatch::Class(5)]);
    assert!(probe(&e).await.is_ok(), "5xx accepts 503");
    e.expect.status = Some(vec![StatusMatch::Class(2), StatusMatch::Code(404)]);
    assert_fails(
        &probe(&e).await,
        ErrorClass::Status,
        &["status 503", "expected 2xx, 404"],
    );
}

#[tokio::test]
async fn body_regex() {
    let server = TestServer::start();
    let mut e = endpoint(&server, "/json");
    e.expect.body_regex = Some(Regex::new(r#""count":\d+"#).unwrap());
    assert!(probe(&e).await.is_ok());
    e.expect.body_regex = Some(Regex::new(r"^healthy$").unwrap());
    assert_fails(
        &probe(&e).await,
        ErrorClass::Body,
        &["does not match /^healthy$/", r#"it starts "{\"status\""#],
    );
}

#[tokio::test]
async fn json_pointers() {
    let server = TestServer::start();
    let mut e = endpoint(&server, "/json");
    e.expect.json = vec![
        ("/status".into(), serde_json::json!("ok")),
        ("/count".into(), serde_json::json!(3.0)),
        ("/items/0/id".into(), serde_json::json!(7)),
    ];
    assert!(probe(&e).await.is_ok(), "numbers compare by value");
    e.expect.json = vec![("/status".into(), serde_json::json!("healthy"))];
    assert_fails(
        &probe(&e).await,
        ErrorClass::Body,
        &[r#"json "/status" is "ok", expected "healthy""#],
    );
    e.expect.json = vec![("/missing/x".into(), serde_json::json!(1))];
    assert_fails(
        &probe(&e).await,
        ErrorClass::Body,
        &[r#"json "/missing/x" is missing"#],
    );
    let mut not_json = endpoint(&server, "/");
    not_json.expect.json = vec![("/a".into(), serde_json::json!(1))];
    assert_fails(
        &probe(&not_json).await,
        ErrorClass::Body,
        &["body is not JSON"],
    );
}

#[tokio::test]
async fn headers() {
    let server = TestServer::start();
    let mut e = endpoint(&server, "/json");
    e.expect.headers = vec![
        (
            "content-type".into(),
            Regex::new("^application/json").unwrap(),
        ),
        ("x-version".into(), Regex::new(r"^1\.").unwrap()),
    ];
    assert!(probe(&e).await.is_ok());
    e.expect.headers = vec![("x-version".into(), Regex::new(r"^2\.").unwrap())];
    assert_fails(
        &probe(&e).await,
        ErrorClass::Status,
        &[r#"header x-version is "1.2.3", which does not match /^2\./"#],
    );
    e.expect.headers = vec![("x-missing".into(), Regex::new(".").unwrap())];
    assert_fails(
        &probe(&e).await,
        ErrorClass::Status,
        &["header x-missing is missing"],
    );
}

#[tokio::test]
async fn body_contains_says_what_came_back() {
    let server = TestServer::start();
    let mut e = endpoint(&server, "/");
    e.expect.body_contains = Some("healthy".into());
    assert_fails(
        &probe(&e).await,
        ErrorClass::Body,
        &[r#"body does not contain "healthy"; it starts "ok""#],
    );
}
