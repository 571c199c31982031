//! `probetop merge`: one snapshot from the snapshots of several vantage points.
//!
//! HDR histograms add exactly, so the merged latency and phase percentiles are those
//! of every probe of every vantage point together, never an average of percentiles.
//! Endpoints are matched by name. Each merged endpoint keeps, under `vantages`, what
//! each vantage point saw on its own. What cannot be added exactly is left out: the
//! rolling windows' percentiles (a snapshot holds only their summaries) and
//! probetop's own scheduler lag (likewise).

use std::collections::BTreeMap;

use super::decode::{Decoded, DecodedEndpoint};
use super::{
    EndpointSnapshot, MergedFrom, OverloadSnapshot, PhasesSnapshot, QueueSnapshot, Snapshot,
    VERSION, WindowSnapshot, vantage,
};
use crate::probe::Phase;
use crate::stats::{AllTime, PhaseSummary, new_histogram};
use crate::text::timestamp;

/// One snapshot to merge: a label for messages (its file name) and its contents.
#[derive(Debug, Clone)]
pub struct Input {
    /// How messages name it: the path as given.
    pub label: String,
    /// Its vantage point when the snapshot records none: the file's stem.
    pub fallback_vantage: String,
    /// The snapshot, checked.
    pub snapshot: Decoded,
}

/// The merge of `inputs`, with warnings for what did not line up (an endpoint's URL
/// differing between vantage points, windows of different spans). Two inputs of the
/// same vantage point, or an input that is itself a merge, are errors: either would
/// count probes twice.
pub fn merge(inputs: &[Input]) -> Result<(Snapshot, Vec<String>), String> {
    if inputs.is_empty() {
        return Err("nothing to merge".into());
    }
    let mut warnings = Vec::new();
    let mut vantages: Vec<String> = Vec::with_capacity(inputs.len());
    for input in inputs {
        if input.snapshot.merged {
            return Err(format!(
                "{} is itself a merge: merge the vantage points' own snapshots",
                input.label
            ));
        }
        // Names come from the files: sanitised like a host name, so that one cannot
        // smuggle a `+` or an escape sequence into the merge.
        let name = vantage::sanitise(
            input
                .snapshot
                .vantage
                .as_deref()
                .unwrap_or(&input.fallback_vantage),
        );
        if let Some(j) = vantages.iter().position(|v| *v == name) {
            return Err(format!(
                "{} and {} were both taken at vantage point {name:?}: give each agent its own --vantage",
                inputs[j].label, input.label
            ));
        }
        if input.snapshot.vantage.is_none() {
            warnings.push(format!(
                "{} records no vantage point: named {name:?} after the file",
                input.label
            ));
        }
        vantages.push(name);
    }

    // Endpoints in the order they first appear.
    let mut order: Vec<&str> = Vec::new();
    let mut by_name: BTreeMap<&str, Vec<(usize, &DecodedEndpoint)>> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        for endpoint in &input.snapshot.endpoints {
            let seen = by_name.entry(endpoint.name.as_str()).or_default();
            if seen.is_empty() {
                order.push(endpoint.name.as_str());
            }
            seen.push((i, endpoint));
        }
    }
    let endpoints = order
        .iter()
        .map(|name| merge_endpoint(name, &by_name[name], &vantages, &mut warnings))
        .collect();

    let snapshots = inputs.iter().map(|i| &i.snapshot);
    let started_at = snapshots.clone().map(|s| s.started_at).min();
    let taken_at = snapshots.clone().map(|s| s.taken_at).max();
    let overload = snapshots
        .clone()
        .fold(OverloadSnapshot::default(), |sum, s| OverloadSnapshot {
            seconds: sum.seconds + s.overload.seconds,
            late_ticks: sum.late_ticks + s.overload.late_ticks,
            max_lag_ms: sum.max_lag_ms.max(s.overload.max_lag_ms),
        });
    let stats_queue = snapshots
        .clone()
        .fold(QueueSnapshot::default(), |most, s| QueueSnapshot {
            depth: most.depth.max(s.stats_queue.depth),
            max_depth: most.max_depth.max(s.stats_queue.max_depth),
        });
    let snapshot = Snapshot {
        probetop_snapshot: VERSION,
        started_at: started_at.map(timestamp).unwrap_or_default(),
        taken_at: taken_at.map(timestamp).unwrap_or_default(),
        vantage: vantages.join("+"),
        merged_from: inputs
            .iter()
            .zip(&vantages)
            .map(|(input, vantage)| MergedFrom {
                vantage: vantage.clone(),
                started_at: timestamp(input.snapshot.started_at),
                taken_at: timestamp(input.snapshot.taken_at),
            })
            .collect(),
        // Only summaries of it are in the inputs: percentiles do not add.
        scheduler_lag_ms: None,
        overload,
        stats_queue,
        endpoints,
        // Each vantage point's own network and alerts are its own business.
        local_network: None,
        alerts: Vec::new(),
        alert_events_dropped: 0,
    };
    Ok((snapshot, warnings))
}

/// One endpoint seen by `seen` (input index, its entry): everything added up, and
/// each vantage point's own entry under `vantages`.
fn merge_endpoint(
    name: &str,
    seen: &[(usize, &DecodedEndpoint)],
    vantages: &[String],
    warnings: &mut Vec<String>,
) -> EndpointSnapshot {
    let url = seen[0].1.url.clone();
    if seen.iter().any(|(_, e)| e.url != url) {
        warnings.push(format!(
            "endpoint {name:?} has different URLs at different vantage points; the merge shows the first"
        ));
    }
    let mut sum = AllTime::default();
    for (_, endpoint) in seen {
        add(&mut sum, &endpoint.all_time);
    }
    // A problem seen from anywhere is a problem: the worst state, the soonest expiry.
    sum.state = seen
        .iter()
        .map(|(_, e)| e.all_time.state)
        .max()
        .unwrap_or(sum.state);
    sum.cert_not_after = seen
        .iter()
        .filter_map(|(_, e)| e.all_time.cert_not_after)
        .min();
    let cert_days_left = seen.iter().filter_map(|(_, e)| e.cert_days_left).min();
    let window = merge_windows(name, seen, warnings);
    let mut merged = EndpointSnapshot::of_all_time(name.into(), url, &sum, cert_days_left, window);
    // The vantage points may probe at different rates: the merge shows the fastest.
    merged.interval_ms = seen
        .iter()
        .map(|(_, e)| e.interval_ms)
        .filter(|&ms| ms > 0)
        .min()
        .unwrap_or(0);
    merged.vantages = seen
        .iter()
        .map(|&(i, e)| {
            let own = EndpointSnapshot::of_all_time(
                e.name.clone(),
                e.url.clone(),
                &e.all_time,
                e.cert_days_left,
                e.window.clone(),
            );
            let own = EndpointSnapshot {
                interval_ms: e.interval_ms,
                ..own
            };
            (vantages[i].clone(), own)
        })
        .collect();
    merged
}

/// `into` plus `other`: counts summed (saturating: snapshots are input, and two
/// that each hold a count near `u64::MAX` must not wrap or panic), histograms added.
/// State, transitions and certificate are the caller's to decide.
fn add(into: &mut AllTime, other: &AllTime) {
    for (mine, theirs) in [
        (&mut into.probes, other.probes),
        (&mut into.ok, other.ok),
        (&mut into.failed, other.failed),
        (&mut into.skipped, other.skipped),
        (&mut into.excused, other.excused),
    ] {
        *mine = mine.saturating_add(theirs);
    }
    for (mine, theirs) in into.errors.iter_mut().zip(other.errors) {
        *mine = mine.saturating_add(theirs);
    }
    for (code, n) in &other.status_codes {
        let count = into.status_codes.entry(*code).or_default();
        *count = count.saturating_add(*n);
    }
    add_histogram(&mut into.latency, &other.latency);
    for (mine, theirs) in into.phases.iter_mut().zip(&other.phases) {
        add_histogram(mine, theirs);
    }
}

fn add_histogram(into: &mut hdrhistogram::Histogram<u64>, other: &hdrhistogram::Histogram<u64>) {
    // Both are probetop's own auto-resizing histograms (see `decode`), so adding
    // cannot run out of range; should it, the sum stays as it was rather than half-added.
    if into.add(other).is_err() {
        let mut fresh = new_histogram();
        if fresh.add(&*into).is_ok() && fresh.add(other).is_ok() {
            *into = fresh;
        }
    }
}

/// The merged window: its probes and successes add up when every vantage point had
/// the same span; its percentiles are left out (null), since the snapshots hold only
/// summaries of the windows and percentiles do not add. With different spans the
/// counts would mean nothing together: `seconds` is 0 and nothing is counted.
fn merge_windows(
    name: &str,
    seen: &[(usize, &DecodedEndpoint)],
    warnings: &mut Vec<String>,
) -> WindowSnapshot {
    let seconds = seen[0].1.window.seconds;
    let same_span = seen.iter().all(|(_, e)| e.window.seconds == seconds);
    if !same_span {
        warnings.push(format!(
            "endpoint {name:?}: the vantage points' windows span different times; the merged window is left empty"
        ));
    }
    let phases = PhasesSnapshot::new(Phase::ALL.map(|phase| PhaseSummary {
        count: if same_span {
            seen.iter()
                .map(|(_, e)| e.window.phases_ms.get(phase).count)
                .sum()
        } else {
            0
        },
        ..PhaseSummary::default()
    }));
    let (probes, ok) = if same_span {
        seen.iter().fold((0, 0), |(p, o), (_, e)| {
            (p + e.window.probes, o + e.window.ok)
        })
    } else {
        (0, 0)
    };
    WindowSnapshot {
        seconds: if same_span { seconds } else { 0 },
        probes,
        ok,
        latency_ms: None,
        phases_ms: phases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::decode::parse;

    /// A snapshot of one endpoint `api` with two latencies, at `vantage`, whose
    /// window spans `seconds`.
    fn input(label: &str, vantage: Option<&str>, seconds: u64, extra: &str) -> Input {
        let mut h = new_histogram();
        h.record(1_000).unwrap();
        h.record(2_000).unwrap();
        let vantage = vantage.map_or(String::new(), |v| format!(r#""vantage": "{v}","#));
        let text = format!(
            r#"{{"probetop_snapshot": 1, {vantage} {extra} "started_at": "2026-11-21T22:40:00Z", "taken_at": "2026-11-21T22:45:00Z",
              "endpoints": [{{"name": "api", "url": "http://x/", "state": "up", "probes": 2, "ok": 2, "failed": 0,
                "window": {{"seconds": {seconds}, "probes": 2, "ok": 2, "latency_ms": null,
                  "phases_ms": {{"dns": {{"count": 0}}, "connect": {{"count": 1}}, "tls": {{"count": 0}}, "ttfb": {{"count": 2}}, "transfer": {{"count": 2}}}}}},
                "histogram": {{"unit": "us", "encoding": "{}", "data": "{}"}}}}]}}"#,
            super::super::ENCODING,
            super::super::encode_histogram(&h),
        );
        Input {
            label: label.into(),
            fallback_vantage: label.trim_end_matches(".json").into(),
            snapshot: parse(&text).unwrap(),
        }
    }

    #[test]
    fn windows_of_different_spans_are_left_empty() {
        let (merged, warnings) = merge(&[
            input("a.json", Some("eu-1"), 300, ""),
            input("b.json", None, 60, ""),
        ])
        .unwrap();
        assert_eq!(merged.vantage, "eu-1+b");
        let api = &merged.endpoints[0];
        assert_eq!(
            (api.probes, api.window.seconds, api.window.probes),
            (4, 0, 0)
        );
        assert_eq!(api.window.phases_ms.ttfb.count, 0);
        assert_eq!(api.vantages["b"].window.seconds, 60);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let (same, warnings) = merge(&[
            input("a.json", Some("eu-1"), 300, ""),
            input("b.json", Some("us-2"), 300, ""),
        ])
        .unwrap();
        let api = &same.endpoints[0];
        assert_eq!((api.window.seconds, api.window.probes), (300, 4));
        assert_eq!(api.window.phases_ms.ttfb.count, 4);
        assert!(
            api.window.latency_ms.is_none(),
            "window percentiles do not add"
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn a_merge_or_a_vantage_point_twice_is_refused() {
        let e = merge(&[
            input("a.json", Some("eu-1"), 300, ""),
            input("b.json", Some("eu-1"), 300, ""),
        ])
        .unwrap_err();
        assert!(e.contains("a.json and b.json"), "{e}");
        let merged = input("m.json", Some("eu-1+us-2"), 300, r#""merged_from": [{}],"#);
        let e = merge(&[merged]).unwrap_err();
        assert!(e.contains("itself a merge"), "{e}");
    }
}
