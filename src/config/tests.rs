//! The validation of config files, end to end: what parses, and where each error
//! points.

use std::path::Path;
use std::time::Duration;

use super::validate::{parse_str, parse_url};
use super::*;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    parse_str(Path::new("t.toml"), text, |name| {
        (name == "TOKEN").then(|| "abc".to_string())
    })
}

fn first_error(text: &str) -> ConfigError {
    parse(text).unwrap_err().0.remove(0)
}

#[test]
fn full_endpoint_parses() {
    let config = parse(
        r#"
[defaults]
interval = "2s"
timeout = "1s"
window = "1m"

[[endpoint]]
name = "api"
url = "http://127.0.0.1:1/health"
method = "post"
headers = { Authorization = "Bearer ${TOKEN}" }
body = "{}"
connection = "fresh"

[endpoint.expect]
status = [200, 204]
body_contains = "ok"
max_latency = "300ms"

[[endpoint]]
url = "https://example.test/"
interval = "250ms"
"#,
    )
    .unwrap();
    assert_eq!(config.window, Duration::from_secs(60));
    let api = &config.endpoints[0];
    assert_eq!(api.name, "api");
    assert_eq!(api.method, reqwest::Method::POST);
    assert_eq!(api.interval, Duration::from_secs(2));
    assert_eq!(
        api.headers,
        vec![("Authorization".into(), "Bearer abc".into())]
    );
    assert_eq!(api.connection, ConnectionMode::Fresh);
    assert_eq!(
        api.expect.status,
        Some(vec![StatusMatch::Code(200), StatusMatch::Code(204)])
    );
    assert_eq!(api.expect.max_latency, Some(Duration::from_millis(300)));
    let second = &config.endpoints[1];
    assert_eq!(second.name, "https://example.test/");
    assert_eq!(second.interval, Duration::from_millis(250));
    assert_eq!(second.timeout, Duration::from_secs(1));
    assert_eq!(second.max_in_flight, 5);
}

#[test]
fn key_paths_point_into_arrays_of_tables() {
    let e = first_error(
        "[[endpoint]]\nurl = \"http://a/\"\n\n[[endpoint]]\nurl = \"http://b/\"\ninterval = 5\n",
    );
    assert_eq!(e.key.as_deref(), Some("endpoint[1].interval"), "{e}");
    assert_eq!(e.location.as_ref().unwrap().line, 6);
    let e = first_error("[[endpoint]]\nurl = \"http://a/\"\n[endpoint.expect]\nstatus = [true]\n");
    assert_eq!(
        e.key.as_deref(),
        Some("endpoint[0].expect.status[0]"),
        "{e}"
    );
}

#[test]
fn unknown_key_suggests_the_closest() {
    let e = first_error("[[endpoint]]\nurl = \"http://a/\"\nintervl = \"1s\"\n");
    assert!(e.message.contains("did you mean `interval`?"), "{e}");
    assert_eq!(e.key.as_deref(), Some("endpoint[0].intervl"), "{e}");
    assert_eq!(e.location.as_ref().unwrap().line, 3);
    assert_eq!(e.location.as_ref().unwrap().column, 1);
}

#[test]
fn secrets_in_urls_stay_out_of_what_is_shown() {
    let config = parse("[[endpoint]]\nurl = \"http://127.0.0.1:9/?key=${TOKEN}\"\n").unwrap();
    let e = &config.endpoints[0];
    assert_eq!(e.url.as_str(), "http://127.0.0.1:9/?key=abc");
    assert_eq!(e.url_as_written, "http://127.0.0.1:9/?key=${TOKEN}");
    assert_eq!(e.name, "http://127.0.0.1:9/?key=${TOKEN}");
}

#[test]
fn duplicates_are_reported_even_beside_other_errors() {
    let errors = parse(
        "[[endpoint]]\nname = \"a\"\nurl = \"http://x/\"\ntimeout = \"0s\"\n[[endpoint]]\nname = \"a\"\nurl = \"http://y/\"\n",
    )
    .unwrap_err()
    .0;
    let keys: Vec<_> = errors.iter().filter_map(|e| e.key.as_deref()).collect();
    assert_eq!(
        keys,
        ["endpoint[0].timeout", "endpoint[1].name"],
        "{errors:?}"
    );
}

#[test]
fn zero_caps_and_sub_second_windows_are_rejected() {
    for (text, key) in [
        (
            "[defaults]\nmax_body_bytes = 0\n",
            "defaults.max_body_bytes",
        ),
        ("[defaults]\nmax_in_flight = 0\n", "defaults.max_in_flight"),
        ("[defaults]\nwindow = \"500ms\"\n", "defaults.window"),
        (
            "[[endpoint]]\nurl = \"http://x/\"\nmax_body_bytes = 0\n",
            "endpoint[0].max_body_bytes",
        ),
    ] {
        let e = first_error(text);
        assert_eq!(e.key.as_deref(), Some(key), "{e}");
    }
}

#[test]
fn export_formats_are_checked() {
    let config = parse(
        "[export]\nformats = [\"md\", \"json\", \"md\"]\n[[endpoint]]\nurl = \"http://x/\"\n",
    )
    .unwrap();
    assert_eq!(
        config.export_formats,
        [ExportFormat::Markdown, ExportFormat::Json]
    );
    let e = first_error("[export]\nformats = [\"json\", \"pdf\"]\n");
    assert_eq!(e.key.as_deref(), Some("export.formats[1]"), "{e}");
    assert!(e.message.contains("unknown format \"pdf\""), "{e}");
    let e = first_error("[export]\nformats = []\n");
    assert_eq!(e.key.as_deref(), Some("export.formats"), "{e}");
}

#[test]
fn metrics_buckets_and_hlog_keys_are_checked() {
    let config = parse(
        "[metrics]\nbuckets = [0.01, 0.1, 1]\n[export]\nhlog = \"x.hlog\"\nhlog_interval = \"2s\"\n",
    )
    .unwrap();
    assert_eq!(config.metrics_buckets, [0.01, 0.1, 1.0]);
    assert_eq!(config.hlog.as_deref(), Some(Path::new("x.hlog")));
    assert_eq!(config.hlog_interval, Duration::from_secs(2));
    assert!(!config.export_on_exit, "off by default");
    assert!(parse("[export]\non_exit = true\n").unwrap().export_on_exit);
    for text in [
        "[metrics]\nbuckets = [0.1, 0.01]\n",
        "[metrics]\nbuckets = []\n",
        "[metrics]\nbuckets = [0, 1]\n",
    ] {
        assert_eq!(
            first_error(text).key.as_deref(),
            Some("metrics.buckets"),
            "{text}"
        );
    }
    let e = first_error("[export]\nhlog_interval = \"soon\"\n");
    assert_eq!(e.key.as_deref(), Some("export.hlog_interval"), "{e}");
    let e = first_error("[metrics]\nbucket = [1]\n");
    assert!(e.message.contains("did you mean `buckets`?"), "{e}");
}

#[test]
fn metrics_phases_is_off_unless_switched_on() {
    assert!(!parse("").unwrap().metrics_phases);
    assert!(!parse("[metrics]\nphases = false\n").unwrap().metrics_phases);
    assert!(parse("[metrics]\nphases = true\n").unwrap().metrics_phases);
    let e = first_error("[metrics]\nphases = \"yes\"\n");
    assert_eq!(e.key.as_deref(), Some("metrics.phases"), "{e}");
    let location = e.location.unwrap();
    assert_eq!((location.line, location.column), (2, 10));
    let e = first_error("[metrics]\nphase = true\n");
    assert!(e.message.contains("did you mean `phases`?"), "{e}");
}

#[test]
fn state_rule_keys_inherit_and_are_checked() {
    let config =
        parse("[defaults]\ndown_after = 3\n[[endpoint]]\nurl = \"http://a/\"\nup_after = 2\n")
            .unwrap();
    let rule = config.endpoints[0].state_rule;
    assert_eq!((rule.down_after, rule.up_after), (3, 2));
    let e = first_error("[[endpoint]]\nurl = \"http://a/\"\ndown_after = 0\n");
    assert_eq!(e.key.as_deref(), Some("endpoint[0].down_after"), "{e}");
}

#[test]
fn richer_expectations_parse_and_bad_ones_are_located() {
    let config = parse(
        "[[endpoint]]\nurl = \"http://a/\"\n[endpoint.expect]\nstatus = [\"2xx\", 304]\nbody_regex = \"ok|up\"\njson = { \"/status\" = \"ok\", \"/count\" = 3 }\nheaders = { Content-Type = \"^application/json\" }\n",
    )
    .unwrap();
    let expect = &config.endpoints[0].expect;
    assert_eq!(
        expect.status,
        Some(vec![StatusMatch::Class(2), StatusMatch::Code(304)])
    );
    assert!(expect.accepts_status(204) && expect.accepts_status(304));
    assert!(!expect.accepts_status(301));
    assert_eq!(expect.json.len(), 2);
    assert_eq!(expect.headers[0].0, "content-type");
    for (text, key, needle) in [
        (
            "status = [\"2x\"]",
            "endpoint[0].expect.status",
            "expected a code (200) or a class",
        ),
        (
            "body_regex = \"(\"",
            "endpoint[0].expect.body_regex",
            "invalid regular expression",
        ),
        (
            "json = { status = 1 }",
            "endpoint[0].expect.json.\"status\"",
            "not a JSON Pointer",
        ),
        (
            "headers = { X = \"[\" }",
            "endpoint[0].expect.headers.X",
            "invalid regular expression",
        ),
    ] {
        let e = first_error(&format!(
            "[[endpoint]]\nurl = \"http://a/\"\n[endpoint.expect]\n{text}\n"
        ));
        assert_eq!(e.key.as_deref(), Some(key), "{e}");
        assert!(e.message.contains(needle), "{e}");
        assert_eq!(e.location.as_ref().unwrap().line, 4, "{e}");
    }
}

#[test]
fn request_control_keys_are_checked() {
    let config = parse(
        "[[endpoint]]\nurl = \"http://a/\"\nbearer_token = \"${TOKEN}\"\nuser_agent = \"x/1\"\nhttp = \"2\"\nfollow_redirects = false\n",
    )
    .unwrap();
    let e = &config.endpoints[0];
    assert!(
        e.headers
            .contains(&("Authorization".into(), "Bearer abc".into()))
    );
    assert!(e.headers.contains(&("User-Agent".into(), "x/1".into())));
    assert_eq!(e.http, Some(HttpVersion::Http2));
    assert!(!e.follow_redirects);
    for (text, key, needle) in [
        (
            "body = \"x\"\nbody_file = \"f\"",
            "endpoint[0].body_file",
            "not both",
        ),
        (
            "body_file = \"no/such/file\"",
            "endpoint[0].body_file",
            "cannot read body file",
        ),
        (
            "basic_auth = { username = \"u\" }\nbearer_token = \"t\"",
            "endpoint[0].bearer_token",
            "not both",
        ),
        (
            "http = \"3\"",
            "endpoint[0].http",
            "expected \"1.1\" or \"2\"",
        ),
        (
            "headers = { Authorization = \"x\" }\nbearer_token = \"t\"",
            "endpoint[0].bearer_token",
            "set it in one place",
        ),
    ] {
        let e = first_error(&format!("[[endpoint]]\nurl = \"http://a/\"\n{text}\n"));
        assert_eq!(e.key.as_deref(), Some(key), "{e}");
        assert!(e.message.contains(needle), "{e}");
    }
}

#[test]
fn tcp_and_tls_endpoints_parse() {
    let config = parse(
        "[defaults]\nmax_body_bytes = 1024\n[[endpoint]]\nurl = \"tcp://db.example.internal:5432\"\ninterval = \"2s\"\ndown_after = 3\n[[endpoint]]\nurl = \"tls://mail.example.com:465/\"\ninsecure = true\n[endpoint.expect]\nmax_latency = \"50ms\"\nmin_cert_days = 14\n[[endpoint]]\nurl = \"https://a/\"\nexpect = { min_cert_days = 0 }\n",
    )
    .unwrap();
    let [tcp, tls, https] = &config.endpoints[..] else {
        panic!("{:?}", config.endpoints);
    };
    assert_eq!(tcp.kind(), ProbeKind::Tcp);
    assert_eq!(tcp.name, "tcp://db.example.internal:5432");
    assert_eq!(tcp.url.host_str(), Some("db.example.internal"));
    assert_eq!(tcp.url.port(), Some(5432));
    assert_eq!(tcp.interval, Duration::from_secs(2));
    assert_eq!(tcp.state_rule.down_after, 3);
    assert_eq!(tcp.expect.min_cert_days, None);
    assert_eq!(tls.kind(), ProbeKind::Tls);
    assert_eq!(tls.name, "tls://mail.example.com:465/");
    assert!(tls.insecure);
    assert_eq!(tls.expect.min_cert_days, Some(14));
    assert_eq!(tls.expect.max_latency, Some(Duration::from_millis(50)));
    assert_eq!(https.kind(), ProbeKind::Http);
    assert_eq!(https.expect.min_cert_days, Some(0));
}

#[test]
fn tcp_and_tls_urls_are_host_and_port_only() {
    for (url, needle) in [
        ("tcp://db", "a tcp:// URL needs a port"),
        ("tcp://db:0", "needs a port other than 0"),
        ("tcp:///x", "the URL has no host"),
        ("tcp://db:5432/x", "a tcp:// URL takes no path"),
        ("tls://db:5432?x=1", "a tls:// URL takes no query"),
        ("tls://db:5432#x", "a tls:// URL takes no fragment"),
        (
            "tls://u:p@db:5432",
            "a tls:// URL takes no user name or password",
        ),
        (
            "udp://db:53",
            "unsupported scheme `udp` (use http, https, tcp or tls)",
        ),
        ("tcp://münchen.example:1", "needs an ASCII host"),
        ("tls://a_b!:443", "a DNS name or an IP address"),
    ] {
        let e = first_error(&format!("[[endpoint]]\nurl = \"{url}\"\n"));
        assert_eq!(e.key.as_deref(), Some("endpoint[0].url"), "{e}");
        assert!(e.message.contains(needle), "{url}: {e}");
        assert_eq!(e.location.as_ref().unwrap().line, 2, "{e}");
    }
    assert!(parse_url("tcp://[::1]:5432").is_ok());
    assert!(parse_url("tls://[::1]:5432").is_ok());
    assert!(parse_url("tls://127.0.0.1:5432").is_ok());
    assert!(parse_url("tls://xn--mnchen-3ya.example:5432").is_ok());
    assert!(parse_url("tls://db:5432/").is_ok());
}

#[test]
fn http_only_keys_are_rejected_on_tcp_and_tls() {
    for text in [
        "method = \"GET\"",
        "headers = { A = \"b\" }",
        "body = \"x\"",
        "body_file = \"f\"",
        "basic_auth = { username = \"u\" }",
        "bearer_token = \"t\"",
        "user_agent = \"x\"",
        "http = \"2\"",
        "follow_redirects = false",
        "connection = \"fresh\"",
        "max_body_bytes = 10",
        "expect.status = [200]",
        "expect.body_contains = \"ok\"",
        "expect.body_regex = \"(\"",
        "expect.json = { \"/a\" = 1 }",
        "expect.headers = { A = \"b\" }",
    ] {
        let name = text.split(' ').next().unwrap();
        for scheme in ["tcp", "tls"] {
            let errors = parse(&format!(
                "[[endpoint]]\nurl = \"{scheme}://db:5432\"\n{text}\n"
            ))
            .unwrap_err()
            .0;
            // Only this error: the value of a key that does not apply is not checked.
            assert_eq!(errors.len(), 1, "{errors:?}");
            let e = &errors[0];
            assert_eq!(e.key, Some(format!("endpoint[0].{name}")), "{e}");
            assert!(
                e.message.contains(&format!(
                    "`{name}` applies to http:// and https:// endpoints only (a {scheme}:// probe only connects"
                )),
                "{e}"
            );
            let location = e.location.as_ref().unwrap();
            // A dotted key is pointed at by its last part.
            let column = name.rfind('.').map_or(1, |dot| dot + 2);
            assert_eq!((location.line, location.column), (3, column), "{e}");
        }
    }
    for text in [
        "ca_file = \"ca.pem\"",
        "insecure = true",
        "tls_roots = \"webpki\"",
    ] {
        let name = text.split(' ').next().unwrap();
        let e = first_error(&format!("[[endpoint]]\nurl = \"tcp://db:5432\"\n{text}\n"));
        assert_eq!(e.key, Some(format!("endpoint[0].{name}")), "{e}");
        assert!(
            e.message.contains(
                "applies to https:// and tls:// endpoints only (a tcp:// probe has no TLS)"
            ),
            "{e}"
        );
    }
    // Allowed on tls://, and on http:// as before.
    parse("[[endpoint]]\nurl = \"tls://db:5432\"\ninsecure = true\n").unwrap();
    parse("[[endpoint]]\nurl = \"http://db/\"\ninsecure = true\n").unwrap();
    // In a [endpoint.expect] table, the error points at the key in that table.
    let e = first_error(
        "[[endpoint]]\nurl = \"http://a/\"\n[[endpoint]]\nurl = \"tls://db:5432\"\n\n[endpoint.expect]\nmax_latency = \"1s\"\nstatus = [200]\n",
    );
    assert_eq!(e.key.as_deref(), Some("endpoint[1].expect.status"), "{e}");
    let location = e.location.as_ref().unwrap();
    assert_eq!((location.line, location.column), (8, 1), "{e}");
}

#[test]
fn min_cert_days_is_checked() {
    for (url, days, needle, column) in [
        ("https://a/", "-1", "cannot be negative", 17),
        ("https://a/", "3651", "at most 3650", 17),
        (
            "https://a/",
            "\"30\"",
            "expected a whole number of days",
            17,
        ),
        ("https://a/", "1.5", "expected a whole number of days", 17),
        (
            "http://a/",
            "30",
            "needs an https:// or tls:// URL: a http:// endpoint",
            1,
        ),
        (
            "tcp://a:1",
            "30",
            "needs an https:// or tls:// URL: a tcp:// endpoint",
            1,
        ),
    ] {
        let e = first_error(&format!(
            "[[endpoint]]\nurl = \"{url}\"\n[endpoint.expect]\nmin_cert_days = {days}\n"
        ));
        assert_eq!(
            e.key.as_deref(),
            Some("endpoint[0].expect.min_cert_days"),
            "{e}"
        );
        assert!(e.message.contains(needle), "{e}");
        let location = e.location.as_ref().unwrap();
        assert_eq!((location.line, location.column), (4, column), "{e}");
    }
    let e = first_error("[defaults]\nmin_cert_days = 3\n");
    assert!(e.message.contains("unknown field `min_cert_days`"), "{e}");
    let e =
        first_error("[[endpoint]]\nurl = \"https://a/\"\n[endpoint.expect]\nmin_cert_day = 3\n");
    assert!(e.message.contains("did you mean `min_cert_days`?"), "{e}");
}

#[test]
fn a_bad_reference_after_an_escape_is_located_without_a_panic() {
    // The offset into the resolved text falls inside the `é` of the file's text.
    let e = first_error("[[endpoint]]\nurl = \"http://a/\"\nbody = \"\\té${NOPE}\"\n");
    assert_eq!(e.key.as_deref(), Some("endpoint[0].body"), "{e}");
    assert!(e.message.contains("`NOPE` is not set"), "{e}");
    let location = e.location.as_ref().unwrap();
    assert_eq!((location.line, location.column), (3, 8), "{e}");
}

/// `n` endpoints, each with a bad timeout and (from the second on) the name of the
/// first: two located errors per endpoint but the first.
fn endpoints_with_errors(n: usize) -> String {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "[[endpoint]]\nname = \"first\"\nurl = \"http://127.0.0.1:1/{i}\"\ntimeout = \"x{i}\"\n\n"
        ));
    }
    text
}

#[test]
fn locating_many_errors_reads_the_file_a_bounded_number_of_times() {
    // A count, not a timing: counting the lines from the start of the file for every
    // error (as one `Location::from_span` each does) read n²/2 lines here, which the
    // bound below catches at any n; a timing would flake on a loaded CI machine.
    let n = 2_000;
    let text = endpoints_with_errors(n);
    super::error::scanned::take();
    let errors = parse(&text).unwrap_err().0;
    let scanned = super::error::scanned::take();
    assert_eq!(errors.len(), 2 * n - 1);
    // The line starts once, then each error's own line (and the first name's line
    // for each duplicate): a few times the file, whatever n is.
    assert!(
        scanned <= 2 * text.len(),
        "read {scanned} bytes of a {}-byte file to locate {} errors",
        text.len(),
        errors.len()
    );
    // Still the same places and messages as before.
    let last = errors.last().unwrap();
    let location = last.location.as_ref().unwrap();
    assert_eq!(
        last.key.as_deref(),
        Some(&*format!("endpoint[{}].timeout", n - 1))
    );
    assert_eq!((location.line, location.column), (5 * (n - 1) + 4, 11));
    let duplicate = &errors[errors.len() - 2];
    assert!(
        duplicate.message.contains("(first used on line 2)"),
        "{}",
        duplicate.message
    );
}

#[test]
fn tls_roots_default_inherit_and_reject_unknown_names() {
    let config = parse(
        "[defaults]\ntls_roots = \"webpki\"\n[[endpoint]]\nurl = \"https://a/\"\n[[endpoint]]\nurl = \"tls://b:443\"\ntls_roots = \"system\"\n",
    )
    .unwrap();
    assert_eq!(config.endpoints[0].tls_roots, TlsRoots::Webpki);
    assert_eq!(config.endpoints[1].tls_roots, TlsRoots::System);
    let config = parse("[[endpoint]]\nurl = \"https://a/\"\n").unwrap();
    assert_eq!(config.endpoints[0].tls_roots, TlsRoots::SystemAndWebpki);
    assert_eq!(defaults::TLS_ROOTS, TlsRoots::SystemAndWebpki);
    let e = first_error("[[endpoint]]\nurl = \"https://a/\"\ntls_roots = \"os\"\n");
    assert_eq!(e.key.as_deref(), Some("endpoint[0].tls_roots"), "{e}");
    assert!(e.message.contains("\"system+webpki\""), "{e}");
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(3), "{e}");
    let e = first_error("[defaults]\ntls_roots = \"all\"\n");
    assert_eq!(e.key.as_deref(), Some("defaults.tls_roots"), "{e}");
}

#[test]
fn a_url_without_a_scheme_is_told_to_add_one() {
    for text in ["example.com/x", "localhost:8080/health", "example.com:80"] {
        let e = first_error(&format!("[[endpoint]]\nurl = \"{text}\"\n"));
        assert!(
            e.message
                .contains(&format!("did you mean \"http://{text}\"")),
            "{e}"
        );
    }
    // A scheme probetop does not probe is still named as such.
    let e = first_error("[[endpoint]]\nurl = \"ftp://a/\"\n");
    assert!(e.message.contains("unsupported scheme `ftp`"), "{e}");
    // As written: the resolved URL may hold a secret.
    let e = first_error("[[endpoint]]\nurl = \"${TOKEN}.example.com/x\"\n");
    assert!(e.message.contains("http://${TOKEN}.example.com/x"), "{e}");
    assert!(!e.message.contains("abc"), "{e}");
}
