//! The dashboard's smaller promises, rendered into ratatui's `TestBackend`: a unit on
//! the latency columns, names that stay distinguishable when cut, a header whose
//! essentials fit 80 columns, a help overlay that scrolls (and names the configured
//! export formats), status lines that expire, the detail view's counts titled for
//! what they count, and a chart whose time axis spans the data it has and whose
//! latency scale follows the probes on screen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use probetop::config::{Endpoint, ExportFormat};
use probetop::probe::ErrorClass;
use probetop::stats::{self, Clock, LatencySummary, OverloadReason, PhaseSummary, State};
use probetop::ui::event_loop::{Event, EventLoop, Services};
use probetop::ui::help;
use probetop::ui::keymap;
use probetop::ui::model::{DetailData, EndpointRow, OverviewData, Span, SparkPoint};
use probetop::ui::state::{Mode, Screen, UiState};
use probetop::ui::theme::Theme;
use probetop::ui::view::ViewInput;
use probetop::ui::{STATUS_TIME, sanitize::clean};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use crate::support::screen::{self, TAKEN_AT_SECS, at, screen as render, state_for, text};

const THEME: Theme = Theme { color: false };

fn row(name: &str, state: State, p50: f64) -> EndpointRow {
    EndpointRow {
        name: clean(name),
        state,
        last_latency_ms: Some(p50),
        latency: Some(LatencySummary {
            min: p50 * 0.7,
            mean: p50,
            p50,
            p90: p50 * 1.5,
            p99: p50 * 2.0,
            p999: p50 * 2.5,
            max: p50 * 3.0,
        }),
        span_probes: 300,
        span_ok: 300,
        probes: 1234,
        skipped: 0,
        spark: (0..60)
            .map(|i| SparkPoint::Latency(1000 + i * 10))
            .collect(),
        last_result: "200".into(),
        last_failed: false,
    }
}

/// Two endpoints whose names differ only in their last character, among others.
fn overview_data() -> OverviewData {
    OverviewData {
        elapsed: Duration::from_secs(3723),
        taken_at: at(TAKEN_AT_SECS),
        total_probes: 6170,
        lag_p99_ms: Some(0.42),
        span: Span::FiveMinutes,
        rows: vec![
            row("api", State::Up, 1.1),
            row("tls-selfsigned-a", State::Degraded, 12.0),
            row("tls-selfsigned-b", State::Down, 45.0),
            row("search", State::Unknown, 3.0),
            row("static-cdn", State::Up, 0.4),
        ]
        .into_iter()
        .map(Arc::new)
        .collect(),
        overload: None,
        local_network_down: false,
    }
}

fn endpoints(data: &OverviewData) -> Vec<Endpoint> {
    data.rows
        .iter()
        .map(|r| {
            Endpoint::new(
                &r.name,
                url::Url::parse("https://127.0.0.1:9/health").expect("a URL"),
                Duration::from_secs(1),
                Duration::from_secs(5),
            )
        })
        .collect()
}

/// [`screen::input`] in this file's theme.
fn input<'a>(
    state: &'a UiState,
    data: &'a OverviewData,
    detail: Option<&'a DetailData>,
    endpoints: &'a [Endpoint],
) -> ViewInput<'a> {
    screen::input(state, data, detail, endpoints, THEME)
}

fn line<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}:\n{screen}"))
}

/// The name cell of the table row whose state symbol is `symbol` (each fixture row
/// has its own state, so its own symbol).
fn name_cell(screen: &str, symbol: char) -> String {
    let row = screen
        .lines()
        .skip(2)
        .find(|l| l.starts_with(symbol))
        .unwrap_or_else(|| panic!("no row {symbol}:\n{screen}"));
    row.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn latency_columns_carry_their_unit() {
    let data = overview_data();
    let endpoints = endpoints(&data);
    let state = state_for(&data);
    for width in [80, 100, 140] {
        let screen = render(width, 24, &input(&state, &data, None, &endpoints));
        let heading = screen.lines().nth(1).unwrap();
        for column in ["P50 ms", "P99 ms", "MAX ms"] {
            assert!(heading.contains(column), "{width}: {heading}");
        }
        assert!(!heading.contains('…'), "{width}: {heading}");
        // The numbers stay right under their headings.
        let heading: Vec<char> = heading.chars().collect();
        let p99_end = (0..heading.len())
            .find(|&i| heading[i..].starts_with(&"P99 ms".chars().collect::<Vec<_>>()))
            .unwrap()
            + "P99 ms".len();
        let api: Vec<char> = line(&screen, " api ").chars().collect();
        let cell: String = api[p99_end - 4..p99_end].iter().collect();
        assert_eq!(cell, "2.20", "{width}:\n{screen}");
    }
    // Narrower, the table keeps fewer columns, each still with its unit.
    let screen = render(50, 12, &input(&state, &data, None, &endpoints));
    let heading = screen.lines().nth(1).unwrap();
    assert!(heading.contains("P99 ms"), "{heading}");
}

#[test]
fn names_stay_distinguishable_when_cut() {
    let data = overview_data();
    let endpoints = endpoints(&data);
    let state = state_for(&data);
    // At 100 columns the name column takes the room the names need.
    let screen = render(100, 24, &input(&state, &data, None, &endpoints));
    assert_eq!(name_cell(&screen, '◐'), "tls-selfsigned-a", "{screen}");
    assert_eq!(name_cell(&screen, '✖'), "tls-selfsigned-b", "{screen}");
    // At 80 the sparkline gives way before the names (and LAST RESULT) do.
    let screen = render(80, 24, &input(&state, &data, None, &endpoints));
    insta::assert_snapshot!("overview_80x24", screen);
    assert_eq!(name_cell(&screen, '◐'), "tls-selfsigned-a", "{screen}");
    assert_eq!(name_cell(&screen, '✖'), "tls-selfsigned-b", "{screen}");
    assert!(screen.contains("LAST RESULT"), "{screen}");

    // Longer names, at 100 columns: cut too, still told apart.
    let mut long = overview_data();
    Arc::make_mut(&mut long.rows[1]).name = "tls-selfsigned-certificate-eu-west-a".into();
    Arc::make_mut(&mut long.rows[2]).name = "tls-selfsigned-certificate-eu-west-b".into();
    let endpoints = self::endpoints(&long);
    let state = state_for(&long);
    for width in [80, 100] {
        let screen = render(width, 24, &input(&state, &long, None, &endpoints));
        let (a, b) = (name_cell(&screen, '◐'), name_cell(&screen, '✖'));
        let tail = if width == 80 { "est-a" } else { "west-a" };
        assert!(a.ends_with(tail), "{width}:\n{screen}");
        assert!(b.ends_with(&tail.replace('a', "b")), "{width}:\n{screen}");
        assert!(a.starts_with("tls-se") && a.contains('…'), "{width}: {a}");
        // The percentiles are still there.
        assert!(
            screen.lines().nth(1).unwrap().contains("P99 ms"),
            "{screen}"
        );
    }
}

#[test]
fn the_header_keeps_its_essentials_at_80_columns() {
    let mut data = overview_data();
    let endpoints = endpoints(&data);
    let state = state_for(&data);
    let essentials = |header: &str, width: usize| {
        use unicode_width::UnicodeWidthStr;
        assert!(header.width() <= width, "{header}");
        assert!(!header.contains('…'), "cut: {header}");
        for part in ["01:02:03", "2 up", "1 down", "1 unknown", "20.5", "lag"] {
            assert!(header.contains(part), "{part:?} missing: {header}");
        }
    };
    let screen = render(80, 24, &input(&state, &data, None, &endpoints));
    let header = screen.lines().next().unwrap();
    essentials(header, 80);
    assert!(header.contains("1 degraded") && header.contains("20.5 probes/s"));
    assert!(header.starts_with("01:02:03  ● 2 up"), "{header}");

    // Paused: said, with the rest.
    let mut paused = input(&state, &data, None, &endpoints);
    paused.paused = true;
    let screen = render(80, 24, &paused);
    let header = screen.lines().next().unwrap();
    essentials(header, 80);
    assert!(header.contains("PAUSED"), "{header}");

    // Overloaded and paused: the reason in a few words, and still every essential.
    data.overload = Some(OverloadReason::SchedulerLag { lag_ms: 320 });
    let mut both = input(&state, &data, None, &endpoints);
    both.paused = true;
    let screen = render(80, 24, &both);
    let header = screen.lines().next().unwrap();
    assert!(
        header.starts_with("OVERLOADED: 320 ms late PAUSED"),
        "{header}"
    );
    for part in ["01:02:03", "●2", "✖1", "20.5", "lag 0.42 ms"] {
        assert!(header.contains(part), "{part:?} missing: {header}");
    }
    assert!(!header.contains('…'), "{header}");

    // Wide, everything, the full reason first.
    let screen = render(220, 24, &both);
    let header = screen.lines().next().unwrap();
    assert!(
        header.starts_with("probetop OVERLOADED: ticks fire late (scheduler lag 320 ms > 50 ms)"),
        "{header}"
    );
    for part in [
        "window 5m",
        "sort config",
        "6170 probes in all",
        "lag p99 0.42 ms",
    ] {
        assert!(header.contains(part), "{part:?} missing: {header}");
    }
    // 120 columns (the tmux tests' pane): the name and the run time lead.
    data.overload = None;
    let screen = render(120, 24, &input(&state, &data, None, &endpoints));
    let header = screen.lines().next().unwrap();
    assert!(header.starts_with("probetop 01:02:03"), "{header}");
    assert!(header.contains("window 5m"), "{header}");
}

#[test]
fn the_footer_keeps_whole_keys() {
    let data = overview_data();
    let endpoints = endpoints(&data);
    let state = state_for(&data);
    let screen = render(80, 24, &input(&state, &data, None, &endpoints));
    let footer = screen.lines().last().unwrap();
    assert!(footer.ends_with("? help q quit"), "{footer}");
    assert!(!footer.contains('…'), "{footer}");
    // Narrower still: the keys that do not fit whole are left out.
    let screen = render(50, 24, &input(&state, &data, None, &endpoints));
    let footer = screen.lines().last().unwrap();
    assert!(footer.starts_with("↑↓ move ⏎ detail"), "{footer}");
    assert!(!footer.contains('…'), "{footer}");
    let last_word = footer.split_whitespace().last().unwrap();
    assert!(
        [
            "move", "detail", "filter", "sort", "window", "pause", "reset", "export"
        ]
        .contains(&last_word),
        "{footer}"
    );
    // With room, double gaps.
    let screen = render(100, 24, &input(&state, &data, None, &endpoints));
    assert!(screen.lines().last().unwrap().contains("? help  q quit"));
}

/// `total` rows of help, of which the screen shows the rows of its box.
fn help_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter_map(|l| {
            let start = l.find('│')?;
            let rest = &l[start + '│'.len_utf8()..];
            let end = rest.rfind('│')?;
            Some(rest[..end].trim_end().to_string())
        })
        .collect()
}

#[test]
fn the_help_scrolls_when_it_does_not_fit() {
    let data = overview_data();
    let endpoints = endpoints(&data);
    let mut state = state_for(&data);
    state.mode = Mode::Help(Screen::Overview);
    let area = Rect::new(0, 0, 45, 10);
    let (shown, total) = help::room(area, &state.export_formats);
    assert!(shown >= 5 && total > shown, "{shown} of {total}");
    state.set_help_room(shown, total);

    let screen = render(45, 10, &input(&state, &data, None, &endpoints));
    insta::assert_snapshot!("help_45x10_top", screen);
    let rows = help_rows(&screen);
    assert_eq!(rows.len(), shown + 1, "rows and the hint:\n{screen}");
    assert!(rows[0].starts_with("↑ ↓  j k"), "{screen}");
    assert!(
        screen.contains(&format!("1–{shown} of {total} ↓")),
        "{screen}"
    );
    assert!(
        rows.last().unwrap().contains("PgUp PgDn scroll"),
        "{screen}"
    );
    assert!(!screen.contains("wheel scrolls"), "the last line is below");

    // Every help line shows at some position, whole (wrapped, never cut).
    let mut seen: Vec<String> = Vec::new();
    let press = |state: &mut UiState, code| {
        state.on_key(KeyEvent::from(code), &data);
    };
    for _ in 0..total {
        let screen = render(45, 10, &input(&state, &data, None, &endpoints));
        let rows = help_rows(&screen);
        seen.extend(rows[..rows.len() - 1].iter().cloned());
        press(&mut state, KeyCode::Down);
    }
    let seen = seen.join(" ");
    for line in keymap::help_lines_for(&state.export_formats) {
        for word in line
            .text
            .split_whitespace()
            .chain(line.keys.split_whitespace())
        {
            assert!(seen.contains(word), "{word:?} of {line:?} never shown");
        }
    }
    // At the bottom: the last line, and the indicator says nothing more is below.
    let screen = render(45, 10, &input(&state, &data, None, &endpoints));
    insta::assert_snapshot!("help_45x10_bottom", screen);
    assert!(screen.contains("wheel scrolls"), "{screen}");
    let first = total - shown + 1;
    assert!(
        screen.contains(&format!("↑ {first}–{total} of {total} ")),
        "{screen}"
    );
    // PgUp goes back a box at a time, k a line; j and PgDn go down again.
    press(&mut state, KeyCode::PageUp);
    assert_eq!(state.help_offset, total - 2 * shown);
    press(&mut state, KeyCode::Char('k'));
    assert_eq!(state.help_offset, total - 2 * shown - 1);
    press(&mut state, KeyCode::Char('j'));
    press(&mut state, KeyCode::PageDown);
    assert_eq!(state.help_offset, total - shown);
    press(&mut state, KeyCode::Up);
    assert_eq!(state.help_offset, total - shown - 1);

    // Where it fits, no scrolling and no indicator.
    let (shown, total) = help::room(Rect::new(0, 0, 100, 30), &state.export_formats);
    assert_eq!(shown, total);
    state.set_help_room(shown, total);
    let screen = render(100, 30, &input(&state, &data, None, &endpoints));
    assert!(!screen.contains(" of "), "{screen}");
    assert!(screen.contains("? or Esc closes this help"), "{screen}");
}

#[test]
fn the_help_draws_at_every_size_and_every_position() {
    let mut state = UiState::new(Span::FiveMinutes);
    state.mode = Mode::Help(Screen::Overview);
    for width in 1..=70u16 {
        for height in 1..=30u16 {
            let area = Rect::new(0, 0, width, height);
            let (shown, total) = help::room(area, &state.export_formats);
            assert!(shown <= total, "{width}×{height}: {shown} of {total}");
            state.set_help_room(shown, total);
            for offset in [0, total / 2, total] {
                state.help_offset = offset;
                let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
                terminal
                    .draw(|frame| help::draw(frame, frame.area(), &state, &THEME))
                    .unwrap();
                let screen = text(terminal.backend().buffer());
                if height >= 8 && width >= 40 {
                    // The last row is in reach: scrolled to the end, it shows.
                    assert!(
                        offset < total || screen.contains("wheel scrolls"),
                        "{width}×{height} at {offset}:\n{screen}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_help_names_the_configured_formats() {
    let data = overview_data();
    let endpoints = endpoints(&data);
    let mut state = state_for(&data);
    state.mode = Mode::Help(Screen::Overview);
    let screen = render(100, 30, &input(&state, &data, None, &endpoints));
    assert!(
        screen.contains("export a snapshot (JSON and CSV)"),
        "{screen}"
    );
    state.export_formats = vec![ExportFormat::Markdown];
    let screen = render(100, 30, &input(&state, &data, None, &endpoints));
    assert!(screen.contains("export a snapshot (Markdown)"), "{screen}");
    assert!(!screen.contains("JSON"), "{screen}");
    state.export_formats = vec![
        ExportFormat::Csv,
        ExportFormat::Json,
        ExportFormat::Markdown,
    ];
    let screen = render(100, 30, &input(&state, &data, None, &endpoints));
    assert!(
        screen.contains("export a snapshot (CSV, JSON and Markdown)"),
        "{screen}"
    );
}

/// The dashboard's event loop on a real statistics thread and engine, with no
/// endpoints, and what its view draws.
#[tokio::test]
async fn status_lines_expire_on_screen() {
    let clock = Clock::now();
    let window = Duration::from_secs(300);
    let (recorder, stats, _thread) =
        stats::spawn(Vec::new(), window, window, clock).expect("the statistics thread");
    let engine = probetop::engine::Engine::start(&[], &recorder, clock, None).expect("an engine");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let services = Services {
        endpoints: Vec::new().into(),
        stats,
        engine: &engine,
        export_dir: dir.path().to_path_buf(),
        export_formats: vec![ExportFormat::Csv],
        reloader: None,
    };
    let t0 = Instant::now();
    let mut app = EventLoop::new(services, Span::FiveMinutes, THEME, t0);
    let key = |c| Event::Key(KeyEvent::from(KeyCode::Char(c)));
    let status_row = |app: &EventLoop<'_>| -> String {
        let screen = render(80, 12, &app.view());
        screen.lines().nth(10).unwrap().to_string()
    };
    app.handle(key('r'), t0).unwrap();
    app.handle(key('y'), t0).unwrap();
    assert_eq!(status_row(&app), "statistics reset");
    app.drawn(None, t0);
    assert!(app.wake_due().is_some_and(|at| at <= t0 + STATUS_TIME));
    app.handle(
        Event::FrameDue,
        t0 + STATUS_TIME - Duration::from_millis(10),
    )
    .unwrap();
    assert_eq!(status_row(&app), "statistics reset");
    app.handle(Event::FrameDue, t0 + STATUS_TIME).unwrap();
    assert_eq!(status_row(&app), "", "gone after {STATUS_TIME:?}");
    // The help of this dashboard names its formats.
    app.handle(key('?'), t0 + STATUS_TIME).unwrap();
    let screen = render(100, 30, &app.view());
    assert!(screen.contains("export a snapshot (CSV)"), "{screen}");
    app.shutdown().await;
    engine.abort();
}

/// One endpoint's detail: `series` as (seconds ago, latency ms) of successful probes.
fn detail_data(span: Span, series: Vec<(f64, Option<f64>, bool)>) -> DetailData {
    DetailData {
        last_response: None,
        file_interval: None,
        excused: 0,
        alerts: Vec::new(),
        index: 0,
        span,
        state: State::Up,
        counts: [1234, 1200, 34, 0],
        latency: None,
        percentiles: Vec::new(),
        series,
        status_codes: vec![(200, 1200)],
        errors: vec![(ErrorClass::Timeout, 34)],
        recent_errors: Vec::new(),
        taken_at: at(TAKEN_AT_SECS),
        phases: [PhaseSummary::default(); 5],
        connections: 1,
        certificate: None,
        min_cert_days: None,
        transitions: Vec::new(),
        last_latency_ms: Some(1.0),
    }
}

fn detail_screen(detail: &DetailData) -> String {
    let data = overview_data();
    let endpoints = endpoints(&data);
    let mut state = state_for(&data);
    state.mode = Mode::Detail(0);
    state.span = detail.span;
    render(100, 30, &input(&state, &data, Some(detail), &endpoints))
}

#[test]
fn the_counts_say_they_are_all_time() {
    let detail = detail_data(Span::OneMinute, vec![(1.0, Some(1.0), true)]);
    let screen = detail_screen(&detail);
    assert!(
        screen.lines().next().unwrap().contains("window 1m"),
        "{screen}"
    );
    assert!(
        line(&screen, " counts").contains("counts, all-time"),
        "{screen}"
    );
    assert!(line(&screen, "probes").contains("1234"), "{screen}");
}

/// The labels under the chart's time axis.
fn time_axis(screen: &str) -> String {
    line(screen, "now")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_chart_spans_the_data_it_has() {
    // 14 s of data in a 5-minute window: a 20 s axis.
    let series: Vec<_> = (0..15).map(|s| (f64::from(s), Some(1.0), true)).collect();
    let screen = detail_screen(&detail_data(Span::FiveMinutes, series));
    insta::assert_snapshot!("detail_14s_of_data", screen);
    let axis = time_axis(&screen);
    assert!(
        axis.contains("-20s") && axis.contains("-10s"),
        "{axis}\n{screen}"
    );
    assert!(!screen.contains("-5m"), "{screen}");
    // More data than the window: the window.
    let series: Vec<_> = (0..180).map(|s| (f64::from(s), Some(1.0), true)).collect();
    let axis = time_axis(&detail_screen(&detail_data(Span::OneMinute, series)));
    assert!(axis.contains("-1m") && axis.contains("-30s"), "{axis}");
    // All-time: as long as the kept history, rounded.
    let series: Vec<_> = (0..50)
        .map(|s| (f64::from(s * 10), Some(1.0), true))
        .collect();
    let axis = time_axis(&detail_screen(&detail_data(Span::AllTime, series)));
    assert!(axis.contains("-10m") && axis.contains("-5m"), "{axis}");
}

/// The chart's latency axis labels (the numbers left of its `┤`/`│` axis line).
fn latency_axis(screen: &str) -> Vec<String> {
    let top = screen
        .lines()
        .position(|l| l.contains("over time"))
        .unwrap();
    screen
        .lines()
        .skip(top + 1)
        .take_while(|l| !l.contains("now"))
        .filter_map(|l| {
            let label = l.split('│').next()?.trim();
            (!label.is_empty() && label.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .then(|| label.to_string())
        })
        .collect()
}

#[test]
fn the_latency_scale_follows_the_probes_on_screen() {
    // About 2 ms for the last 40 s; a 900 ms spike 90 s ago, outside a 1m window.
    let mut series: Vec<_> = (0..40)
        .map(|s| (f64::from(s), Some(1.5 + f64::from(s % 5) * 0.1), true))
        .collect();
    series.push((90.0, Some(900.0), true));
    let screen = detail_screen(&detail_data(Span::OneMinute, series.clone()));
    let labels = latency_axis(&screen);
    assert_eq!(
        labels.first().map(String::as_str),
        Some("2.5"),
        "{labels:?}\n{screen}"
    );
    assert!(
        !labels.iter().any(|l| l.parse::<f64>().unwrap() > 10.0),
        "{labels:?}"
    );
    // In a 5m window the spike is on screen, and the scale makes room for it.
    let screen = detail_screen(&detail_data(Span::FiveMinutes, series));
    let labels = latency_axis(&screen);
    assert_eq!(
        labels.first().map(String::as_str),
        Some("2000"),
        "{labels:?}\n{screen}"
    );
}
