//! The fixed-rate schedule of one endpoint.

use std::time::{Duration, Instant};

/// Over how long the endpoints' first ticks are spread (at most): long enough to
/// spread the load of many endpoints, short enough that a short run (a CI check of a
/// few seconds) probes every endpoint, even one with an interval of minutes.
pub const FIRST_TICK_SPREAD: Duration = Duration::from_secs(1);

/// The most first probes a second: a fleet larger than this starts over longer than
/// [`FIRST_TICK_SPREAD`] (50,000 endpoints over 5 s), never over more than an
/// endpoint's interval, so that starting up is not a burst no machine here holds
/// (one core probes about 10,000 a second).
pub const FIRST_PROBES_PER_SECOND: u32 = 10_000;

/// The most time between two endpoints' first ticks: they are packed this close
/// (one shard wake-up apart, see `WAKE_GAP` in the engine) rather than spread evenly
/// over the second. A wake-up that comes milliseconds after the last finds the caches
/// cold, on this side and on the server's: measured at 100 endpoints × 1 Hz on a
/// 2-core VM, CPU per probe was 244–252 µs spread evenly (10 ms apart), 206 µs at
/// 5 ms, 127–140 µs at 2 ms, 100 µs at 1 ms, and the median endpoint p50 fell from
/// 0.22 to 0.07 ms. The price: each interval, a host's probes come as a run, one a
/// millisecond; a host that answers slower than that has several in flight at once
/// ([`start_order`] interleaves the hosts to keep such runs short).
pub const FIRST_TICK_STEP: Duration = Duration::from_millis(1);

/// When the endpoint `rank`-th in the start order ([`start_order`]) of `count` has
/// its first tick, after the start: [`FIRST_TICK_STEP`] after the one before it, or
/// closer where `count` endpoints would not fit into [`FIRST_TICK_SPREAD`] (longer
/// for more than [`FIRST_PROBES_PER_SECOND`] endpoints) or into `interval` if that is
/// shorter, so that a short run still probes every endpoint. Later ticks follow at
/// first + k × interval.
pub fn first_offset(interval: Duration, rank: u32, count: u32) -> Duration {
    let count = count.max(1);
    let spread = FIRST_TICK_SPREAD.max(Duration::from_secs_f64(
        f64::from(count) / f64::from(FIRST_PROBES_PER_SECOND),
    ));
    let step = (interval.min(spread) / count).min(FIRST_TICK_STEP);
    step * (rank % count)
}

/// The start order of endpoints whose hosts are `hosts` (one key per endpoint, in
/// config order): each endpoint's rank. A host's endpoints are spread evenly through
/// the order and the hosts interleaved: the k-th of a host's n endpoints goes
/// (k + ½) / n of the way through, shifted by j / (m·n) where that host is the j-th
/// of the m hosts with n endpoints (so that a hundred hosts of one endpoint each
/// spread out instead of all landing in the middle), so that a host's probes are as
/// far apart as the packed start allows; endpoints of one host keep their config
/// order.
pub fn start_order<K: std::hash::Hash + Eq>(hosts: impl IntoIterator<Item = K>) -> Vec<u32> {
    let mut groups: std::collections::HashMap<K, (u32, u32)> = std::collections::HashMap::new();
    // (group, position within it) of each endpoint.
    let mut members: Vec<(u32, u32)> = Vec::new();
    for host in hosts {
        let next_group = groups.len() as u32;
        let (group, size) = groups.entry(host).or_insert((next_group, 0));
        members.push((*group, *size));
        *size += 1;
    }
    let mut sizes = vec![0u32; groups.len()];
    for (group, size) in groups.into_values() {
        sizes[group as usize] = size;
    }
    // Each group's place j among the groups of its size, and how many there are.
    let mut of_size: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    let place: Vec<u32> = sizes
        .iter()
        .map(|&size| {
            let count = of_size.entry(size).or_insert(0);
            *count += 1;
            *count - 1
        })
        .collect();
    // Endpoint k of group g at (2(m·k + j) + 1) / (2·m·n), compared exactly by cross
    // multiplication; ties go to the host met first.
    let fraction = |(group, k): (u32, u32)| {
        let g = group as usize;
        let (n, j) = (u128::from(sizes[g]), u128::from(place[g]));
        let m = u128::from(of_size[&sizes[g]]);
        (2 * (m * u128::from(k) + j) + 1, 2 * m * n)
    };
    let keys: Vec<(u128, u128)> = members.iter().map(|&member| fraction(member)).collect();
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| {
        let ((na, da), (nb, db)) = (keys[a], keys[b]);
        (na * db).cmp(&(nb * da)).then(members[a].cmp(&members[b]))
    });
    let mut ranks = vec![0u32; members.len()];
    for (rank, index) in order.into_iter().enumerate() {
        ranks[index] = rank as u32;
    }
    ranks
}

/// Due times `first + k × interval`, computed from k (not by adding up intervals), so
/// rounding never drifts and a late tick does not push later ones back.
#[derive(Debug, Clone)]
pub struct Schedule {
    first: Instant,
    interval: Duration,
    next: u64,
}

impl Schedule {
    /// A schedule whose first tick is due at `first`.
    pub fn new(first: Instant, interval: Duration) -> Self {
        Schedule {
            first,
            interval,
            next: 0,
        }
    }

    /// When the next tick is due.
    pub fn next_due(&self) -> Instant {
        let nanos = self
            .interval
            .as_nanos()
            .saturating_mul(u128::from(self.next));
        let offset = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.first + offset
    }

    /// The same ticks, each `by` later.
    pub fn postpone(&mut self, by: Duration) {
        self.first += by;
    }

    /// Moves on to the following tick.
    pub fn advance(&mut self) {
        self.next += 1;
    }

    /// Moves past every tick due before `now` (and before `deadline`, if any);
    /// returns how many were passed over.
    pub fn skip_past(&mut self, now: Instant, deadline: Option<Instant>) -> u64 {
        let until = deadline.map_or(now, |d| d.min(now));
        let Some(behind) = until.checked_duration_since(self.first) else {
            return 0;
        };
        let interval = self.interval.as_nanos().max(1);
        // Ticks 0..=due_index are due at or before `until`.
        let due_index = u64::try_from(behind.as_nanos() / interval).unwrap_or(u64::MAX);
        let target = due_index.saturating_add(1);
        let passed = target.saturating_sub(self.next);
        self.next = self.next.max(target);
        passed
    }

    /// Time between two ticks.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The same schedule at `interval` instead, keeping its phase: a tick that fell
    /// a fraction f into its interval (counted from `start`) falls f into the new
    /// one, so endpoints spread over their interval stay spread. The next tick is
    /// the first of the new grid after `now`.
    pub fn rephased(&self, start: Instant, interval: Duration, now: Instant) -> Schedule {
        let old = self.interval.as_nanos().max(1);
        let phase = self.next_due().saturating_duration_since(start).as_nanos() % old;
        let fraction = phase as f64 / old as f64;
        let mut schedule = Schedule::new(start + interval.mul_f64(fraction), interval);
        schedule.skip_past(now, None);
        schedule
    }

    /// Ticks handed out so far.
    pub fn ticks(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postponing_moves_every_tick_and_keeps_the_count() {
        let start = Instant::now();
        let interval = Duration::from_millis(100);
        let mut s = Schedule::new(start, interval);
        s.advance();
        s.postpone(Duration::from_millis(30));
        assert_eq!(s.next_due(), start + Duration::from_millis(130));
        assert_eq!(s.ticks(), 1);
        s.advance();
        assert_eq!(s.next_due(), start + Duration::from_millis(230));
    }

    #[test]
    fn skipping_past_counts_the_overdue_ticks() {
        let start = Instant::now();
        let mut s = Schedule::new(start, Duration::from_millis(100));
        s.advance(); // tick 0 handed out
        // At 1 050 ms, ticks 1..=10 are overdue: ten passed over, tick 11 is next.
        assert_eq!(s.skip_past(start + Duration::from_millis(1050), None), 10);
        assert_eq!(s.ticks(), 11);
        assert_eq!(s.skip_past(start + Duration::from_millis(1050), None), 0);
        // A deadline bounds what counts.
        let deadline = Some(start + Duration::from_millis(1500));
        assert_eq!(s.skip_past(start + Duration::from_secs(60), deadline), 5);
    }

    #[test]
    fn first_ticks_are_packed_a_step_apart_within_a_second() {
        let minute = Duration::from_secs(60);
        assert_eq!(first_offset(minute, 0, 4), Duration::ZERO);
        assert_eq!(first_offset(minute, 1, 4), FIRST_TICK_STEP);
        assert_eq!(first_offset(minute, 3, 4), FIRST_TICK_STEP * 3);
        // 1,000 endpoints fill the second at exactly one step apart.
        assert_eq!(first_offset(minute, 999, 1_000), Duration::from_millis(999));
        // More are packed closer, so that all start within the second.
        assert_eq!(
            first_offset(minute, 1_000, 2_000),
            Duration::from_millis(500)
        );
        // A short interval packs them into itself, so no tick waits past its first.
        let short = Duration::from_millis(200);
        assert_eq!(first_offset(short, 1, 2), FIRST_TICK_STEP);
        assert_eq!(
            first_offset(short, 999, 1_000),
            Duration::from_micros(199_800)
        );
        // Every offset stays below both bounds, up to FIRST_PROBES_PER_SECOND endpoints.
        for index in 0..10_000 {
            let offset = first_offset(minute, index, 10_000);
            assert!(offset < FIRST_TICK_SPREAD, "{offset:?}");
        }
        // A larger fleet starts at FIRST_PROBES_PER_SECOND, within its interval.
        assert_eq!(
            first_offset(minute, 49_999, 50_000),
            Duration::from_micros(4_999_900)
        );
        let five = Duration::from_secs(5);
        assert_eq!(
            first_offset(five, 25_000, 100_000),
            Duration::from_millis(1_250)
        );
        assert_eq!(first_offset(minute, 0, 0), Duration::ZERO);
    }

    #[test]
    fn the_start_order_interleaves_the_hosts_evenly() {
        // One host: the config's order.
        assert_eq!(start_order(["a"; 5]), [0, 1, 2, 3, 4]);
        // Two hosts of two: alternating, the first host first.
        assert_eq!(start_order(["a", "a", "b", "b"]), [0, 2, 1, 3]);
        // A host of 1 among 4 of another lands in the middle of them.
        let ranks = start_order(["a", "a", "a", "a", "b"]);
        assert_eq!(ranks, [0, 1, 3, 4, 2]);
        // Always a permutation, a host's endpoints in config order, and a host's
        // neighbours in the order at least total / its size - 1 apart on average.
        let hosts: Vec<u32> = (0..1_000u32).map(|i| (i * 7 + i / 3) % 13).collect();
        let ranks = start_order(hosts.iter().copied());
        let mut sorted = ranks.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1_000).collect::<Vec<u32>>());
        for host in 0..13 {
            let mine: Vec<u32> = (0..1_000)
                .filter(|&i| hosts[i] == host)
                .map(|i| ranks[i])
                .collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "host {host}: {mine:?}"
            );
            let gaps = mine
                .windows(2)
                .map(|w| w[1] - w[0])
                .min()
                .unwrap_or(u32::MAX);
            let expected = 1_000 / mine.len() as u32;
            assert!(
                gaps + 2 >= expected / 2,
                "host {host}: gap {gaps} of {expected}"
            );
        }
        assert!(start_order(Vec::<u8>::new()).is_empty());
        // One host of 100 endpoints among 100 hosts of one each: they alternate, the
        // big host never twice in a row.
        let hosts: Vec<String> = (0..100)
            .map(|_| "api".to_string())
            .chain((0..100).map(|i| format!("h{i}")))
            .collect();
        let ranks = start_order(hosts.iter());
        let mut by_rank = vec![""; 200];
        for (host, &rank) in hosts.iter().zip(&ranks) {
            by_rank[rank as usize] = host;
        }
        assert!(
            by_rank
                .windows(2)
                .all(|w| !(w[0] == "api" && w[1] == "api")),
            "{by_rank:?}"
        );
    }

    #[test]
    fn rephasing_keeps_the_fraction_of_the_interval() {
        let start = Instant::now();
        // A quarter into a 1 s interval: 250 ms, 1 250 ms, …
        let mut s = Schedule::new(start + Duration::from_millis(250), Duration::from_secs(1));
        s.advance();
        s.advance();
        let now = start + Duration::from_millis(2_100);
        let halved = s.rephased(start, Duration::from_millis(500), now);
        assert_eq!(halved.interval(), Duration::from_millis(500));
        // A quarter into 500 ms is 125 ms: the next after 2.1 s is 2 125 ms.
        assert_eq!(halved.next_due() - start, Duration::from_millis(2_125));
        let doubled = s.rephased(start, Duration::from_secs(2), now);
        // A quarter into 2 s is 500 ms: 2 500 ms is the next after 2.1 s.
        assert_eq!(doubled.next_due() - start, Duration::from_millis(2_500));
    }

    #[test]
    fn due_times_do_not_drift() {
        let start = Instant::now();
        let mut s = Schedule::new(start, Duration::from_millis(100) / 3);
        for _ in 0..3000 {
            s.advance();
        }
        assert_eq!(s.ticks(), 3000);
        // 3000 × 33.333333 ms = 99 999.999 ms: off by < 1 µs, not 3000 roundings.
        let off = Duration::from_secs(100).abs_diff(s.next_due() - start);
        assert!(off <= Duration::from_micros(1), "{off:?}");
    }
}
