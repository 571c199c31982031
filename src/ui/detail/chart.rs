//! The detail view's chart of latency over time.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::symbols::Marker;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType};

use super::panels::panel_block;
use crate::ui::format::{axis_ms, short_duration};
use crate::ui::model::{DetailData, Span};
use crate::ui::sparkline::FAILURE_MARK;
use crate::ui::theme::Theme;

/// The time axis in seconds before now: the span, or for all-time the kept history.
fn history_seconds(data: &DetailData) -> f64 {
    match data.span.duration() {
        Some(d) => d.as_secs_f64(),
        None => data
            .series
            .iter()
            .map(|(ago, _, _)| *ago)
            .fold(Span::LONGEST.as_secs_f64(), f64::max),
    }
}

/// The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above `value` (a round axis top).
fn nice_ceiling(value: f64) -> f64 {
    if value.is_nan() || value <= 0.0 || value.is_infinite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= value * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// Latency over time: successful probes as braille points at their latency, failures
/// as marks along the top edge (a failure has no latency, and drawing it as zero
/// would read as a fast probe).
pub(super) fn draw_chart(frame: &mut Frame<'_>, rect: Rect, data: &DetailData, theme: &Theme) {
    let block = panel_block(
        &format!("latency (ms) over time, {FAILURE_MARK} = failed"),
        theme,
    );
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let history = history_seconds(data);
    let mut ok = Vec::new();
    let mut failed_at = Vec::new();
    for &(ago, latency, success) in &data.series {
        if !(0.0..=history).contains(&ago) {
            continue;
        }
        match (success, latency) {
            (true, Some(latency)) => ok.push((-ago, latency)),
            _ => failed_at.push(-ago),
        }
    }
    // Headroom above the slowest probe keeps the top row for the failure marks.
    let top = nice_ceiling(ok.iter().map(|(_, y)| *y).fold(0.0, f64::max) * 1.15);
    let failed: Vec<(f64, f64)> = failed_at.into_iter().map(|x| (x, top)).collect();
    let datasets = vec![
        Dataset::default()
            .data(&ok)
            .marker(Marker::Braille)
            .graph_type(GraphType::Scatter)
            .style(theme.latency()),
        Dataset::default()
            .data(&failed)
            .marker(Marker::Custom(FAILURE_MARK))
            .graph_type(GraphType::Scatter)
            .style(theme.failure()),
    ];
    let x_axis = Axis::default()
        .bounds([-history, 0.0])
        .labels([
            format!("-{}", short_duration(history)),
            format!("-{}", short_duration(history / 2.0)),
            "now".to_string(),
        ])
        .labels_alignment(Alignment::Right)
        .style(theme.dim());
    let y_axis = Axis::default()
        .bounds([0.0, top])
        .labels([axis_ms(0.0), axis_ms(top / 2.0), axis_ms(top)])
        .labels_alignment(Alignment::Right)
        .style(theme.dim());
    let chart = Chart::new(datasets)
        .x_axis(x_axis)
        .y_axis(y_axis)
        .legend_position(None);
    frame.render_widget(chart, inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_axis_tops() {
        assert_eq!(nice_ceiling(3.4), 5.0);
        assert!((nice_ceiling(0.021) - 0.025).abs() < 1e-12);
        assert_eq!(nice_ceiling(100.0), 100.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }
}
