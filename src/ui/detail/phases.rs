//! The detail view's "where the time goes" panel: count and percentiles of each
//! phase of a probe, and a stacked bar of their medians.
//!
//! DNS, connect and TLS happen once per new connection, TTFB and transfer once per
//! response, so with connections reused their counts differ by design; the heading
//! says how many connections were new so the difference reads as expected.

use ratatui::text::{Line, Span as TextSpan};
use unicode_width::UnicodeWidthStr;

use crate::config::ProbeKind;
use crate::probe::Phase;
use crate::ui::format::{count, fit, ms, right};
use crate::ui::model::DetailData;
use crate::ui::theme::Theme;

/// Width of the phase name column.
const NAME_WIDTH: usize = 9;
/// Width of the count column.
const COUNT_WIDTH: usize = 6;
/// Width of each percentile column.
const VALUE_WIDTH: usize = 7;
/// The widest stacked bar: wider says no more and is harder to read across.
const MAX_BAR: usize = 60;
/// Shown for a percentile of a phase that did not happen.
const NONE: &str = "–";

/// The phases a probe of `kind` can go through, in the order they happen: a
/// `tcp://` probe only resolves and connects, a `tls://` one also shakes hands;
/// neither sends a request, so neither has a TTFB or a transfer.
pub fn phases_of(kind: ProbeKind) -> &'static [Phase] {
    match kind {
        ProbeKind::Http => &Phase::ALL,
        ProbeKind::Tls => &[Phase::Dns, Phase::Connect, Phase::Tls],
        ProbeKind::Tcp => &[Phase::Dns, Phase::Connect],
    }
}

/// Whether any phase of `kind` happened in the data: without any, the table would
/// be a column of dashes, and one line says as much.
fn has_timings(data: &DetailData, kind: ProbeKind) -> bool {
    phases_of(kind)
        .iter()
        .any(|p| data.phases[p.index()].count > 0)
}

/// Rows the panel needs without its bar (heading, column names, one per phase):
/// below this it is not drawn.
pub fn min_height(data: &DetailData, kind: ProbeKind) -> u16 {
    if has_timings(data, kind) {
        2 + phases_of(kind).len() as u16
    } else {
        2
    }
}

/// Rows the whole panel needs, bar included.
pub fn height(data: &DetailData, kind: ProbeKind) -> u16 {
    if has_timings(data, kind) {
        min_height(data, kind) + 1
    } else {
        2
    }
}

/// The panel heading for `width` columns: the longest form that fits, so the
/// number of new connections is never the part cut off.
pub fn heading(data: &DetailData, span_text: &str, width: usize) -> String {
    let n = count(data.connections);
    [
        format!("where the time goes, {span_text} · connections: {n} new"),
        format!("phases, {span_text} · connections: {n} new"),
        format!("phases · {n} new connections"),
    ]
    .into_iter()
    .find(|h| h.width() + 2 <= width)
    .unwrap_or_else(|| format!("phases · {n} new"))
}

/// Column names, one row per phase of `kind` (its symbol first: the bar's legend),
/// then the stacked bar of the medians.
pub fn lines(
    data: &DetailData,
    kind: ProbeKind,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let phases = phases_of(kind);
    if !has_timings(data, kind) {
        return vec![Line::styled("no timings yet", theme.dim())];
    }
    let mut lines = vec![Line::styled(
        format!(
            "  {}{}{}{}{}",
            fit("phase", NAME_WIDTH),
            right("count", COUNT_WIDTH),
            right("p50 ms", VALUE_WIDTH),
            right("p90 ms", VALUE_WIDTH),
            right("p99 ms", VALUE_WIDTH),
        ),
        theme.dim(),
    )];
    for &phase in phases {
        let s = data.phases[phase.index()];
        let value = |v: Option<f64>| right(&v.map_or_else(|| NONE.to_string(), ms), VALUE_WIDTH);
        let numbers = format!(
            "{}{}{}{}",
            right(&count(s.count), COUNT_WIDTH),
            value(s.p50),
            value(s.p90),
            value(s.p99)
        );
        // A phase that did not happen is normal (a reused connection, an IP
        // address): shown, but quietly.
        let style = if s.count == 0 {
            theme.dim()
        } else {
            Default::default()
        };
        lines.push(Line::from(vec![
            TextSpan::styled(
                format!("{} ", Theme::phase_symbol(phase)),
                theme.phase(phase),
            ),
            TextSpan::styled(fit(phase.as_str(), NAME_WIDTH), style),
            TextSpan::styled(numbers, style),
        ]));
    }
    lines.push(bar_line(data, phases, width, theme));
    lines
}

/// The medians of `phases` side by side, each in its symbol and colour, filling
/// the line, with their sum after them.
fn bar_line(data: &DetailData, phases: &[Phase], width: usize, theme: &Theme) -> Line<'static> {
    let medians: Vec<(Phase, f64)> = phases
        .iter()
        .filter_map(|&p| data.phases[p.index()].p50.map(|v| (p, v)))
        .filter(|(_, v)| *v > 0.0)
        .collect();
    if medians.is_empty() {
        return Line::styled("no timings yet", theme.dim());
    }
    let total: f64 = medians.iter().map(|(_, v)| v).sum();
    let label = format!(" p50 sum {} ms", ms(total));
    let cells = width.saturating_sub(label.width()).min(MAX_BAR);
    let mut spans: Vec<TextSpan<'static>> = segments(&medians, cells)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(p, n)| {
            TextSpan::styled(Theme::phase_symbol(p).to_string().repeat(n), theme.phase(p))
        })
        .collect();
    spans.push(TextSpan::styled(label, theme.dim()));
    Line::from(spans)
}

/// `width` cells shared among `values` in proportion, each positive value getting
/// at least one cell while there are cells enough (so a 0.1 ms DNS lookup next to a
/// 300 ms transfer still shows), the rest by largest remainder.
fn segments(values: &[(Phase, f64)], width: usize) -> Vec<(Phase, usize)> {
    let total: f64 = values.iter().map(|(_, v)| v.max(0.0)).sum();
    if width == 0 || total <= 0.0 {
        return values.iter().map(|(p, _)| (*p, 0)).collect();
    }
    let floor = usize::from(values.len() <= width);
    let spare = width - floor * values.len();
    let exact: Vec<f64> = values
        .iter()
        .map(|(_, v)| v.max(0.0) / total * spare as f64)
        .collect();
    let mut cells: Vec<usize> = exact.iter().map(|e| floor + e.floor() as usize).collect();
    let mut left = width.saturating_sub(cells.iter().sum());
    let mut by_remainder: Vec<usize> = (0..values.len()).collect();
    by_remainder
        .sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    for i in by_remainder {
        if left == 0 {
            break;
        }
        cells[i] += 1;
        left -= 1;
    }
    values.iter().map(|(p, _)| *p).zip(cells).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_fill_the_width_in_proportion_and_keep_small_phases() {
        let values = [(Phase::Dns, 0.1), (Phase::Connect, 1.0), (Phase::Ttfb, 8.9)];
        let cells = segments(&values, 20);
        assert_eq!(cells.iter().map(|(_, n)| n).sum::<usize>(), 20);
        assert_eq!(cells[0], (Phase::Dns, 1), "{cells:?}");
        assert!(cells[2].1 >= 16, "{cells:?}");
        // Fewer cells than phases: no minimum, nothing overflows.
        let cells = segments(&values, 2);
        assert_eq!(cells.iter().map(|(_, n)| n).sum::<usize>(), 2);
        assert!(segments(&values, 0).iter().all(|(_, n)| *n == 0));
    }

    #[test]
    fn kinds_show_only_their_phases() {
        assert_eq!(phases_of(ProbeKind::Http).len(), 5);
        assert_eq!(
            phases_of(ProbeKind::Tls),
            [Phase::Dns, Phase::Connect, Phase::Tls]
        );
        assert!(!phases_of(ProbeKind::Tcp).contains(&Phase::Ttfb));
    }
}
