//! How the detail view shares its rows among its panels.
//!
//! Each panel says how much room it wants; [`allocate`] hands rows out in two
//! tiers. The core panels (chart, counts, percentiles, errors) get their minimum
//! and then their preferred size first; only what is left goes to the extra panels
//! (phases, certificate, state changes), so on small terminals the extras are
//! dropped before the core panels shrink, and on normal ones the chart keeps room.

/// The panels of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// Probes, status codes, error classes.
    Counts,
    /// The latency percentile curve.
    Percentiles,
    /// Latency over time.
    Chart,
    /// The latest errors.
    Errors,
    /// The endpoint's settings and expectations.
    Settings,
    /// Where the time goes: per-phase counts and percentiles.
    Phases,
    /// The latest certificate's expiry.
    Certificate,
    /// The state changes.
    Transitions,
}

/// How much room a panel wants, heading included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    /// Which panel.
    pub panel: Panel,
    /// Below this it is not drawn at all.
    pub min: u16,
    /// What it gets before any panel grows beyond its own preference.
    pub pref: u16,
    /// More is wasted.
    pub max: u16,
    /// When it grows beyond its minimum: lower first (a panel can be essential when
    /// small, yet less worth growing than another).
    pub grow: u8,
    /// An extra: it gets room only after every core panel has its preference.
    pub late: bool,
}

impl Want {
    /// A core panel's wants.
    pub fn core(panel: Panel, min: u16, pref: u16, max: u16, grow: u8) -> Self {
        Want {
            panel,
            min,
            pref,
            max,
            grow,
            late: false,
        }
    }

    /// The same wants, as an extra.
    pub fn late(self) -> Self {
        Want { late: true, ..self }
    }
}

/// Heights for `wants`, given in priority order, within `height`. For the core
/// panels, then for the extras: first each minimum (a panel whose minimum no longer
/// fits is dropped, and a smaller one after it may still fit), then, in `grow`
/// order, up to each preference. Last, all of them in `grow` order up to each
/// maximum.
pub fn allocate(height: u16, wants: &[Want]) -> Vec<(Panel, u16)> {
    let mut left = height;
    let mut got = vec![0u16; wants.len()];
    let mut growth_order: Vec<usize> = (0..wants.len()).collect();
    growth_order.sort_by_key(|&i| wants[i].grow);
    let grow_to = |got: &mut Vec<u16>, left: &mut u16, i: usize, target: u16| {
        if got[i] > 0 {
            let extra = target.saturating_sub(got[i]).min(*left);
            got[i] += extra;
            *left -= extra;
        }
    };
    for late in [false, true] {
        for (i, w) in wants.iter().enumerate().filter(|(_, w)| w.late == late) {
            if w.min <= left {
                got[i] = w.min;
                left -= w.min;
            }
        }
        for &i in growth_order.iter().filter(|&&i| wants[i].late == late) {
            grow_to(&mut got, &mut left, i, wants[i].pref);
        }
    }
    for &i in &growth_order {
        grow_to(&mut got, &mut left, i, wants[i].max);
    }
    wants.iter().map(|w| w.panel).zip(got).collect()
}

/// The height given to `panel` (0 when it was dropped or not asked for).
pub fn height_of(heights: &[(Panel, u16)], panel: Panel) -> u16 {
    heights
        .iter()
        .find(|(p, _)| *p == panel)
        .map_or(0, |(_, h)| *h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_drops_what_does_not_fit_and_grows_in_order() {
        let wants = [
            Want::core(Panel::Counts, 2, 4, 4, 0),
            Want::core(Panel::Chart, 6, 8, u16::MAX, 1),
            Want::core(Panel::Errors, 2, 3, 10, 2),
        ];
        // The chart does not fit, the errors after it still do.
        assert_eq!(
            allocate(5, &wants),
            vec![(Panel::Counts, 3), (Panel::Chart, 0), (Panel::Errors, 2)]
        );
        assert_eq!(
            allocate(20, &wants),
            vec![(Panel::Counts, 4), (Panel::Chart, 13), (Panel::Errors, 3)]
        );
        // Growth follows `grow`, not priority: the errors grow before the counts.
        let wants = [
            Want::core(Panel::Counts, 2, 4, 4, 1),
            Want::core(Panel::Errors, 2, 3, 10, 0),
        ];
        assert_eq!(
            allocate(6, &wants),
            vec![(Panel::Counts, 3), (Panel::Errors, 3)]
        );
    }

    #[test]
    fn extras_come_after_the_core_preferences() {
        let wants = [
            Want::core(Panel::Chart, 6, 12, u16::MAX, 0),
            Want::core(Panel::Errors, 2, 5, 5, 1),
            Want::core(Panel::Phases, 7, 8, 8, 2).late(),
            Want::core(Panel::Transitions, 2, 4, 10, 3).late(),
        ];
        // Room for the core preferences only: no extra, however small.
        assert_eq!(
            allocate(18, &wants),
            vec![
                (Panel::Chart, 13),
                (Panel::Errors, 5),
                (Panel::Phases, 0),
                (Panel::Transitions, 0)
            ]
        );
        // The phases do not fit, the smaller state changes do.
        assert_eq!(height_of(&allocate(22, &wants), Panel::Transitions), 4);
        assert_eq!(height_of(&allocate(22, &wants), Panel::Phases), 0);
        // Both, then the chart takes the rest.
        assert_eq!(
            allocate(40, &wants),
            vec![
                (Panel::Chart, 23),
                (Panel::Errors, 5),
                (Panel::Phases, 8),
                (Panel::Transitions, 4)
            ]
        );
    }
}
