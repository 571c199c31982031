//! The detail view's chart of latency over time.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::symbols::Marker;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType};

use super::panels::panel_block;
use crate::ui::format::{axis_ms, short_duration};
use crate::ui::model::DetailData;
use crate::ui::sparkline::FAILURE_MARK;
use crate::ui::theme::Theme;

/// Round lengths of the time axis, in seconds, whose halves are round too (the
/// middle label): the axis is the shortest of them that holds the data.
const AXIS_SECONDS: [f64; 14] = [
    10.0, 20.0, 30.0, 40.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
];

/// The time axis in seconds before now: as long as the data it has, rounded up to a
/// round length, and never longer than the span (14 s of data get a 20 s axis, not
/// five minutes with the points huddled at the right edge).
fn history_seconds(data: &DetailData) -> f64 {
    let window = data.span.duration().map(|d| d.as_secs_f64());
    let oldest = data
        .series
        .iter()
        .map(|(ago, _, _)| *ago)
        .filter(|ago| window.is_none_or(|w| *ago <= w))
        .fold(0.0, f64::max);
    let round = AXIS_SECONDS
        .into_iter()
        .find(|s| *s >= oldest)
        // Beyond an hour (all-time), whole hours.
        .unwrap_or_else(|| (oldest / 3600.0).ceil() * 3600.0);
    window.map_or(round, |w| round.min(w))
}

/// What the chart shows: the time axis, successful probes as (-seconds ago,
/// latency), failures as -seconds ago, and the latency axis's top, which follows the
/// probes on screen only (a spike that left the axis no longer squashes the rest).
struct Points {
    history: f64,
    ok: Vec<(f64, f64)>,
    failed_at: Vec<f64>,
    top: f64,
}

fn points(data: &DetailData) -> Points {
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
    Points {
        history,
        ok,
        failed_at,
        top,
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
    let Points {
        history,
        ok,
        failed_at,
        top,
    } = points(data);
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
