//! The HdrHistogram interval log (`--hlog FILE`): every `hlog_interval`, one interval
//! histogram per endpoint, tagged with its name, in the standard format that
//! HdrHistogram's own log tools read while probetop runs.
//!
//! Interval histograms are built from the rolling window's raw entries (kept at least
//! two intervals long), so logging costs no histogram per endpoint in memory. A
//! thread of its own owns the file: writing and flushing never block the runtime.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use tokio_util::sync::CancellationToken;

use crate::config::Endpoint;
use crate::stats::{StatsHandle, StatsStore};

/// Samples finished this close to the end of an interval may still be queued for the
/// statistics; the interval ends this much before "now" (0.5 s, in deciseconds).
const QUEUE_SLACK_DS: u32 = 5;

/// One interval's histograms, ready to write.
struct Interval {
    /// Since the start of the run.
    start: Duration,
    length: Duration,
    /// Per endpoint: its tag (the name, made safe) and histogram (empty histograms
    /// are skipped). Named when read, so the log follows a reload's endpoints.
    histograms: Vec<(String, Histogram<u64>)>,
}

/// A running interval log.
pub struct HlogWriter {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl HlogWriter {
    /// Opens `path` (see [`open_fresh`]: an earlier log there is kept under another
    /// name, never appended to) and writes the header; then logs every `interval`
    /// until [`HlogWriter::finish`]. Fails at once if the file cannot be opened, so
    /// a bad path is reported at start-up.
    pub fn start(
        path: &Path,
        interval: Duration,
        endpoints: Arc<[Endpoint]>,
        stats: StatsHandle,
        started_at: SystemTime,
    ) -> io::Result<Self> {
        let file = open_fresh(path)?;
        let (tx, rx) = sync_channel::<Interval>(4);
        let path_for_thread: PathBuf = path.to_path_buf();
        let writer = std::thread::Builder::new()
            .name("probetop-hlog".into())
            .spawn(move || write_log(file, started_at, rx, &path_for_thread))?;
        let cancel = CancellationToken::new();
        let task = tokio::spawn(tick(interval, endpoints, stats, tx, cancel.clone(), writer));
        Ok(HlogWriter { cancel, task })
    }

    /// Writes the last (partial) interval and closes the file. Call after the
    /// engine has stopped, before the statistics are finished.
    pub async fn finish(self) -> io::Result<()> {
        self.cancel.cancel();
        self.task
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e.to_string())))
    }
}

/// Asks the statistics for each interval's histograms and hands them to the writer.
async fn tick(
    interval: Duration,
    endpoints: Arc<[Endpoint]>,
    stats: StatsHandle,
    tx: SyncSender<Interval>,
    cancel: CancellationToken,
    writer: std::thread::JoinHandle<io::Result<()>>,
) -> io::Result<()> {
    let mut from_ds: u32 = 0;
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        let last = tokio::select! {
            _ = timer.tick() => false,
            () = cancel.cancelled() => true,
        };
        let start = from_ds;
        let endpoints = endpoints.clone();
        let read = stats
            .read(move |s| {
                // The last interval takes everything recorded; the others leave the
                // freshest samples for the next one, in case they are still queued.
                let to = if last {
                    s.now_ds().saturating_add(1)
                } else {
                    s.now_ds().saturating_sub(QUEUE_SLACK_DS).max(start)
                };
                (
                    to,
                    interval_histograms(s, s.configured(&endpoints), start, to),
                )
            })
            .await;
        let Some((to_ds, histograms)) = read else {
            break;
        };
        from_ds = to_ds;
        let interval = Interval {
            start: ds(start),
            length: ds(to_ds.saturating_sub(start)),
            histograms,
        };
        // The writer thread drains this; a full channel means the disk is slow, and
        // waiting here (not in a probe) is the right place to wait. Either failure
        // ends the log: the writer thread is gone (it failed, and says why when
        // joined below), or the runtime is shutting down.
        let tx = tx.clone();
        let sent = tokio::task::spawn_blocking(move || tx.send(interval).is_ok())
            .await
            .unwrap_or(false);
        if !sent || last {
            break;
        }
    }
    drop(tx);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
        .unwrap_or_else(|_| Err(io::Error::other("the hlog writer panicked")))
}

fn ds(deciseconds: u32) -> Duration {
    Duration::from_millis(u64::from(deciseconds) * 100)
}

/// Per endpoint, the histogram of the complete responses that finished in
/// `[from_ds, to_ds)`, tagged with its name from `endpoints` (position for
/// position); endpoints without any are left out.
fn interval_histograms(
    stats: &StatsStore,
    endpoints: &[Endpoint],
    from_ds: u32,
    to_ds: u32,
) -> Vec<(String, Histogram<u64>)> {
    // Tags made unique over the whole set (as it is now), before the quiet ones go.
    unique_tags(endpoints.iter().map(|e| tag_text(&e.name)))
        .into_iter()
        .zip(stats.endpoints())
        .map(|(tag, s)| (tag, s.latency_between(from_ds, to_ds)))
        .filter(|(_, histogram)| !histogram.is_empty())
        .collect()
}

/// Most numbered names tried for an earlier log before giving up.
const MAX_KEPT_LOGS: u32 = 1000;

/// Opens `path` for a log of its own. A log must start a file: the log readers take
/// a second header in one file for more intervals of the first log, and misread
/// them. So a regular file already at `path`, unless it is empty, is first renamed
/// to `path.1` (or `.2`, …, the first name free), keeping it. Anything else there (a
/// FIFO, `/dev/stdout`) is written to as it is.
fn open_fresh(path: &Path) -> io::Result<File> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() > 0 => keep_earlier_log(path)?,
        Ok(meta) if !meta.is_file() => return File::options().write(true).open(path),
        // Missing or empty: nothing to keep.
        _ => {}
    }
    File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Renames the log at `path` to the first free `path.N`.
fn keep_earlier_log(path: &Path) -> io::Result<()> {
    for n in 1..=MAX_KEPT_LOGS {
        let mut kept = path.as_os_str().to_os_string();
        kept.push(format!(".{n}"));
        let kept = PathBuf::from(kept);
        if std::fs::symlink_metadata(&kept).is_err() {
            std::fs::rename(path, &kept)?;
            tracing::info!(kept = %kept.display(), "an earlier hlog was kept under another name");
            return Ok(());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{MAX_KEPT_LOGS} earlier logs are kept beside it already ({}.1 …); remove some",
            path.display()
        ),
    ))
}

/// The tags, made distinct: different names can make the same tag (`my api, eu` and
/// `my_api__eu` are both `my_api__eu`), and a reader would add them up. The first
/// keeps it; a later one gets `#` and its endpoint's index (`my_api__eu#1`, as in
/// the config key `endpoint[1]`), again until distinct.
fn unique_tags(tags: impl Iterator<Item = String>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    tags.enumerate()
        .map(|(index, mut tag)| {
            while !taken.insert(tag.clone()) {
                tag = format!("{tag}#{index}");
            }
            tag
        })
        .collect()
}

/// A tag must not contain the log's separators or line breaks.
fn tag_text(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == ',' || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The writer thread: header, then one line per endpoint and interval, flushed at
/// each interval, until the channel closes.
fn write_log(
    file: File,
    started_at: SystemTime,
    rx: Receiver<Interval>,
    path: &Path,
) -> io::Result<()> {
    let mut out = BufWriter::new(file);
    // A start before 1970 (a clock set wrong) is written as the epoch itself: the log
    // stays readable, and its intervals are relative to the start anyway.
    let start = started_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    writeln!(
        out,
        "#[Histogram log written by probetop {}: {}]",
        env!("CARGO_PKG_VERSION"),
        path.display()
    )?;
    writeln!(out, "#[StartTime: {start:.3} (seconds since epoch)]")?;
    writeln!(
        out,
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    )?;
    out.flush()?;
    let mut serializer = crate::snapshot::Compressed::default();
    // The header is written above, so the builder adds nothing of its own.
    let mut log = IntervalLogWriterBuilder::new()
        .begin_log_with(&mut out, &mut serializer)
        .map_err(io::Error::other)?;
    for interval in rx {
        for (name, histogram) in &interval.histograms {
            let tag = Tag::new(name);
            log.write_histogram(histogram, interval.start, interval.length, tag)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        drop(log);
        out.flush()?;
        log = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut out, &mut serializer)
            .map_err(io::Error::other)?;
    }
    drop(log);
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_stay_distinct_whatever_the_names() {
        let names = ["my api, eu", "my_api__eu", "my_api__eu#1", "b", "my api,eu"];
        let tags = unique_tags(names.iter().map(|n| tag_text(n)));
        assert_eq!(
            tags,
            [
                "my_api__eu",
                "my_api__eu#1",
                "my_api__eu#1#2",
                "b",
                "my_api_eu"
            ]
        );
    }

    #[test]
    fn an_earlier_log_is_kept_and_the_new_one_starts_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.hlog");
        // Empty: reused as it is.
        std::fs::write(&path, "").unwrap();
        drop(open_fresh(&path).unwrap());
        assert!(!dir.path().join("run.hlog.1").exists());
        for (run, text) in ["first", "second", "third"].iter().enumerate() {
            let mut file = open_fresh(&path).unwrap();
            file.write_all(text.as_bytes()).unwrap();
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), run + 1);
        }
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("run.hlog"), "third");
        assert_eq!(read("run.hlog.1"), "first");
        assert_eq!(read("run.hlog.2"), "second");
    }
}
