//! The overview: a header, one row per endpoint, a status line and the main keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{count, elapsed, fit, fit_middle, opt_ms, right};
use super::keymap::{self, Action};
use super::model::{EndpointRow, OverviewData};
use super::sparkline;
use super::state::{Mode, UiState};
use super::theme::Theme;
use super::widgets::{clip, footer_fitted, message, reset_question};
use crate::stats::{OverloadReason, State};
use unicode_width::UnicodeWidthStr;

/// A column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Last,
    P50,
    P90,
    P99,
    Max,
    Ok,
    Probes,
    Spark,
    Result,
}

const NUMBER_WIDTH: usize = 7;

/// The sparkline's heading, with the legend of its failure mark.
const SPARK_HEADING: &str = "RECENT (✖ failed)";
/// Narrowest LAST RESULT worth showing: room for the class and the start of the why.
const RESULT_MIN: usize = 20;

/// Columns that fit in `width`, and the widths of the flexible ones (name, spark).
/// `longest_name` is the widest name to show, in columns.
fn layout(width: usize, longest_name: usize) -> (Vec<Column>, usize, usize) {
    use Column::*;
    // Dropped first to last as the terminal narrows. LAST RESULT (what failed, and
    // why) goes last: the percentiles and the sparkline say how bad, it says why.
    let candidates: [&[Column]; 6] = [
        &[Name, Last, P50, P90, P99, Max, Ok, Probes, Spark, Result],
        &[Name, Last, P50, P99, Max, Ok, Spark, Result],
        &[Name, Last, P50, P99, Max, Ok, Result],
        &[Name, P50, P99, Ok, Result],
        &[Name, P99, Result],
        &[Name, Result],
    ];
    for (i, columns) in candidates.iter().enumerate() {
        let fixed: usize = columns
            .iter()
            .map(|c| match c {
                Name | Spark | Result => 0,
                Ok => 6 + 1,
                _ => NUMBER_WIDTH + 1,
            })
            .sum::<usize>()
            + 2;
        let has_spark = columns.contains(&Spark);
        let has_result = columns.contains(&Result);
        let others_min = usize::from(has_spark) * 11 + usize::from(has_result) * RESULT_MIN;
        // A layout fits when it leaves the names room to be read whole (up to
        // NAME_FIT columns; longer ones are cut in the middle) beside the others' least.
        let name_need = longest_name.clamp(NAME_MIN, NAME_FIT);
        if fixed + name_need + others_min <= width || i == candidates.len() - 1 {
            let spare = width.saturating_sub(fixed);
            let name = name_width(spare, longest_name, others_min);
            let rest = spare.saturating_sub(name + 1);
            let spark = if has_spark {
                if has_result {
                    // Half of what is left, but never taking LAST RESULT under its least.
                    (rest / 2)
                        .min(rest.saturating_sub(RESULT_MIN + 1))
                        .clamp(10, 60)
                } else {
                    rest.saturating_sub(1).clamp(10, 60)
                }
            } else {
                0
            };
            return (columns.to_vec(), name, spark);
        }
    }
    unreachable!("the last candidate always fits")
}

/// The narrowest name column.
const NAME_MIN: usize = 12;
/// The widest name a layout makes room for by dropping columns.
const NAME_FIT: usize = 20;
/// The widest name column: longer names are cut in the middle.
const NAME_MAX: usize = 32;

/// The name column: as wide as the longest name (within [`NAME_MIN`] and
/// [`NAME_MAX`]), taking room from the sparkline and the last result down to their
/// least (`others_min`), so that names differing at their end are not cut at all
/// when there is room for them.
fn name_width(spare: usize, longest_name: usize, others_min: usize) -> usize {
    let room = spare.saturating_sub(1 + others_min);
    longest_name
        .clamp(NAME_MIN, NAME_MAX)
        .min(room)
        .max(NAME_MIN)
}

/// The widest name, in columns, as far as the name column cares (up to
/// [`NAME_MAX`]). Cheap with thousands of rows: a name's width is at most its
/// length in bytes, so most names need no measuring.
fn longest_name(data: &OverviewData) -> usize {
    let mut longest = 0;
    for row in &data.rows {
        if row.name.len() > longest {
            longest = longest.max(row.name.width());
            if longest >= NAME_MAX {
                break;
            }
        }
    }
    longest
}

fn heading(column: Column, name_width: usize, spark_width: usize) -> String {
    match column {
        Column::Name => fit("NAME", name_width),
        Column::Last => right("LAST ms", NUMBER_WIDTH),
        Column::P50 => right("P50 ms", NUMBER_WIDTH),
        Column::P90 => right("P90 ms", NUMBER_WIDTH),
        Column::P99 => right("P99 ms", NUMBER_WIDTH),
        Column::Max => right("MAX ms", NUMBER_WIDTH),
        Column::Ok => right("OK%", 6),
        Column::Probes => right("PROBES", NUMBER_WIDTH),
        // The legend whole or not at all: `RECENT (✖…` tells nothing.
        Column::Spark if spark_width >= SPARK_HEADING.width() => fit(SPARK_HEADING, spark_width),
        Column::Spark => fit("RECENT", spark_width),
        Column::Result => "LAST RESULT".to_string(),
    }
}

/// Draws the overview into `area`; returns (rows that fit, screen row of the first).
/// `rate` is probes per second once known; `paused` whether probing is paused.
pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    state: &UiState,
    data: &OverviewData,
    rate: Option<f64>,
    paused: bool,
    theme: &Theme,
) -> (usize, u16) {
    let width = area.width as usize;
    let (columns, name_width, spark_width) = layout(width, longest_name(data));
    let mut lines: Vec<Line<'static>> = Vec::with_capacity(area.height as usize);
    lines.push(header(state, data, rate, paused, theme, width));
    let mut heading_text = String::from("  ");
    for column in &columns {
        heading_text.push_str(&heading(*column, name_width, spark_width));
        heading_text.push(' ');
    }
    // Trimmed: the gap after the last column is no reason to cut the line.
    lines.push(Line::styled(
        fit(heading_text.trim_end(), width),
        theme.title(),
    ));
    let page = (area.height as usize).saturating_sub(4);
    let table_top = area.y + 2;
    for &index in state.visible.iter().skip(state.offset).take(page) {
        let row = &data.rows[index];
        let selected = state.selected == Some(index);
        lines.push(row_line(
            row,
            &columns,
            name_width,
            spark_width,
            width,
            selected,
            theme,
        ));
    }
    if state.visible.is_empty() {
        let text = if data.rows.is_empty() {
            "no endpoints".to_string()
        } else {
            format!("no endpoint matches the filter {:?}", state.filter)
        };
        lines.push(Line::styled(format!("  {text}"), theme.dim()));
    }
    while lines.len() < (area.height as usize).saturating_sub(2) {
        lines.push(Line::raw(""));
    }
    lines.push(status_line(state, theme, width, data.rows.len()));
    lines.push(footer_fitted(keymap::overview_footer(), theme, width));
    lines.truncate(area.height as usize);
    frame.render_widget(Paragraph::new(lines), area);
    (page, table_top)
}

/// What the header gives up, in this order, until it fits the terminal: the least
/// telling first. What never goes: the run time, the counts of endpoints by state,
/// the probe rate, probetop's own lag, the OVERLOADED notice and PAUSED (the
/// window and the sort, once gone, are told on the status line when changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Squeeze {
    /// `6170 probes in all`.
    NoTotal,
    /// `sort config`.
    NoSort,
    /// `lag p99 0.42 ms` → `lag 0.42 ms`.
    ShortLag,
    /// `window 5m`.
    NoWindow,
    /// `probetop`.
    NoBrand,
    /// `20.5 probes/s` → `20.5/s`.
    ShortRate,
    /// `OVERLOADED: ticks fire late (…)` → `OVERLOADED: 320 ms late`.
    ShortOverload,
    /// `● 3 up ◐ 1 degraded …` → `●3 ◐1 …`.
    ShortStates,
}

const SQUEEZES: [Squeeze; 8] = [
    Squeeze::NoTotal,
    Squeeze::NoSort,
    Squeeze::ShortLag,
    Squeeze::NoWindow,
    Squeeze::NoBrand,
    Squeeze::ShortRate,
    Squeeze::ShortOverload,
    Squeeze::ShortStates,
];

fn header(
    state: &UiState,
    data: &OverviewData,
    rate: Option<f64>,
    paused: bool,
    theme: &Theme,
    width: usize,
) -> Line<'static> {
    let mut counts = [0usize; 4];
    for row in &data.rows {
        counts[match row.state {
            State::Up => 0,
            State::Degraded => 1,
            State::Down => 2,
            State::Unknown => 3,
        }] += 1;
    }
    let mut spans = Vec::new();
    for given_up in 0..=SQUEEZES.len() {
        let squeezed = &SQUEEZES[..given_up];
        spans = header_spans(state, data, counts, rate, paused, theme, squeezed);
        if spans.iter().map(|s| s.width()).sum::<usize>() <= width {
            break;
        }
    }
    // Only an unusually narrow terminal (or huge counts) still cuts the end.
    clip(spans, width)
}

/// The header's spans, without what `squeezed` gave up.
fn header_spans(
    state: &UiState,
    data: &OverviewData,
    counts: [usize; 4],
    rate: Option<f64>,
    paused: bool,
    theme: &Theme,
    squeezed: &[Squeeze],
) -> Vec<Span<'static>> {
    let given_up = |s: Squeeze| squeezed.contains(&s);
    let mut spans = Vec::new();
    if !given_up(Squeeze::NoBrand) {
        spans.push(Span::styled("probetop", theme.title()));
    }
    if let Some(reason) = data.overload {
        // probetop's own numbers are suspect while it is behind: say so first.
        let text = if given_up(Squeeze::ShortOverload) {
            short_reason(reason)
        } else {
            reason.to_string()
        };
        spans.push(Span::styled(format!(" OVERLOADED: {text}"), theme.alarm()));
    }
    if data.local_network_down {
        // Every canary fails: the failures below are probetop's network's, excused.
        spans.push(Span::styled(" local network down", theme.alarm()));
    }
    if paused {
        spans.push(Span::styled(" PAUSED", theme.warning()));
    }
    spans.push(Span::raw(format!(" {} ", elapsed(data.elapsed))));
    let short_states = given_up(Squeeze::ShortStates);
    for (state, n) in [State::Up, State::Degraded, State::Down, State::Unknown]
        .into_iter()
        .zip(counts)
    {
        let text = if short_states {
            format!("{}{n}", Theme::symbol(state))
        } else {
            format!("{} {n} {}", Theme::symbol(state), state.as_str())
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(text, theme.state(state)));
    }
    let rate = rate.map_or_else(|| "-".to_string(), |r| format!("{r:.1}"));
    let mut rest = if given_up(Squeeze::ShortRate) {
        format!("  {rate}/s")
    } else {
        format!("  {rate} probes/s")
    };
    let lag = opt_ms(data.lag_p99_ms);
    if given_up(Squeeze::ShortLag) {
        rest.push_str(&format!("  lag {lag} ms"));
    } else {
        rest.push_str(&format!("  lag p99 {lag} ms"));
    }
    if !given_up(Squeeze::NoWindow) {
        rest.push_str(&format!("  window {}", state.span.label()));
    }
    if !given_up(Squeeze::NoSort) {
        rest.push_str(&format!("  sort {}", state.sort.label()));
    }
    if !given_up(Squeeze::NoTotal) {
        rest.push_str(&format!("  {} probes in all", count(data.total_probes)));
    }
    spans.push(Span::raw(rest));
    // Without the name, the line starts with what followed it.
    if let Some(first) = spans.first_mut() {
        let trimmed = first.content.trim_start().to_string();
        first.content = trimmed.into();
    }
    spans
}

/// The overload's reason in a few words, for a narrow header.
fn short_reason(reason: OverloadReason) -> String {
    match reason {
        OverloadReason::SchedulerLag { lag_ms } => format!("{lag_ms} ms late"),
        OverloadReason::StatsQueue { depth } => format!("queue {depth}"),
    }
}

#[allow(clippy::too_many_arguments)]
fn row_line(
    row: &EndpointRow,
    columns: &[Column],
    name_width: usize,
    spark_width: usize,
    width: usize,
    selected: bool,
    theme: &Theme,
) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!("{} ", Theme::symbol(row.state)),
        theme.state(row.state),
    )];
    let latency = row.latency;
    let number = |v: Option<f64>| Span::raw(format!("{} ", right(&opt_ms(v), NUMBER_WIDTH)));
    for column in columns {
        match column {
            // Cut in the middle: names often differ only at their end (`…-a`, `…-b`).
            Column::Name => {
                spans.push(Span::raw(format!("{} ", fit_middle(&row.name, name_width))))
            }
            Column::Last => spans.push(number(row.last_latency_ms)),
            Column::P50 => spans.push(number(latency.map(|l| l.p50))),
            Column::P90 => spans.push(number(latency.map(|l| l.p90))),
            Column::P99 => spans.push(number(latency.map(|l| l.p99))),
            Column::Max => spans.push(number(latency.map(|l| l.max))),
            Column::Ok => {
                let text = row
                    .success_rate()
                    .map_or_else(|| "-".to_string(), |r| format!("{r:.1}"));
                let style = if row.success_rate().is_some_and(|r| r < 100.0) {
                    theme.failure()
                } else {
                    Style::new()
                };
                spans.push(Span::styled(right(&text, 6), style));
                spans.push(Span::raw(" "));
            }
            Column::Probes => spans.push(Span::raw(format!(
                "{} ",
                right(&count(row.probes), NUMBER_WIDTH)
            ))),
            Column::Spark => {
                spans.extend(sparkline::spans(row.spark.points(), spark_width, theme));
                spans.push(Span::raw(" "));
            }
            Column::Result => {
                let style = if row.last_failed {
                    theme.failure()
                } else {
                    Style::new()
                };
                spans.push(Span::styled(row.last_result.clone(), style));
            }
        }
    }
    let line = clip(spans, width);
    if selected {
        line.patch_style(theme.selected())
    } else {
        line
    }
}

fn status_line(state: &UiState, theme: &Theme, width: usize, total: usize) -> Line<'static> {
    let shown = format!("{}/{total} shown", state.visible.len());
    match state.mode {
        Mode::ConfirmReset(_) => return reset_question(theme, width),
        Mode::Filter => {
            return clip(
                vec![
                    // The key that started it, as a prompt.
                    Span::styled(
                        keymap::first_key(Mode::Overview, Action::Filter),
                        theme.key(),
                    ),
                    Span::raw(format!("{}▏  ", state.filter)),
                    Span::styled(format!("{}  {shown}", keymap::filter_hint()), theme.dim()),
                ],
                width,
            );
        }
        _ => {}
    }
    let mut spans = Vec::new();
    if !state.filter.is_empty() {
        spans.push(Span::styled(
            format!(
                "filter {:?} ({shown}, {} clears)  ",
                state.filter,
                keymap::hint(Mode::Overview, Action::Back)
            ),
            theme.warning(),
        ));
    }
    if let Some(status) = &state.status {
        spans.push(message(status, theme));
    }
    clip(spans, width)
}
