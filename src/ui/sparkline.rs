//! Sparklines in which failures are marked, never drawn as zero.

use ratatui::text::Span;

use super::model::SparkPoint;
use super::theme::Theme;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The mark of a failed probe.
pub const FAILURE_MARK: char = '✖';

/// The latest `width` points as styled spans: bars scaled from the lowest to the
/// highest latency shown, failures as [`FAILURE_MARK`], right-aligned.
pub fn spans<P>(points: P, width: usize, theme: &Theme) -> Vec<Span<'static>>
where
    P: ExactSizeIterator<Item = SparkPoint> + Clone,
{
    let count = points.len();
    let shown = points.skip(count.saturating_sub(width));
    let shown_len = count.min(width);
    let latencies = shown.clone().filter_map(|p| match p {
        SparkPoint::Latency(us) => Some(us),
        SparkPoint::Failed => None,
    });
    let (low, high) = latencies.fold((u32::MAX, 0), |(lo, hi), us| (lo.min(us), hi.max(us)));
    let mut out = Vec::new();
    if shown_len < width {
        out.push(Span::raw(" ".repeat(width - shown_len)));
    }
    // Runs of the same style become one span, to keep the frame small.
    let mut bars = String::new();
    for point in shown {
        match point {
            SparkPoint::Latency(us) => {
                let level = if high > low {
                    ((u64::from(us - low) * 7) / u64::from(high - low)) as usize
                } else {
                    0
                };
                bars.push(BARS[level]);
            }
            SparkPoint::Failed => {
                if !bars.is_empty() {
                    out.push(Span::styled(std::mem::take(&mut bars), theme.latency()));
                }
                out.push(Span::styled(FAILURE_MARK.to_string(), theme.failure()));
            }
        }
    }
    if !bars.is_empty() {
        out.push(Span::styled(bars, theme.latency()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(spans: &[Span<'_>]) -> String {
        spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn scales_bars_and_marks_failures() {
        let points = [
            SparkPoint::Latency(1000),
            SparkPoint::Failed,
            SparkPoint::Latency(8000),
            SparkPoint::Latency(4500),
        ];
        let theme = Theme { color: false };
        assert_eq!(text(&spans(points.iter().copied(), 4, &theme)), "▁✖█▄");
        assert_eq!(text(&spans(points.iter().copied(), 6, &theme)), "  ▁✖█▄");
        // Scaled among the points shown.
        assert_eq!(text(&spans(points.iter().copied(), 2, &theme)), "█▁");
        assert_eq!(
            text(&spans([SparkPoint::Failed; 3].into_iter(), 3, &theme)),
            "✖✖✖"
        );
    }
}
