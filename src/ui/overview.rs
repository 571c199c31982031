//! The overview: a header, one row per endpoint, a status line and the main keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{count, elapsed, fit, opt_ms, right};
use super::keymap::{self, Action};
use super::model::{EndpointRow, OverviewData};
use super::sparkline;
use super::state::{Mode, UiState};
use super::theme::Theme;
use super::widgets::{clip, footer_spans, message, reset_question};
use crate::stats::State;

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

/// Columns that fit in `width`, and the widths of the flexible ones (name, spark).
fn layout(width: usize) -> (Vec<Column>, usize, usize) {
    use Column::*;
    // Dropped first to last as the terminal narrows.
    let candidates: [&[Column]; 5] = [
        &[Name, Last, P50, P90, P99, Max, Ok, Probes, Spark, Result],
        &[Name, Last, P50, P90, P99, Max, Ok, Probes, Spark],
        &[Name, Last, P50, P99, Max, Ok, Spark],
        &[Name, P50, P99, Ok],
        &[Name, P99],
    ];
    for columns in candidates {
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
        let min_flex = 12 + usize::from(has_spark) * 11 + usize::from(has_result) * 13;
        if fixed + min_flex <= width || columns.len() == 2 {
            let spare = width.saturating_sub(fixed);
            let name = (spare / 3).clamp(12, 32);
            let rest = spare.saturating_sub(name + 1);
            let spark = if has_spark {
                if has_result {
                    (rest / 2).clamp(10, 60)
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

fn heading(column: Column, name_width: usize, spark_width: usize) -> String {
    match column {
        Column::Name => fit("NAME", name_width),
        Column::Last => right("LAST", NUMBER_WIDTH),
        Column::P50 => right("P50", NUMBER_WIDTH),
        Column::P90 => right("P90", NUMBER_WIDTH),
        Column::P99 => right("P99", NUMBER_WIDTH),
        Column::Max => right("MAX", NUMBER_WIDTH),
        Column::Ok => right("OK%", 6),
        Column::Probes => right("PROBES", NUMBER_WIDTH),
        Column::Spark => fit("RECENT (✖ failed)", spark_width),
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
    let (columns, name_width, spark_width) = layout(width);
    let mut lines: Vec<Line<'static>> = Vec::with_capacity(area.height as usize);
    lines.push(header(state, data, rate, paused, theme, width));
    let mut heading_text = String::from("  ");
    for column in &columns {
        heading_text.push_str(&heading(*column, name_width, spark_width));
        heading_text.push(' ');
    }
    lines.push(Line::styled(fit(&heading_text, width), theme.title()));
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
    lines.push(clip(footer_spans(keymap::overview_footer(), theme), width));
    lines.truncate(area.height as usize);
    frame.render_widget(Paragraph::new(lines), area);
    (page, table_top)
}

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
    // Most important first: a narrow terminal cuts the end of the line.
    let mut spans = vec![Span::styled("probetop", theme.title())];
    if let Some(reason) = data.overload {
        // probetop's own numbers are suspect while it is behind: say so first.
        spans.push(Span::styled(
            format!(" OVERLOADED: {reason}"),
            theme.alarm(),
        ));
    }
    if data.local_network_down {
        // Every canary fails: the failures below are probetop's network's, excused.
        spans.push(Span::styled(" local network down", theme.alarm()));
    }
    if paused {
        spans.push(Span::styled(" PAUSED", theme.warning()));
    }
    spans.push(Span::raw(format!(" {} ", elapsed(data.elapsed))));
    for (state, n) in [State::Up, State::Degraded, State::Down, State::Unknown]
        .into_iter()
        .zip(counts)
    {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            format!("{} {n} {}", Theme::symbol(state), state.as_str()),
            theme.state(state),
        ));
    }
    spans.push(Span::raw(format!(
        "  {} probes/s  lag p99 {} ms  window {}  sort {}  {} probes in all",
        rate.map_or_else(|| "-".to_string(), |r| format!("{r:.1}")),
        opt_ms(data.lag_p99_ms),
        state.span.label(),
        state.sort.label(),
        count(data.total_probes),
    )));
    clip(spans, width)
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
            Column::Name => spans.push(Span::raw(format!("{} ", fit(&row.name, name_width)))),
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
                spans.extend(sparkline::spans(&row.spark, spark_width, theme));
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
