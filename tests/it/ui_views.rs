//! The dashboard's views rendered into ratatui's `TestBackend` from fixed data: the
//! overview (sorting, filtering, selection, scrolling, colour and no colour), the
//! detail view from 40×8 to 200×50 (with where the time goes per phase, the
//! certificate, state changes, every expectation, and tcp:// endpoints, from
//! statistics recorded through their own methods), the help overlay, a terminal too
//! small to draw in, and hostile text from endpoints and config files, both from
//! hand-built rows and through the real model.
//!
//! Every screen is kept as an insta snapshot of its text (in `tests/it/snapshots/`) and
//! also checked by explicit assertions, so a snapshot accepted by mistake still fails.

use std::sync::Arc;
use std::time::Duration;

use probetop::config::{ConnectionMode, Endpoint, HttpVersion, StatusMatch};
use probetop::probe::{ConnectionPhases, ErrorClass, ProbeOutcome};
use probetop::stats::{
    EndpointRules, EndpointStats, LatencySummary, OverloadReason, PhaseSummary, State, StateRule,
    StatsStore, Transition,
};
use probetop::ui::model::{
    self, Certificate, DetailData, EndpointRow, OverviewData, Span, SparkPoint,
};
use probetop::ui::sanitize::clean;
use probetop::ui::state::{Mode, Screen, SortKey, Status, UiState};
use probetop::ui::theme::Theme;
use probetop::ui::trail::SparkTrail;
use probetop::ui::view::{FrameLayout, ViewInput};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use crate::support::screen::{TAKEN_AT_SECS, at, draw as render, input, state_for, text};

const COLOR: Theme = Theme { color: true };
const NO_COLOR: Theme = Theme { color: false };
const LONG_NAME: &str = "checkout-service-behind-the-regional-load-balancer-eu-west";
/// An escape sequence, a title change and a right-to-left override in a config name.
const HOSTILE_NAME: &str = "evil\x1b[31m\u{202E}name\x07";
/// What a hostile endpoint sends back as error text.
const HOSTILE_ERROR: &str = "\x1b[2J\x1b]0;pwned\x07";

fn latency(p50: f64, p99: f64, max: f64) -> LatencySummary {
    LatencySummary {
        min: p50 * 0.7,
        mean: p50 * 1.1,
        p50,
        p90: (p50 + p99) / 2.0,
        p99,
        p999: max,
        max,
    }
}

/// A deterministic wave of latencies in microseconds, with failures where `failed`.
fn spark(base_us: u32, len: usize, failed: impl Fn(usize) -> bool) -> Vec<SparkPoint> {
    (0..len)
        .map(|i| {
            if failed(i) {
                SparkPoint::Failed
            } else {
                SparkPoint::Latency(base_us + (i as u32 * 7 % 13) * base_us / 10)
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn row(
    name: &str,
    state: State,
    summary: Option<LatencySummary>,
    span: (u64, u64),
    probes: u64,
    spark: Vec<SparkPoint>,
    last_result: &str,
    last_failed: bool,
) -> EndpointRow {
    EndpointRow {
        // As the model does: names come from config files and are cleaned.
        name: clean(name),
        state,
        last_latency_ms: summary.map(|s| s.p50),
        latency: summary,
        span_probes: span.0,
        span_ok: span.1,
        probes,
        skipped: 0,
        spark: SparkTrail::from(&spark[..]),
        // As the model does: error text comes from endpoints and is cleaned.
        last_result: clean(last_result),
        last_failed,
    }
}

/// Six endpoints: every state, failures in the sparklines, a long and a hostile name.
fn overview_data() -> OverviewData {
    let rows = vec![
        row(
            "api",
            State::Up,
            Some(latency(1.1, 3.0, 4.2)),
            (300, 300),
            1234,
            spark(1100, 60, |_| false),
            "200",
            false,
        ),
        row(
            LONG_NAME,
            State::Degraded,
            Some(latency(310.0, 920.0, 1450.0)),
            (300, 297),
            1234,
            spark(300_000, 60, |i| i % 20 == 7),
            "200",
            false,
        ),
        row(
            "payments-api",
            State::Down,
            Some(latency(45.0, 180.0, 240.0)),
            (300, 240),
            1234,
            spark(45_000, 60, |i| i >= 52 || i % 11 == 3),
            "timeout: no complete response within 5s",
            true,
        ),
        row(
            "search",
            State::Unknown,
            None,
            (0, 0),
            0,
            Vec::new(),
            "",
            false,
        ),
        row(
            HOSTILE_NAME,
            State::Up,
            Some(latency(12.0, 30.0, 41.0)),
            (300, 299),
            1234,
            spark(12_000, 40, |i| i == 30),
            HOSTILE_ERROR,
            true,
        ),
        row(
            "static-cdn",
            State::Up,
            Some(latency(0.4, 0.9, 1.3)),
            (300, 300),
            1234,
            spark(400, 60, |_| false),
            "304",
            false,
        ),
    ];
    OverviewData {
        elapsed: Duration::from_secs(3723),
        taken_at: at(TAKEN_AT_SECS),
        total_probes: 6170,
        lag_p99_ms: Some(0.42),
        span: Span::FiveMinutes,
        rows: rows.into_iter().map(Arc::new).collect(),
        overload: None,
        local_network_down: false,
    }
}

fn url(text: &str) -> url::Url {
    url::Url::parse(text).expect("a valid URL")
}

/// The endpoints behind `overview_data`, plus settings worth showing in the detail.
fn endpoints() -> Vec<Endpoint> {
    let names = [
        "api",
        LONG_NAME,
        "payments-api",
        "search",
        HOSTILE_NAME,
        "static-cdn",
    ];
    names
        .iter()
        .map(|name| {
            let mut e = endpoint(name, "https://api.example.com/health", 1);
            if *name == "api" {
                e.headers = vec![
                    ("Authorization".into(), "Bearer s3cr3t-t0ken".into()),
                    ("X-Tenant".into(), "blue".into()),
                ];
                e.expect.status = Some(vec![
                    probetop::config::StatusMatch::Code(200),
                    probetop::config::StatusMatch::Code(204),
                ]);
                e.expect.body_contains = Some("ok".into());
                e.expect.max_latency = Some(Duration::from_millis(300));
            }
            e
        })
        .collect()
}

/// Five minutes of one probe a second: a wave, two slow spikes and regular failures.
fn detail_data() -> DetailData {
    let series = (0..300)
        .rev()
        .map(|ago| {
            let i = 299 - ago as usize;
            let ok = i % 37 != 5 && !(200..206).contains(&i);
            let ms = match i {
                _ if !ok => None,
                120 | 250 => Some(3.9),
                _ => Some(1.1 + 0.3 * (i as f64 / 25.0).sin() + (i * 7 % 5) as f64 * 0.02),
            };
            (f64::from(ago), ms, ok)
        })
        .collect();
    let taken = TAKEN_AT_SECS;
    DetailData {
        file_interval: None,
        index: 0,
        span: Span::FiveMinutes,
        state: State::Up,
        counts: [1234, 1200, 34, 2],
        latency: Some(latency(1.1, 3.0, 4.2)),
        percentiles: vec![
            (0.0, 0.8),
            (50.0, 1.1),
            (75.0, 1.3),
            (90.0, 1.6),
            (95.0, 2.0),
            (99.0, 3.0),
            (99.9, 4.2),
            (99.99, 4.2),
            (100.0, 4.2),
        ],
        series,
        status_codes: vec![(200, 1190), (503, 10)],
        errors: vec![(ErrorClass::Timeout, 24), (ErrorClass::Status, 10)],
        recent_errors: vec![
            (
                at(taken - 12),
                "timeout: no complete response within 5s".into(),
            ),
            (at(taken - 49), "status (status 503): 503".into()),
            (
                at(taken - 86),
                "connect: connection refused (os error 111)".into(),
            ),
            (
                at(taken - 3_700),
                "timeout: no complete response within 5s".into(),
            ),
        ],
        taken_at: at(taken),
        // Connections reused: three new ones in five minutes, 300 responses.
        phases: [
            phase(3, 0.8, 1.2, 1.2),
            phase(3, 0.3, 0.4, 0.4),
            phase(3, 4.1, 5.0, 5.0),
            phase(300, 0.9, 1.3, 2.8),
            phase(300, 0.2, 0.3, 1.0),
        ],
        connections: 3,
        certificate: Some(Certificate {
            not_after: at(taken + 45 * DAY + 3_600),
            days_left: 45,
            expires_soon: false,
        }),
        min_cert_days: None,
        transitions: vec![
            transition(taken - 80, State::Down, State::Up),
            transition(taken - 100, State::Up, State::Down),
            transition(taken - 3_600, State::Unknown, State::Up),
        ],
        last_latency_ms: Some(1.1),
        last_response: None,
        excused: 0,
        alerts: Vec::new(),
    }
}

const DAY: u64 = 86_400;

fn phase(count: u64, p50: f64, p90: f64, p99: f64) -> PhaseSummary {
    PhaseSummary {
        count,
        p50: Some(p50),
        p90: Some(p90),
        p99: Some(p99),
    }
}

fn transition(secs: u64, from: State, to: State) -> Transition {
    Transition {
        at: at(secs),
        from,
        to,
    }
}

/// Screen row of the first line containing `needle`.
fn line_of(screen: &str, needle: &str) -> Option<usize> {
    screen.lines().position(|line| line.contains(needle))
}

/// The names in the order their rows appear on screen (each must appear).
fn order_on_screen<'a>(screen: &str, names: &[&'a str]) -> Vec<&'a str> {
    let mut found: Vec<(usize, &str)> = names
        .iter()
        .map(|n| {
            let y = line_of(screen, n).unwrap_or_else(|| panic!("{n} not on screen:\n{screen}"));
            (y, *n)
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, n)| n).collect()
}

/// How each row is found on screen (the long name is cut, the hostile one cleaned).
const ROW_KEYS: [&str; 6] = [
    " api ",
    "checkout-",
    "payments-api",
    "search",
    "evil[31mname",
    "static-cdn",
];

fn assert_plain(buffer: &Buffer) {
    for cell in buffer.content() {
        assert_eq!(cell.fg, Color::Reset, "coloured cell {cell:?}");
        assert_eq!(cell.bg, Color::Reset, "coloured cell {cell:?}");
    }
}

fn assert_no_control_or_bidi(buffer: &Buffer) {
    for cell in buffer.content() {
        assert!(
            !cell
                .symbol()
                .chars()
                .any(|c| c.is_control() || c == '\u{202E}'),
            "unsafe cell {cell:?}"
        );
    }
}

#[test]
fn overview_shows_every_state_failures_and_odd_names() {
    let data = overview_data();
    let endpoints = endpoints();
    let state = state_for(&data);
    let (buffer, layout) = render(140, 14, &input(&state, &data, None, &endpoints, COLOR));
    let screen = text(&buffer);
    insta::assert_snapshot!("overview_140x14", screen);

    assert!(screen.contains("◐ 1 degraded"), "{screen}");
    assert!(screen.contains("✖ 1 down"), "{screen}");
    assert!(screen.contains("○ 1 unknown"), "{screen}");
    assert!(screen.contains("● 3 up"), "{screen}");
    let down = &screen
        .lines()
        .nth(line_of(&screen, "payments-api").unwrap())
        .unwrap();
    assert!(
        down.contains('✖'),
        "failures are marked in the sparkline: {down}"
    );
    assert!(
        screen.contains("checkout-service…alancer-eu-west"),
        "cut in the middle: {screen}"
    );
    assert!(screen.contains("evil[31mname"), "{screen}");
    assert_no_control_or_bidi(&buffer);
    assert_eq!(
        layout,
        Some(FrameLayout {
            page: 10,
            table_top: 2
        })
    );
}

#[test]
fn overview_at_100x30() {
    let data = overview_data();
    let endpoints = endpoints();
    let state = state_for(&data);
    let (buffer, _) = render(100, 30, &input(&state, &data, None, &endpoints, COLOR));
    let screen = text(&buffer);
    insta::assert_snapshot!("overview_100x30", screen);
    assert_eq!(
        order_on_screen(&screen, &ROW_KEYS),
        ROW_KEYS,
        "config order by default"
    );
    assert!(
        screen.lines().last().unwrap().contains("q quit"),
        "{screen}"
    );
}

#[test]
fn overloaded_header_says_so_in_red() {
    let mut data = overview_data();
    data.overload = Some(OverloadReason::SchedulerLag { lag_ms: 320 });
    let endpoints = endpoints();
    let state = state_for(&data);
    let (buffer, _) = render(100, 30, &input(&state, &data, None, &endpoints, COLOR));
    let screen = text(&buffer);
    insta::assert_snapshot!("overview_overloaded_100x30", screen);
    let header = screen.lines().next().unwrap();
    // First, in a few words where the header is short of room, before the rest.
    assert!(
        header.starts_with("OVERLOADED: 320 ms late 01:02:03  ● 3 up ◐ 1 degraded"),
        "{header}"
    );
    let x = buffer_x_of(&buffer, 0, "OVERLOADED").unwrap();
    assert_eq!(buffer[(x, 0)].fg, Color::Red);
    assert!(buffer[(x, 0)].modifier.contains(Modifier::BOLD));
    let (buffer, _) = render(160, 30, &input(&state, &data, None, &endpoints, COLOR));
    let header = text(&buffer).lines().next().unwrap().to_string();
    assert!(
        header.starts_with("probetop OVERLOADED: ticks fire late (scheduler lag 320 ms > 50 ms)"),
        "{header}"
    );

    // A deep statistics queue is a reason too, and no colour still says it in words.
    data.overload = Some(OverloadReason::StatsQueue { depth: 25_000 });
    let (buffer, _) = render(100, 30, &input(&state, &data, None, &endpoints, NO_COLOR));
    let header = text(&buffer).lines().next().unwrap().to_string();
    assert!(header.starts_with("OVERLOADED: queue 25000 "), "{header}");
    let (buffer, _) = render(160, 30, &input(&state, &data, None, &endpoints, NO_COLOR));
    let header = text(&buffer).lines().next().unwrap().to_string();
    assert!(
        header.contains("OVERLOADED: statistics queue 25000 deep (> 10000)"),
        "{header}"
    );
    assert_plain(&buffer);

    // While probetop keeps up, the header says nothing of it.
    data.overload = None;
    let (buffer, _) = render(100, 30, &input(&state, &data, None, &endpoints, COLOR));
    assert!(!text(&buffer).contains("OVERLOADED"));
}

#[test]
fn detail_at_100x30() {
    let endpoints = endpoints();
    let (buffer, layout) = render(100, 30, &OpenDetail::fixed().input(&endpoints, COLOR));
    let screen = text(&buffer);
    insta::assert_snapshot!("detail_100x30", screen);

    assert_eq!(layout, None);
    let title = screen.lines().next().unwrap();
    assert!(title.starts_with("● api  up  window 5m"), "{title}");
    assert!(!title.contains("PAUSED") && !title.contains("INSECURE"));
    for expected in [
        "-5m",
        "now",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "1200",
        "200×1190",
        "503×10",
        "timeout 24",
        "status 10",
        "22:44:48 timeout",
        "21:43:20",
        "Authorization: (value hidden)",
        "X-Tenant: (value hidden)",
        "status 200, 204",
        "body contains \"ok\"",
        "latency ≤ 300ms",
        "GET every 1s, timeout 5s",
    ] {
        assert!(screen.contains(expected), "{expected:?} missing:\n{screen}");
    }
    assert!(
        !screen.contains("s3cr3t"),
        "header values are secrets:\n{screen}"
    );
    assert!(
        !screen.contains("blue"),
        "header values are secrets:\n{screen}"
    );
    // Newest error first.
    assert!(line_of(&screen, "22:44:48") < line_of(&screen, "22:44:11"));
    // Failures are marked, not drawn as zero latency.
    assert!(screen.contains('✖'), "{screen}");
    assert!(
        screen.lines().last().unwrap().starts_with("Esc back"),
        "{screen}"
    );
}

#[test]
fn detail_colours_failures_red_and_never_draws_them_at_zero() {
    let buffer = OpenDetail::fixed().render(100, 30, &endpoints(), COLOR);
    let screen = text(&buffer);
    // The chart's failure marks sit on its top row, in red.
    // Below the chart's heading, left of the right-hand column.
    let marks: Vec<(u16, u16)> = (2..30)
        .flat_map(|y| (0..54).map(move |x| (x, y)))
        .filter(|&(x, y)| buffer[(x, y)].symbol() == "✖")
        .collect();
    assert!(marks.len() >= 5, "{screen}");
    let top = marks.iter().map(|m| m.1).min().unwrap();
    assert!(marks.iter().all(|m| m.1 == top), "marks off the top row");
    assert!(
        marks.iter().all(|&m| buffer[m].fg == Color::Red),
        "failure marks are red"
    );
    let axis = line_of(&screen, "└").unwrap() as u16;
    assert!(top + 5 < axis, "failures drawn near zero:\n{screen}");
}

#[test]
fn detail_degrades_from_large_to_tiny() {
    let (open, endpoints) = (OpenDetail::fixed(), endpoints());
    for (width, height) in [(200, 50), (80, 24), (60, 20), (40, 12), (40, 8)] {
        let buffer = open.render(width, height, &endpoints, NO_COLOR);
        let screen = text(&buffer);
        insta::assert_snapshot!(format!("detail_{width}x{height}"), screen);
        assert!(
            screen.starts_with("● api  up"),
            "{width}×{height}:\n{screen}"
        );
        assert!(screen.contains("p50"), "{width}×{height}:\n{screen}");
        assert!(screen.contains("probes"), "{width}×{height}:\n{screen}");
        assert!(
            screen.lines().last().unwrap().starts_with("Esc back"),
            "{width}×{height}:\n{screen}"
        );
        assert!(!screen.contains("s3cr3t"), "{width}×{height}");
        assert_plain(&buffer);
    }
}

#[test]
fn detail_before_data_warnings_and_status() {
    let data = overview_data();
    let mut endpoints = endpoints();
    endpoints[0].insecure = true;
    let mut state = state_for(&data);
    state.mode = Mode::Detail(0);
    state.status = Some(Status {
        text: "probing paused".into(),
        is_error: false,
    });
    let (buffer, _) = render(
        100,
        16,
        &ViewInput {
            paused: true,
            ..input(&state, &data, None, &endpoints, COLOR)
        },
    );
    let screen = text(&buffer);
    insta::assert_snapshot!("detail_loading_insecure_paused", screen);
    let title = screen.lines().next().unwrap();
    assert!(title.contains("loading…"), "{title}");
    assert!(title.contains("PAUSED"), "{title}");
    assert!(
        title.contains("INSECURE (any certificate accepted)"),
        "{title}"
    );
    assert!(
        screen.contains("INSECURE: any certificate accepted"),
        "{screen}"
    );
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines[lines.len() - 2], "probing paused");
    // The warning is in the warning colour.
    let insecure_x = buffer_x_of(&buffer, 0, "INSECURE").unwrap();
    assert_eq!(buffer[(insecure_x, 0)].fg, Color::Yellow);

    // Asking to reset from the detail view asks here too.
    state.mode = Mode::ConfirmReset(Screen::Detail(0));
    let (buffer, _) = render(60, 10, &input(&state, &data, None, &endpoints, COLOR));
    let screen = text(&buffer);
    assert!(screen.contains("Reset all statistics?"), "{screen}");
}

/// Column of `needle` on screen row `y`, counted in cells.
fn buffer_x_of(buffer: &Buffer, y: u16, needle: &str) -> Option<u16> {
    let cells: Vec<&str> = (0..buffer.area.width)
        .map(|x| buffer[(x, y)].symbol())
        .collect();
    (0..cells.len()).find_map(|x| cells[x..].concat().starts_with(needle).then_some(x as u16))
}

#[test]
fn help_overlay() {
    let data = overview_data();
    let endpoints = endpoints();
    let mut state = state_for(&data);
    state.mode = Mode::Help(Screen::Overview);
    let (buffer, _) = render(100, 30, &input(&state, &data, None, &endpoints, NO_COLOR));
    let screen = text(&buffer);
    insta::assert_snapshot!("help_100x30", screen);
    assert!(screen.contains(" keys "), "{screen}");
    assert!(screen.contains("? or Esc closes this help"), "{screen}");
    assert!(screen.contains("reset statistics (asks first)"), "{screen}");
    assert_plain(&buffer);
}

#[test]
fn filter_shows_matching_rows_only() {
    let data = overview_data();
    let endpoints = endpoints();
    let mut state = UiState::new(Span::FiveMinutes);
    state.filter = "api".into();
    state.refresh_rows(&data);
    let (buffer, _) = render(100, 12, &input(&state, &data, None, &endpoints, NO_COLOR));
    let screen = text(&buffer);
    insta::assert_snapshot!("filter_api", screen);
    assert_eq!(
        order_on_screen(&screen, &[" api ", "payments-api"]),
        [" api ", "payments-api"]
    );
    for hidden in ["checkout", "search", "evil", "static-cdn"] {
        assert!(!screen.contains(hidden), "{hidden} shown:\n{screen}");
    }
    assert!(
        screen.contains("filter \"api\" (2/6 shown, Esc clears)"),
        "{screen}"
    );

    state.mode = Mode::Filter;
    let (buffer, _) = render(100, 12, &input(&state, &data, None, &endpoints, NO_COLOR));
    let screen = text(&buffer);
    insta::assert_snapshot!("filter_editing", screen);
    let status = screen.lines().nth(10).unwrap();
    assert_eq!(status, "/api▏  Enter keeps, Esc clears  2/6 shown");
}

#[test]
fn each_sort_key_orders_the_rows() {
    let data = overview_data();
    let endpoints = endpoints();
    let [api, checkout, payments, search, evil, cdn] = ROW_KEYS;
    let cases = [
        (SortKey::Name, [api, checkout, evil, payments, search, cdn]),
        // Worst first; config order within a state.
        (SortKey::State, [payments, checkout, search, api, evil, cdn]),
        // Slowest p99 first; no latency at all last.
        (SortKey::P99, [checkout, payments, evil, api, cdn, search]),
        // 20% failed, 1%, 0.33%, then none (no probes counts as none).
        (
            SortKey::ErrorRate,
            [payments, checkout, evil, api, search, cdn],
        ),
    ];
    for (key, expected) in cases {
        let mut state = UiState::new(Span::FiveMinutes);
        state.sort = key;
        state.refresh_rows(&data);
        let (buffer, _) = render(120, 12, &input(&state, &data, None, &endpoints, NO_COLOR));
        let screen = text(&buffer);
        insta::assert_snapshot!(format!("sort_{}", key.label()), screen);
        assert_eq!(order_on_screen(&screen, &ROW_KEYS), expected, "{key:?}");
        assert!(
            screen
                .lines()
                .next()
                .unwrap()
                .contains(&format!("sort {}", key.label())),
            "{screen}"
        );
    }
}

#[test]
fn tiny_terminal_says_so() {
    let data = overview_data();
    let endpoints = endpoints();
    let mut state = state_for(&data);
    let (buffer, layout) = render(20, 5, &input(&state, &data, None, &endpoints, COLOR));
    let screen = text(&buffer);
    insta::assert_snapshot!("tiny_20x5", screen);
    assert!(screen.contains("too small"), "{screen}");
    assert_eq!(layout, None);
    // The detail view and the help overlay give way too.
    state.mode = Mode::Help(Screen::Detail(0));
    let detail = detail_data();
    let (buffer, _) = render(
        39,
        8,
        &input(&state, &data, Some(&detail), &endpoints, COLOR),
    );
    assert!(text(&buffer).contains("too small"));
}

#[test]
fn no_colour_means_no_colour_anywhere() {
    let data = overview_data();
    let endpoints = endpoints();
    let detail = detail_data();
    let mut state = state_for(&data);
    let (buffer, _) = render(140, 14, &input(&state, &data, None, &endpoints, NO_COLOR));
    insta::assert_snapshot!("overview_no_color", text(&buffer));
    assert_plain(&buffer);
    // The symbols carry the states instead.
    let screen = text(&buffer);
    assert!(screen.contains("✖ payments-api"), "{screen}");
    state.mode = Mode::Detail(2);
    let (buffer, _) = render(
        100,
        30,
        &input(
            &state,
            &data,
            Some(&DetailData { index: 2, ..detail }),
            &endpoints,
            NO_COLOR,
        ),
    );
    assert_plain(&buffer);
    assert!(text(&buffer).contains('✖'));
}

#[test]
fn colour_marks_the_down_row_red() {
    let data = overview_data();
    let endpoints = endpoints();
    let state = state_for(&data);
    let (buffer, _) = render(140, 14, &input(&state, &data, None, &endpoints, COLOR));
    let screen = text(&buffer);
    let y = line_of(&screen, "payments-api").unwrap() as u16;
    let symbol = &buffer[(0, y)];
    assert_eq!(symbol.symbol(), "✖");
    assert_eq!(symbol.fg, Color::Red);
    assert!(symbol.modifier.contains(Modifier::BOLD));
    let up = line_of(&screen, "static-cdn").unwrap() as u16;
    assert_eq!(buffer[(0, up)].fg, Color::Green);
}

#[test]
fn escape_sequences_never_reach_the_terminal() {
    let data = overview_data();
    let endpoints = endpoints();
    let state = state_for(&data);
    let (buffer, _) = render(140, 14, &input(&state, &data, None, &endpoints, COLOR));
    let screen = text(&buffer);
    assert!(screen.contains("[2J]0;pwned"), "{screen}");
    assert_no_control_or_bidi(&buffer);
}

/// Statistics of one endpoint with a hostile name that answered twice, then failed
/// twice with a hostile message.
fn hostile_stats() -> (StatsStore, Vec<Endpoint>) {
    let span = Duration::from_secs(300);
    let mut stats = EndpointStats::default();
    for (i, ms) in [3u64, 5].into_iter().enumerate() {
        let ok = ProbeOutcome {
            latency: Some(Duration::from_millis(ms)),
            status: Some(200),
            ..ProbeOutcome::default()
        };
        stats.record(
            ok,
            10 + i as u32 * 10,
            at(TAKEN_AT_SECS - 4 + i as u64),
            span,
        );
    }
    for i in 0..2u32 {
        let message = format!("{HOSTILE_ERROR}\u{202E}pwned{i}");
        let failed = ProbeOutcome::failed(ErrorClass::Other, message);
        stats.record(
            failed,
            30 + i * 10,
            at(TAKEN_AT_SECS - 2 + u64::from(i)),
            span,
        );
    }
    let mut snapshot = StatsStore::new(at(TAKEN_AT_SECS - 5), span, vec![stats]);
    snapshot.stamp(at(TAKEN_AT_SECS), 50);
    let mut hostile = endpoint(HOSTILE_NAME, "http://127.0.0.1:9/", 1);
    hostile.url_as_written = "http://127.0.0.1:9/\x1b[2J".into();
    (snapshot, vec![hostile])
}

#[test]
fn hostile_text_through_the_real_model_is_cleaned() {
    let (snapshot, endpoints) = hostile_stats();
    let data = model::overview(&snapshot, &endpoints, Span::FiveMinutes);
    let detail = model::detail(&snapshot, 0, Span::FiveMinutes).expect("endpoint 0");
    let mut state = state_for(&data);
    let (buffer, _) = render(140, 10, &input(&state, &data, None, &endpoints, COLOR));
    let screen = text(&buffer);
    insta::assert_snapshot!("hostile_overview", screen);
    assert!(screen.contains("other: [2J]0;pwnedpwned1"), "{screen}");
    assert!(screen.contains("✖ evil[31mname"), "{screen}");
    assert_no_control_or_bidi(&buffer);

    state.mode = Mode::Detail(0);
    let (buffer, _) = render(
        100,
        24,
        &input(&state, &data, Some(&detail), &endpoints, COLOR),
    );
    let screen = text(&buffer);
    insta::assert_snapshot!("hostile_detail", screen);
    assert!(screen.contains("pwned1"), "{screen}");
    assert!(screen.contains("http://127.0.0.1:9/[2J"), "{screen}");
    assert!(
        line_of(&screen, "pwned1") < line_of(&screen, "pwned0"),
        "newest first"
    );
    assert_no_control_or_bidi(&buffer);
}

#[test]
fn selected_row_is_reversed() {
    let data = overview_data();
    let endpoints = endpoints();
    let mut state = state_for(&data);
    state.selected = Some(2);
    state.refresh_rows(&data);
    let (buffer, _) = render(140, 14, &input(&state, &data, None, &endpoints, COLOR));
    let screen = text(&buffer);
    insta::assert_snapshot!("selected_payments", screen);
    let y = line_of(&screen, "payments-api").unwrap() as u16;
    let row_width = screen.lines().nth(y as usize).unwrap().chars().count() as u16;
    for x in 0..row_width {
        assert!(
            buffer[(x, y)].modifier.contains(Modifier::REVERSED),
            "cell {x} of the selected row is not reversed"
        );
    }
    let other = line_of(&screen, "static-cdn").unwrap() as u16;
    for x in 0..buffer.area.width {
        assert!(!buffer[(x, other)].modifier.contains(Modifier::REVERSED));
    }
}

#[test]
fn scrolling_keeps_the_selection_on_screen() {
    let mut data = overview_data();
    let template = EndpointRow::clone(&data.rows[0]);
    data.rows = (0..50)
        .map(|i| {
            Arc::new(EndpointRow {
                name: format!("endpoint-{i:02}"),
                ..template.clone()
            })
        })
        .collect();
    let endpoints = endpoints();
    let mut state = state_for(&data);
    state.selected = Some(40);
    state.refresh_rows(&data);
    // As the dashboard loop does: each frame reports how many rows fit.
    let mut buffer = None;
    for _ in 0..2 {
        let (b, layout) = render(100, 12, &input(&state, &data, None, &endpoints, NO_COLOR));
        let layout = layout.expect("the overview reports its layout");
        state.set_page(layout.page, layout.table_top);
        buffer = Some(b);
    }
    let buffer = buffer.unwrap();
    let screen = text(&buffer);
    insta::assert_snapshot!("scrolled_to_40", screen);
    let y = line_of(&screen, "endpoint-40").expect("the selected row is on screen") as u16;
    assert!(buffer[(2, y)].modifier.contains(Modifier::REVERSED));
    assert!(!screen.contains("endpoint-00"), "{screen}");
    assert_eq!(state.page, 8);
}

#[test]
fn every_size_draws_without_panicking() {
    let data = overview_data();
    let endpoints = endpoints();
    let full = detail_data();
    let mut state = state_for(&data);
    state.status = Some(Status {
        text: "exported probetop-snapshots/x.json".into(),
        is_error: false,
    });
    for width in (1..=130).step_by(4) {
        for height in (1..=45).step_by(3) {
            for shown in [None, Some(&full)] {
                state.mode = Mode::Overview;
                render(
                    width,
                    height,
                    &input(&state, &data, shown, &endpoints, COLOR),
                );
                state.mode = Mode::Detail(0);
                render(
                    width,
                    height,
                    &input(&state, &data, shown, &endpoints, COLOR),
                );
                // The detail view on its own, below the dashboard's minimum size too.
                let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
                terminal
                    .draw(|frame| {
                        let area = frame.area();
                        probetop::ui::detail::draw(
                            frame,
                            area,
                            &state,
                            false,
                            shown,
                            &endpoints[0],
                            &COLOR,
                        );
                    })
                    .unwrap();
            }
        }
    }
}

/// Five minutes of an HTTPS endpoint reusing its connections, recorded through the
/// statistics' own methods: three new connections (DNS, connect, TLS), then a
/// probe every 10 s (TTFB, transfer). `min_cert_days` and the certificate's days
/// left are the caller's.
fn phase_stats(min_cert_days: Option<u32>, cert_days: u64) -> StatsStore {
    let span = Duration::from_secs(300);
    let mut stats = EndpointStats::with_rules(EndpointRules {
        state: StateRule::default(),
        min_cert_days,
        canary: false,
    });
    let start = TAKEN_AT_SECS - 300;
    // Deciseconds since the start; the window ends at 3000.
    for (i, at_ds) in [10u32, 1_000, 2_000].into_iter().enumerate() {
        let phases = ConnectionPhases {
            dns: Some(Duration::from_micros(800 + 100 * i as u64)),
            connect: Some(Duration::from_micros(300)),
            tls: Some(Duration::from_millis(4)),
        };
        stats.record_connection(&phases, at_ds, span);
    }
    for i in 0..30u32 {
        let ttfb = Duration::from_micros(900 + u64::from(i % 5) * 50);
        let transfer = Duration::from_micros(200);
        let outcome = ProbeOutcome {
            latency: Some(ttfb + transfer),
            status: Some(200),
            ttfb: Some(ttfb),
            transfer: Some(transfer),
            cert_not_after: Some(at(TAKEN_AT_SECS + cert_days * DAY + 3_600)),
            ..ProbeOutcome::default()
        };
        stats.record(outcome, i * 100, at(start + u64::from(i) * 10), span);
    }
    let mut store = StatsStore::new(at(start), span, vec![stats]);
    store.stamp(at(TAKEN_AT_SECS), 3_000);
    store
}

/// The row of `phase` in the phases table, split into its cells.
fn phase_row(screen: &str, phase: &str) -> Option<Vec<String>> {
    screen.lines().find_map(|line| {
        let cells: Vec<String> = line.split_whitespace().map(String::from).collect();
        (cells.len() >= 6 && cells[1] == phase).then(|| cells[..6].to_vec())
    })
}

/// One endpoint probing `url_text` every `interval_secs`, with a 5 s timeout.
fn endpoint(name: &str, url_text: &str, interval_secs: u64) -> Endpoint {
    Endpoint::new(
        name,
        url(url_text),
        Duration::from_secs(interval_secs),
        Duration::from_secs(5),
    )
}

/// What the dashboard holds once it opened the detail view of endpoint 0 of a store,
/// over the last five minutes.
struct OpenDetail {
    data: OverviewData,
    state: UiState,
    detail: DetailData,
}

impl OpenDetail {
    /// The detail view of endpoint 0 showing `detail`, over the overview `data`.
    fn new(data: OverviewData, detail: DetailData) -> Self {
        let mut state = state_for(&data);
        state.mode = Mode::Detail(0);
        OpenDetail {
            data,
            state,
            detail,
        }
    }

    /// The detail view of the fixed data: [`overview_data`], [`detail_data`].
    fn fixed() -> Self {
        OpenDetail::new(overview_data(), detail_data())
    }

    /// The detail view of endpoint 0 of `snapshot`, configured as `endpoints`.
    fn of(snapshot: &StatsStore, endpoints: &[Endpoint]) -> Self {
        OpenDetail::new(
            model::overview(snapshot, endpoints, Span::FiveMinutes),
            model::detail(snapshot, 0, Span::FiveMinutes).expect("endpoint 0"),
        )
    }

    /// What the view draws it from.
    fn input<'a>(&'a self, endpoints: &'a [Endpoint], theme: Theme) -> ViewInput<'a> {
        input(
            &self.state,
            &self.data,
            Some(&self.detail),
            endpoints,
            theme,
        )
    }

    /// Its frame of `width`×`height`.
    fn render(&self, width: u16, height: u16, endpoints: &[Endpoint], theme: Theme) -> Buffer {
        render(width, height, &self.input(endpoints, theme)).0
    }
}

#[test]
fn detail_shows_where_the_time_goes() {
    let snapshot = phase_stats(None, 45);
    let endpoints = vec![endpoint("api", "https://api.example.com/health", 10)];
    let mut open = OpenDetail::of(&snapshot, &endpoints);
    let buffer = open.render(100, 30, &endpoints, NO_COLOR);
    let screen = text(&buffer);
    insta::assert_snapshot!("detail_phases_100x30", screen);

    assert!(
        screen.contains("where the time goes, last 5m · connections: 3 new"),
        "{screen}"
    );
    // Symbol, name, count, p50, p90, p99: three connections, thirty responses.
    let rows: Vec<Vec<String>> = ["dns", "connect", "tls", "ttfb", "transfer"]
        .iter()
        .map(|p| phase_row(&screen, p).unwrap_or_else(|| panic!("no {p} row:\n{screen}")))
        .collect();
    let counts: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(counts, ["3", "3", "3", "30", "30"], "{screen}");
    assert_eq!(rows[1][3], "0.30", "connect p50: {screen}");
    assert_eq!(rows[2][3], "4.00", "tls p50: {screen}");
    assert_eq!(rows[4][3], "0.20", "transfer p50: {screen}");
    // Each phase has its own symbol, in the table and the bar, without colour too.
    let symbols: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(symbols, ["░", "▒", "▓", "█", "▚"]);
    let bar = screen
        .lines()
        .find(|l| l.contains("p50 sum"))
        .unwrap_or_else(|| panic!("no bar:\n{screen}"));
    for symbol in symbols {
        assert!(bar.contains(symbol), "{symbol} missing from {bar}");
    }
    assert!(
        screen.contains("expires in 45 days (2027-01-05)"),
        "{screen}"
    );
    assert_plain(&buffer);

    // The last minute saw no new connection: DNS, connect and TLS did not happen,
    // shown as such, not as zero milliseconds.
    open.detail = model::detail(&snapshot, 0, Span::OneMinute).expect("endpoint 0");
    open.state.span = Span::OneMinute;
    let screen = text(&open.render(100, 30, &endpoints, NO_COLOR));
    assert!(screen.contains("connections: 0 new"), "{screen}");
    assert_eq!(
        phase_row(&screen, "dns").unwrap()[2..],
        ["0", "–", "–", "–"]
    );
    assert_eq!(phase_row(&screen, "ttfb").unwrap()[2], "6", "{screen}");

    // All-time comes from the all-time histograms.
    open.detail = model::detail(&snapshot, 0, Span::AllTime).expect("endpoint 0");
    assert_eq!(open.detail.connections, 3);
    open.state.span = Span::AllTime;
    let screen = text(&open.render(100, 30, &endpoints, NO_COLOR));
    assert!(screen.contains("all-time · connections: 3 new"), "{screen}");
    assert_eq!(phase_row(&screen, "transfer").unwrap()[2], "30");
}

#[test]
fn detail_warns_of_a_certificate_expiring_soon() {
    let snapshot = phase_stats(Some(7), 5);
    let mut api = endpoint("api", "https://api.example.com/health", 10);
    api.expect.min_cert_days = Some(7);
    let endpoints = vec![api];
    let mut open = OpenDetail::of(&snapshot, &endpoints);
    assert_eq!(open.detail.state, State::Degraded);
    let buffer = open.render(100, 30, &endpoints, COLOR);
    let screen = text(&buffer);
    insta::assert_snapshot!("detail_certificate_expiring", screen);

    let title = screen.lines().next().unwrap();
    assert!(
        title.starts_with("◐ api  degraded: certificate expires in 5 days  window 5m"),
        "{title}"
    );
    // The right column is 45 wide: the short form of the minimum.
    let warning = "expires in 5 days (2026-11-26) < min 7";
    let y = line_of(&screen, warning).unwrap_or_else(|| panic!("no warning:\n{screen}"));
    let x = buffer_x_of(&buffer, y as u16, warning).unwrap();
    let cell = &buffer[(x, y as u16)];
    assert_eq!(cell.fg, Color::Yellow, "{cell:?}");
    assert!(cell.modifier.contains(Modifier::BOLD));
    assert!(
        screen.contains("cert ≥ 7 days left (else degraded)"),
        "{screen}"
    );
    // With room, the minimum is named as in the config.
    let screen = text(&open.render(140, 40, &endpoints, COLOR));
    assert!(
        screen.contains("expires in 5 days (2026-11-26): under min_cert_days 7"),
        "{screen}"
    );

    // With plenty of days left, no warning: the minimum is shown, dim.
    let snapshot = phase_stats(Some(7), 45);
    open.detail = model::detail(&snapshot, 0, Span::FiveMinutes).expect("endpoint 0");
    assert_eq!(open.detail.state, State::Up);
    let screen = text(&open.render(100, 30, &endpoints, COLOR));
    assert!(
        screen.contains("expires in 45 days (2027-01-05), min 7"),
        "{screen}"
    );
    assert!(!screen.contains("< min"), "{screen}");
    assert!(
        screen
            .lines()
            .next()
            .unwrap()
            .starts_with("● api  up  window")
    );
}

#[test]
fn detail_says_when_a_degraded_endpoint_is_slow_or_has_no_tls_yet() {
    let mut stats = EndpointStats::default();
    let slow = ProbeOutcome {
        latency: Some(Duration::from_millis(450)),
        status: Some(200),
        slow: true,
        ..ProbeOutcome::default()
    };
    stats.record(slow, 10, at(TAKEN_AT_SECS - 1), Duration::from_secs(300));
    let mut snapshot =
        StatsStore::new(at(TAKEN_AT_SECS - 5), Duration::from_secs(300), vec![stats]);
    snapshot.stamp(at(TAKEN_AT_SECS), 50);
    let mut api = endpoint("api", "https://api.example.com/health", 1);
    api.expect.max_latency = Some(Duration::from_millis(300));
    let endpoints = vec![api];
    let open = OpenDetail::of(&snapshot, &endpoints);
    let screen = text(&open.render(100, 30, &endpoints, COLOR));
    let title = screen.lines().next().unwrap();
    assert!(
        title.starts_with("◐ api  degraded: slower than max_latency 300ms  window 5m"),
        "{title}"
    );
    assert!(screen.contains("no TLS connection yet"), "{screen}");
    // No phase was timed: one line says so instead of a table of dashes.
    assert!(screen.contains("no timings yet"), "{screen}");
    // Too narrow for the reason and the warnings: the reason gives way.
    let (buffer, _) = render(
        40,
        12,
        &ViewInput {
            paused: true,
            ..open.input(&endpoints, COLOR)
        },
    );
    let title = text(&buffer).lines().next().unwrap().to_string();
    assert_eq!(title, "◐ api  degraded  window 5m  PAUSED");
}

#[test]
fn detail_lists_state_changes_newest_first() {
    let span = Duration::from_secs(300);
    let mut stats = EndpointStats::default();
    let good = || ProbeOutcome {
        latency: Some(Duration::from_millis(2)),
        status: Some(200),
        ..ProbeOutcome::default()
    };
    let bad = || ProbeOutcome::failed(ErrorClass::Timeout, "no answer");
    // Up at -100 s, down at -60 s (after two failures), up again at -20 s.
    let probes = [
        (100, good()),
        (80, bad()),
        (60, bad()),
        (20, good()),
        (10, good()),
    ];
    for (ago, outcome) in probes {
        let at_ds = (300 - ago) as u32 * 10;
        stats.record(outcome, at_ds, at(TAKEN_AT_SECS - ago), span);
    }
    let mut snapshot = StatsStore::new(at(TAKEN_AT_SECS - 300), span, vec![stats]);
    snapshot.stamp(at(TAKEN_AT_SECS), 3_000);
    let endpoints = vec![endpoint("api", "http://127.0.0.1:8080/health", 1)];
    let buffer = OpenDetail::of(&snapshot, &endpoints).render(100, 30, &endpoints, COLOR);
    let screen = text(&buffer);
    insta::assert_snapshot!("detail_state_changes", screen);

    assert!(
        screen.contains("state changes, newest first (UTC)"),
        "{screen}"
    );
    let newest = line_of(&screen, "22:44:40  ✖ down → ● up").expect("the recovery");
    let middle = line_of(&screen, "22:44:00  ● up → ✖ down").expect("the outage");
    let oldest = line_of(&screen, "22:43:20  ○ unknown → ● up").expect("the first probe");
    assert!(newest < middle && middle < oldest, "{screen}");
    // Coloured by state.
    let x = buffer_x_of(&buffer, newest as u16, "✖ down").unwrap();
    assert_eq!(buffer[(x, newest as u16)].fg, Color::Red);
    let x = buffer_x_of(&buffer, newest as u16, "● up").unwrap();
    assert_eq!(buffer[(x, newest as u16)].fg, Color::Green);
    // Plain HTTP: no certificate panel.
    assert!(!screen.contains(" certificate "), "{screen}");
}

#[test]
fn detail_shows_every_expectation_cleaned() {
    let mut endpoints = endpoints();
    let e = &mut endpoints[0];
    e.headers.clear();
    e.connection = ConnectionMode::Fresh;
    e.http = Some(HttpVersion::Http2);
    e.expect.status = Some(vec![StatusMatch::Code(200), StatusMatch::Class(3)]);
    e.expect.body_contains = Some("ok\x1b[2J\u{202E}".into());
    e.expect.body_regex = Some(regex::Regex::new("^\\{.*\"up\"\x07").unwrap());
    e.expect.json = vec![
        ("/status".into(), serde_json::json!("ok\x1b]0;pwned")),
        ("/checks/0/healthy".into(), serde_json::json!(true)),
    ];
    e.expect.headers = vec![(
        "content-type\x1b[31m".into(),
        regex::Regex::new("^application/json\x1b\\[0m").unwrap(),
    )];
    e.expect.min_cert_days = Some(14);
    // Wide enough for the longest condition in the settings column.
    let buffer = OpenDetail::fixed().render(140, 45, &endpoints, COLOR);
    let screen = text(&buffer);
    insta::assert_snapshot!("detail_expectations", screen);

    for expected in [
        "connection fresh (a new one per probe)",
        "http       HTTP/2 only",
        "expect     status 200, 3xx",
        "body contains \"ok[2J\"",
        "body matches /^\\{.*\"up\"/",
        "json /status = \"ok\\u001b]0;pwned\"",
        "json /checks/0/healthy = true",
        "header content-type[31m ~ /^application/json\\[0m/",
        "latency ≤ 300ms (else degraded)",
        "cert ≥ 14 days left (else degraded)",
    ] {
        assert!(screen.contains(expected), "{expected:?} missing:\n{screen}");
    }
    assert_no_control_or_bidi(&buffer);
}

#[test]
fn tcp_endpoints_show_connection_phases_only() {
    let span = Duration::from_secs(300);
    let mut stats = EndpointStats::default();
    for i in 0..10u32 {
        let phases = ConnectionPhases {
            dns: Some(Duration::from_micros(500)),
            connect: Some(Duration::from_micros(250 + u64::from(i) * 10)),
            tls: None,
        };
        stats.record_connection(&phases, i * 10, span);
        let outcome = ProbeOutcome {
            latency: Some(Duration::from_micros(800)),
            ..ProbeOutcome::default()
        };
        stats.record(outcome, i * 10, at(TAKEN_AT_SECS - 10 + u64::from(i)), span);
    }
    let mut snapshot = StatsStore::new(at(TAKEN_AT_SECS - 10), span, vec![stats]);
    snapshot.stamp(at(TAKEN_AT_SECS), 100);
    let endpoints = vec![endpoint("postgres", "tcp://db.internal:5432", 1)];
    let open = OpenDetail::of(&snapshot, &endpoints);
    // A successful TCP probe has no status: the overview says the port is open.
    assert_eq!(open.data.rows[0].last_result, "open");
    let buffer = open.render(100, 30, &endpoints, NO_COLOR);
    let screen = text(&buffer);
    insta::assert_snapshot!("detail_tcp", screen);

    assert!(screen.contains("connections: 10 new"), "{screen}");
    assert_eq!(phase_row(&screen, "dns").unwrap()[2], "10", "{screen}");
    assert_eq!(phase_row(&screen, "connect").unwrap()[2], "10", "{screen}");
    for hidden in ["ttfb", "transfer", "tls"] {
        assert_eq!(phase_row(&screen, hidden), None, "{hidden}:\n{screen}");
    }
    assert!(screen.contains("connect every 1s, timeout 5s"), "{screen}");
    assert!(screen.contains("expect     connection opens"), "{screen}");
    assert!(!screen.contains("certificate"), "{screen}");
    assert!(!screen.contains("status 2xx"), "{screen}");
    assert_plain(&buffer);
}

#[test]
fn detail_extras_draw_at_every_size() {
    let data = overview_data();
    let mut tcp = endpoints();
    tcp[0] = endpoint("postgres", "tcp://db.internal:5432", 1);
    let mut slow = endpoints();
    slow[0].expect.min_cert_days = Some(7);
    // Degraded for both reasons, with a certificate already expired.
    let degraded = DetailData {
        state: State::Degraded,
        certificate: Some(Certificate {
            not_after: at(TAKEN_AT_SECS - 2 * DAY),
            days_left: -2,
            expires_soon: true,
        }),
        min_cert_days: Some(7),
        last_latency_ms: Some(450.0),
        ..detail_data()
    };
    let mut state = state_for(&data);
    state.mode = Mode::Detail(0);
    let mut wide_title = None;
    for (endpoints, detail) in [(&tcp, detail_data()), (&slow, degraded)] {
        for width in (1..=130).step_by(3) {
            for height in (1..=45).step_by(2) {
                let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
                terminal
                    .draw(|frame| {
                        let area = frame.area();
                        probetop::ui::detail::draw(
                            frame,
                            area,
                            &state,
                            false,
                            Some(&detail),
                            &endpoints[0],
                            &COLOR,
                        );
                    })
                    .unwrap();
                if width == 130 && height == 45 && detail.state == State::Degraded {
                    let screen = text(terminal.backend().buffer());
                    wide_title = screen.lines().next().map(String::from);
                }
            }
        }
    }
    assert_eq!(
        wide_title.as_deref(),
        Some(
            "◐ api  degraded: certificate expired 2 days ago, slower than max_latency 300ms  window 5m"
        )
    );
}
