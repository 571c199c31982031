//! Diagnostics: to `--log-file` when given (level `info`), and to stderr in headless
//! mode (warnings, and the endpoints' state changes and first errors); nowhere else,
//! since the dashboard owns the terminal.
//!
//! Both go through a non-blocking writer (a thread of `tracing-appender`'s), so a
//! slow disk or a stalled stderr pipe never holds up the thread that logs, the
//! statistics thread included; lines beyond its buffer are dropped rather than waited
//! for. Each event reaches them as one clean line (`CleanLines`), and stderr gets
//! colours only when it is a terminal. [`EventLog`] tells what happens to the
//! endpoints, at most one line per endpoint per [`LOG_EVERY`].

use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::Endpoint;
use crate::probe::ErrorClass;
use crate::stats::{EndpointId, EndpointSet, EndpointStats, Observer, Positions, Recorded, State};
use crate::text::{clean, terminal_safe, timestamp};

/// The target of [`EventLog`]'s lines (`RUST_LOG=probetop::endpoint=off` silences them).
pub const TARGET: &str = "probetop::endpoint";

/// At most one line per endpoint this often.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// The writers' guards: dropping one writes out what its writer still holds.
static GUARDS: Mutex<Vec<WorkerGuard>> = Mutex::new(Vec::new());

/// Lines a log's writer thread may have waiting before new ones are dropped.
///
/// tracing-appender's default, 128,000, is a 4 MiB queue that is allocated and
/// written through at start-up (a fifth of the CPU of a one-second run of 100
/// endpoints, measured). What is logged is at most a line per endpoint per 10 s plus
/// state changes: this holds every endpoint of a 30,000-endpoint fleet failing at
/// once while a slow terminal takes them (the snapshot keeps each endpoint's last
/// error whatever the log drops).
const LOG_QUEUE_LINES: usize = 32_768;

/// A writer on its own thread, which a full queue never makes a caller wait for.
fn non_blocking<W: std::io::Write + Send + 'static>(
    writer: W,
) -> (tracing_appender::non_blocking::NonBlocking, WorkerGuard) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .lossy(true)
        .finish(writer)
}

/// Installs the global subscriber. `RUST_LOG` overrides the default levels.
pub fn init(log_file: Option<&Path>, headless: bool) -> anyhow::Result<()> {
    let mut guards = Vec::new();
    let file = match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            let (writer, guard) = non_blocking(file);
            guards.push(guard);
            let writer = CleanLines::new(writer, false);
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone())
                    .with_filter(filter("probetop=info")),
            )
        }
        None => None,
    };
    let stderr = headless.then(|| {
        // Colours only for a person at a terminal: in a pipe, a CI log or a file they
        // are escape sequences in the text. `NO_COLOR` (no-color.org) is honoured
        // here since `with_ansi(true)` would override it.
        let colour = std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let (writer, guard) = non_blocking(std::io::stderr());
        guards.push(guard);
        let writer = CleanLines::new(writer, colour);
        tracing_subscriber::fmt::layer()
            .with_ansi(colour)
            .with_writer(move || writer.clone())
            .with_filter(filter(&format!("warn,{TARGET}=info")))
    });
    if file.is_none() && stderr.is_none() {
        return Ok(());
    }
    tracing_subscriber::registry()
        .with(file)
        .with(stderr)
        .init();
    GUARDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .extend(guards);
    Ok(())
}

/// The longest log line written, in characters: a line carrying a 50 MB value (a
/// URL from a snapshot, say) is cut here rather than flood the terminal.
pub const MAX_LOG_LINE: usize = 1000;

/// A log writer that lets through one clean line per event, whatever the event's
/// fields hold: every control character of the text is removed (line breaks and
/// tabs become spaces, so a value cannot forge a line of its own), and the line is
/// cut at [`MAX_LOG_LINE`].
///
/// tracing's formatter escapes ESC in field values already, but lets other control
/// characters (a carriage return that overwrites the line on screen, a newline)
/// through, and not every message built from endpoint or file text went through
/// [`crate::text::clean`] first: this is the one place that holds for all of them.
/// With colours on, ESC is kept, since then every ESC left is the formatter's own.
#[derive(Clone)]
struct CleanLines<W> {
    inner: W,
    colour: bool,
}

impl<W: std::io::Write> CleanLines<W> {
    fn new(inner: W, colour: bool) -> Self {
        CleanLines { inner, colour }
    }

    /// `text` (one event, ending in a newline) as the line that is written.
    fn line(&self, text: &str) -> String {
        let body = text.strip_suffix('\n').unwrap_or(text);
        let mut chars = body.chars();
        let head: String = chars.by_ref().take(MAX_LOG_LINE).collect();
        let cut = chars.next().is_some();
        let mut line = if self.colour {
            head.split('\u{1b}')
                .map(clean)
                .collect::<Vec<_>>()
                .join("\u{1b}")
        } else {
            clean(&head)
        };
        if cut {
            line.push('…');
            if self.colour {
                // A cut may fall inside a coloured part: end it.
                line.push_str("\u{1b}[0m");
            }
        }
        line.push('\n');
        line
    }
}

impl<W: std::io::Write> std::io::Write for CleanLines<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // The formatter writes each event whole, in one call.
        let line = self.line(&String::from_utf8_lossy(bytes));
        self.inner.write_all(line.as_bytes())?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes out every line logged so far and closes the writers: lines logged after
/// this are lost. Call it before printing a final report to stderr (so the log's
/// lines come before it) and at exit.
pub fn flush() {
    let guards = std::mem::take(&mut *GUARDS.lock().unwrap_or_else(|p| p.into_inner()));
    drop(guards);
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
}

/// Logs the endpoints' state changes and the first error of each class (per
/// endpoint), with the reason, as it hears of them from the statistics thread.
///
/// A flapping endpoint could fill a log and a terminal, so each endpoint gets at most
/// one line per [`LOG_EVERY`]; a line that has to wait is held back (a newer one
/// replaces it) and written, with the count of lines held back, once the endpoint
/// may speak again: at its next probe after that, or when the run ends. Names and
/// messages are cleaned ([`crate::text::clean`]) and cut to a terminal's sane width.
pub struct EventLog {
    /// The endpoints' settings, shared with the config (or the latest reload's set),
    /// never copied: at 10,000 endpoints a copy costs megabytes.
    endpoints: Arc<[Endpoint]>,
    /// The position in `endpoints` of each stable id.
    positions: Positions,
    /// Each endpoint's share of the rate limit, position for position (a kept
    /// endpoint keeps its own across a reload).
    limits: Vec<Limit>,
}

/// One endpoint's share of the rate limit.
#[derive(Default)]
struct Limit {
    /// When its latest line was written.
    last: Option<Instant>,
    /// Lines not written (or not yet) since then.
    held_back: u32,
    /// The newest of them, waiting for its turn.
    waiting: Option<Line>,
}

/// A line to write, and how loud.
struct Line {
    warn: bool,
    text: String,
}

impl EventLog {
    /// A log of `endpoints` (config order: ids `0..n`, as the statistics count them).
    pub fn new(endpoints: Arc<[Endpoint]>) -> Self {
        let limits = endpoints.iter().map(|_| Limit::default()).collect();
        EventLog {
            endpoints,
            positions: Positions::default(),
            limits,
        }
    }

    /// The position of endpoint `id`, if it is configured.
    fn position(&self, id: EndpointId) -> Option<usize> {
        self.positions.get(id)
    }
}

impl Observer for EventLog {
    fn recorded(
        &mut self,
        endpoint: EndpointId,
        at: Instant,
        recorded: Recorded,
        stats: &EndpointStats,
    ) {
        let Some(position) = self.position(endpoint) else {
            return;
        };
        let (Some(config), Some(limit)) =
            (self.endpoints.get(position), self.limits.get_mut(position))
        else {
            return;
        };
        let due = limit
            .last
            .is_none_or(|last| at.saturating_duration_since(last) >= LOG_EVERY);
        // A first probe that finds the endpoint up is no news (a thousand endpoints
        // would start with a thousand lines); finding it down or degraded is.
        let news = recorded.is_notable()
            && !recorded
                .transition
                .is_some_and(|t| t.from == State::Unknown && t.to == State::Up);
        if news {
            let line = describe(config, recorded, stats);
            if due {
                let note = match limit.held_back {
                    0 => String::new(),
                    n => format!(
                        " ({n} earlier line{} held back by the {}s limit)",
                        plural(n),
                        LOG_EVERY.as_secs()
                    ),
                };
                write(&Line {
                    text: line.text + &note,
                    ..line
                });
                *limit = Limit {
                    last: Some(at),
                    ..Limit::default()
                };
            } else {
                limit.held_back += 1;
                let when = stats.last().map(|l| timestamp(l.at)).unwrap_or_default();
                limit.waiting = Some(Line {
                    text: format!("{} (at {when}", line.text),
                    ..line
                });
            }
        } else if due && limit.waiting.is_some() {
            release(limit);
            limit.last = Some(at);
        }
    }

    fn reconfigure(&mut self, set: &EndpointSet) {
        let mut old: Vec<Option<Limit>> = std::mem::take(&mut self.limits)
            .into_iter()
            .map(Some)
            .collect();
        self.limits = set
            .ids
            .iter()
            .map(|&id| {
                self.position(id)
                    .and_then(|position| old.get_mut(position)?.take())
                    .unwrap_or_default()
            })
            .collect();
        // A removed endpoint's held-back line is still news.
        for mut limit in old.into_iter().flatten() {
            release(&mut limit);
        }
        self.endpoints = set.endpoints.clone();
        self.positions = Positions::of(set);
    }

    fn finish(&mut self) {
        for limit in &mut self.limits {
            release(limit);
        }
    }
}

/// Writes the line `limit` held back, if any, with how many it stands for.
fn release(limit: &mut Limit) {
    if let Some(line) = limit.waiting.take() {
        let n = limit.held_back;
        write(&Line {
            text: format!(
                "{}; held back by the {}s limit, the latest of {n} line{})",
                line.text,
                LOG_EVERY.as_secs(),
                plural(n)
            ),
            ..line
        });
        limit.held_back = 0;
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The line for what `recorded` tells of `endpoint`: `NAME: FROM -> TO: CLASS:
/// MESSAGE` for a state change (the reason for a worse state), `NAME: first CLASS
/// error: MESSAGE (still STATE)` for a first error without one.
fn describe(endpoint: &Endpoint, recorded: Recorded, stats: &EndpointStats) -> Line {
    let now = stats
        .last()
        .map_or(std::time::SystemTime::UNIX_EPOCH, |l| l.at);
    let message = || {
        stats
            .last()
            .and_then(|l| l.error.as_ref())
            .map(|e| e.message.as_str())
    };
    let first = |class: ErrorClass| format!("first {class} error");
    match recorded.transition {
        Some(t) => {
            let mut text = format!(
                "{}: {} -> {}",
                endpoint.name,
                t.from.as_str(),
                t.to.as_str()
            );
            if t.to != State::Up
                && let Some(why) = crate::reason::why(endpoint, stats, now)
            {
                text = format!("{text}: {why}");
            }
            if let Some(class) = recorded.first_of_class {
                text = format!("{text} ({})", first(class));
            }
            Line {
                warn: matches!(t.to, State::Down | State::Degraded),
                text,
            }
        }
        None => {
            let class = recorded.first_of_class.unwrap_or(ErrorClass::Other);
            Line {
                warn: true,
                text: format!(
                    "{}: {}: {} (still {})",
                    endpoint.name,
                    first(class),
                    message().unwrap_or(""),
                    stats.state().as_str()
                ),
            }
        }
    }
}

fn write(line: &Line) {
    // Names and messages come from configs and endpoints: one clean line, cut.
    let text = terminal_safe(&clean(&line.text));
    if line.warn {
        tracing::warn!(target: TARGET, "{text}");
    } else {
        tracing::info!(target: TARGET, "{text}");
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::SystemTime;

    use super::*;
    use crate::probe::ProbeOutcome;
    use crate::stats::{EndpointRules, StateRule};

    /// What the subscriber wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_lines_are_one_clean_line_each_with_the_formatters_colours_only() {
        let plain = CleanLines::new(Vec::new(), false);
        assert_eq!(
            plain.line("WARN x: a\u{1b}[2J\rb\nFAKE\u{7}\u{202e}c\n"),
            "WARN x: a[2J b FAKEc\n"
        );
        let coloured = CleanLines::new(Vec::new(), true);
        assert_eq!(
            coloured.line("\u{1b}[33mWARN\u{1b}[0m x: a\rb\n"),
            "\u{1b}[33mWARN\u{1b}[0m x: a b\n"
        );
        let long = "x".repeat(MAX_LOG_LINE + 5) + "\n";
        assert_eq!(
            plain.line(&long),
            "x".repeat(MAX_LOG_LINE) + "…\n",
            "cut at the limit"
        );
        assert!(coloured.line(&long).ends_with("…\u{1b}[0m\n"));
        // Written whole, as one line, and counted as written.
        let mut writer = CleanLines::new(Vec::new(), false);
        assert_eq!(writer.write(b"a\rb\n").unwrap(), 4);
        assert_eq!(writer.inner, b"a b\n");
    }

    #[test]
    fn one_line_per_endpoint_per_ten_seconds_saying_what_was_held_back() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let endpoint = Endpoint::new(
            "api\u{1b}[2J",
            url::Url::parse("http://127.0.0.1:9/").unwrap(),
            Duration::from_secs(1),
            Duration::from_secs(5),
        );
        let mut log = EventLog::new(vec![endpoint].into());
        let mut stats = EndpointStats::with_rules(EndpointRules {
            state: StateRule {
                down_after: 1,
                up_after: 1,
            },
            min_cert_days: None,
            canary: false,
        });
        let start = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_301_100);
        let ok = || ProbeOutcome {
            latency: Some(Duration::from_millis(3)),
            status: Some(200),
            ..ProbeOutcome::default()
        };
        let refused = || ProbeOutcome::failed(ErrorClass::Connect, "refused\u{1b}]0;pwned\u{7}");
        let timeout = || ProbeOutcome::failed(ErrorClass::Timeout, "no answer within 5s");
        tracing::subscriber::with_default(subscriber, || {
            // Seconds after the start, and what each probe found.
            let probes = [
                (0, refused()),  // unknown -> down, first connect error: written
                (1, ok()),       // down -> up: held back
                (2, timeout()),  // up -> down, first timeout: held back, replaces it
                (3, refused()),  // nothing new
                (11, ok()),      // down -> up: due again, written with the count
                (12, refused()), // up -> down: held back, written at the end
            ];
            for (i, (secs, outcome)) in probes.into_iter().enumerate() {
                let at = start + Duration::from_secs(secs);
                let recorded = stats.record(
                    outcome,
                    i as u32,
                    wall + Duration::from_secs(secs),
                    Duration::from_secs(60),
                );
                log.recorded(0, at, recorded, &stats);
            }
            log.finish();
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .map(|l| l.split_once("probetop::endpoint: ").unwrap().1)
            .collect();
        assert_eq!(
            lines,
            [
                "api[2J: unknown -> down: connect: refused]0;pwned (first connect error)",
                "api[2J: down -> up (2 earlier lines held back by the 10s limit)",
                "api[2J: up -> down: connect: refused]0;pwned (at 2026-11-21T22:45:12Z; \
                 held back by the 10s limit, the latest of 1 line)",
            ],
            "{text}"
        );
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
    }
}
