//! An endpoint's latest probes as sparkline points, shared by the rows of one
//! overview after another.
//!
//! With thousands of endpoints each probed between two refreshes, copying every
//! row's sixty points into a new row was a tenth of a refresh (and the bytes it
//! wrote, a tenth more in waiting for memory). Here the points live in a buffer
//! that only grows: a refresh writes the new probes after the last, and a row is a
//! view of the buffer's last [`SPARK_POINTS`] points. A point, once a row can see
//! it, is never written again, so rows read while the statistics thread goes on
//! writing after them.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::model::{SPARK_POINTS, SparkPoint};

/// Points a buffer holds: when full, the trail moves to a new one with its last
/// `SPARK_POINTS - 1` points and the one that did not fit, once every
/// `CAPACITY - SPARK_POINTS + 1` probes.
const CAPACITY: usize = 128;

/// The encoding of [`SparkPoint::Failed`] (a latency never reaches it: probes
/// record theirs in `u32` microseconds with this value meaning none).
const FAILED: u32 = u32::MAX;

/// A buffer of encoded points. Atomics, read and written relaxed (the plain loads
/// and stores they compile to), so no `unsafe` is needed: the promise that a row
/// and the writer never touch the same point is kept by the writer (it writes
/// only after every view's end, or into a buffer no view holds), and were it ever
/// broken a row would show a wrong point, not undefined behaviour.
struct Points([AtomicU32; CAPACITY]);

impl Points {
    fn new() -> Arc<Self> {
        Arc::new(Points(std::array::from_fn(|_| AtomicU32::new(FAILED))))
    }

    fn get(&self, at: usize) -> SparkPoint {
        match self.0[at].load(Ordering::Relaxed) {
            FAILED => SparkPoint::Failed,
            us => SparkPoint::Latency(us),
        }
    }

    fn set(&self, at: usize, point: SparkPoint) {
        let encoded = match point {
            SparkPoint::Latency(us) => us.min(FAILED - 1),
            SparkPoint::Failed => FAILED,
        };
        self.0[at].store(encoded, Ordering::Relaxed);
    }
}

/// A row's sparkline: the latest probes, oldest first (at most [`SPARK_POINTS`]).
#[derive(Clone)]
pub struct SparkTrail {
    points: Option<Arc<Points>>,
    start: u8,
    end: u8,
}

impl SparkTrail {
    /// A sparkline of no points.
    pub const fn empty() -> Self {
        SparkTrail {
            points: None,
            start: 0,
            end: 0,
        }
    }

    /// How many points it has.
    pub fn len(&self) -> usize {
        usize::from(self.end - self.start)
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Its points, oldest first.
    pub fn points(&self) -> impl ExactSizeIterator<Item = SparkPoint> + Clone + '_ {
        let range = usize::from(self.start)..usize::from(self.end);
        range.map(|at| {
            self.points
                .as_ref()
                .map_or(SparkPoint::Failed, |p| p.get(at))
        })
    }

    /// Its points collected, oldest first (the tests' view; drawing reads
    /// [`SparkTrail::points`] without collecting them).
    #[cfg(test)]
    pub fn to_vec(&self) -> Vec<SparkPoint> {
        self.points().collect()
    }
}

impl Default for SparkTrail {
    fn default() -> Self {
        SparkTrail::empty()
    }
}

impl FromIterator<SparkPoint> for SparkTrail {
    /// A trail of the last [`SPARK_POINTS`] of `points`, in a buffer of its own.
    fn from_iter<I: IntoIterator<Item = SparkPoint>>(points: I) -> Self {
        let mut writer = SparkWriter::default();
        points.into_iter().for_each(|p| writer.push(p));
        writer.trail()
    }
}

impl From<&[SparkPoint]> for SparkTrail {
    /// A trail of the last [`SPARK_POINTS`] of `points`, in a buffer of its own.
    fn from(points: &[SparkPoint]) -> Self {
        points.iter().copied().collect()
    }
}

impl PartialEq for SparkTrail {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.points().eq(other.points())
    }
}

impl fmt::Debug for SparkTrail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.points()).finish()
    }
}

/// The writing end of an endpoint's trail, kept by the statistics thread.
#[derive(Default)]
pub struct SparkWriter {
    points: Option<Arc<Points>>,
    /// Where the buffer's first point is.
    from: usize,
    /// Points written to the buffer, from its start (the next goes there).
    len: usize,
    /// Where a new trail's first point goes (see [`SparkWriter::staggered`]).
    stagger: usize,
}

impl fmt::Debug for SparkWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.trail(), f)
    }
}

impl SparkWriter {
    /// A writer whose trails start `seed` points (modulo the room there is) into
    /// their first buffer: endpoints probed at the same rate fill their buffers at
    /// the same pace, and numbered apart they move to new ones in different
    /// refreshes, not all in one (a refresh of 50,000 endpoints that allocated and
    /// copied 50,000 buffers took half again as long as the others).
    pub fn staggered(seed: usize) -> Self {
        SparkWriter {
            stagger: seed % (CAPACITY - SPARK_POINTS + 1),
            ..SparkWriter::default()
        }
    }

    /// Adds the newest point.
    pub fn push(&mut self, point: SparkPoint) {
        let points = match &mut self.points {
            Some(points) if self.len < CAPACITY => points,
            Some(points) => {
                // Full: the last points begin a new buffer, unless no row holds
                // this one (then nothing can read its points while they move).
                // Inside a refresh the row before still holds it, so in practice
                // this allocates: one 528-byte buffer per endpoint every 69 probes.
                let keep = (SPARK_POINTS - 1).min(CAPACITY - self.from);
                let moved = match Arc::get_mut(points) {
                    Some(_) => Arc::clone(points),
                    None => Points::new(),
                };
                for at in 0..keep {
                    moved.set(at, points.get(CAPACITY - keep + at));
                }
                *points = moved;
                (self.from, self.len) = (0, keep);
                points
            }
            None => {
                (self.from, self.len) = (self.stagger, self.stagger);
                self.points.insert(Points::new())
            }
        };
        points.set(self.len, point);
        self.len += 1;
    }

    /// Asks the CPU for the memory the next [`SparkWriter::push`] and
    /// [`SparkWriter::trail`] touch: the buffer's reference counts and its next
    /// point (see [`crate::stats::prefetch`]).
    pub fn prefetch(&self) {
        if let Some(points) = &self.points {
            crate::stats::prefetch_arc_counts(points);
            crate::stats::prefetch(&points.0[self.len.min(CAPACITY - 1)]);
        }
    }

    /// Forgets every point (the next [`SparkWriter::push`] starts a new trail).
    pub fn clear(&mut self) {
        // Rows may still show the old points: a new buffer, not the old one rewritten.
        self.points = None;
        self.len = 0;
    }

    /// How many points [`SparkWriter::trail`] would show (without taking a view).
    pub fn len(&self) -> usize {
        match self.points {
            Some(_) => (self.len - self.from).min(SPARK_POINTS),
            None => 0,
        }
    }

    /// Whether [`SparkWriter::trail`] would show no point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The last [`SPARK_POINTS`] points written, for a row.
    pub fn trail(&self) -> SparkTrail {
        let Some(points) = &self.points else {
            return SparkTrail::empty();
        };
        // Both fit a byte: CAPACITY is below 256.
        SparkTrail {
            points: Some(Arc::clone(points)),
            start: self.len.saturating_sub(SPARK_POINTS).max(self.from) as u8,
            end: self.len as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(i: u32) -> SparkPoint {
        if i % 7 == 3 {
            SparkPoint::Failed
        } else {
            SparkPoint::Latency(i * 10)
        }
    }

    /// However many points were pushed, the trail is the last sixty of them, and a
    /// trail taken earlier still shows what it showed then.
    #[test]
    fn a_trail_is_the_last_points_pushed_and_stays_as_taken() {
        for stagger in [0, 1, 30, 68, 69, 1000] {
            a_trail_is_the_last_points_pushed_staggered(stagger);
        }
    }

    fn a_trail_is_the_last_points_pushed_staggered(stagger: usize) {
        let mut writer = SparkWriter::staggered(stagger);
        let mut pushed = Vec::new();
        let mut taken: Vec<(SparkTrail, Vec<SparkPoint>)> = Vec::new();
        for i in 0..1_000u32 {
            writer.push(point(i));
            pushed.push(point(i));
            let trail = writer.trail();
            let expected = pushed[pushed.len().saturating_sub(SPARK_POINTS)..].to_vec();
            assert_eq!(
                trail.to_vec(),
                expected,
                "after {} points, {stagger}",
                i + 1
            );
            assert_eq!(trail.len(), expected.len());
            assert_eq!(
                writer.len(),
                expected.len(),
                "the writer's count, after {i}"
            );
            // Some trails are kept (as the dashboard keeps an overview), some dropped
            // (so that a full buffer is sometimes moved in place).
            if i % 97 < 3 {
                taken.push((trail, expected));
            }
            for (old, shown) in &taken {
                assert_eq!(&old.to_vec(), shown, "a trail taken earlier, after {i}");
            }
        }
    }

    #[test]
    fn a_cleared_trail_starts_again_and_leaves_old_rows_alone() {
        let mut writer = SparkWriter::staggered(17);
        assert!(writer.trail().is_empty());
        (0..100).for_each(|i| writer.push(point(i)));
        let before = writer.trail();
        writer.clear();
        assert!(writer.trail().is_empty());
        assert!(writer.is_empty());
        writer.push(SparkPoint::Latency(5));
        assert_eq!(writer.len(), 1);
        assert_eq!(writer.trail().to_vec(), vec![SparkPoint::Latency(5)]);
        let expected: Vec<SparkPoint> = (40..100).map(point).collect();
        assert_eq!(before.to_vec(), expected);
    }

    #[test]
    fn trails_compare_by_their_points() {
        let points: Vec<SparkPoint> = (0..10).map(point).collect();
        let a = SparkTrail::from(&points[..]);
        let b = SparkTrail::from(&points[..]);
        assert_eq!(a, b);
        assert_ne!(a, SparkTrail::from(&points[1..]));
        assert_eq!(SparkTrail::empty(), SparkTrail::from(&[][..]));
        assert_eq!(format!("{a:?}"), format!("{points:?}"));
    }
}
