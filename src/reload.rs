//! Changing what runs without a restart: the config file reloaded (on SIGHUP in
//! headless mode, or when the file changes, in both modes), and an endpoint's
//! interval changed from the dashboard.
//!
//! [`Reloader`] is the one writer of the endpoint set while probetop runs. It
//! matches endpoints by name, so a kept one keeps its id (and with it every
//! statistic); it builds what the engine needs first (a change that cannot be built
//! is refused whole), then tells the statistics thread the new set and the engine
//! its changes. The statistics take the set before any sample of an added endpoint
//! can arrive (both go through the one queue), and drop the samples of removed ones
//! by id. The views read the set from the store, inside the same closure as the
//! numbers, so names and statistics never disagree.
//!
//! The rest of the file applies too, each part through a channel of its own whose
//! one sender is the reloader ([`Outlets`]; each part holds its receiving end, a
//! `tokio::sync::watch`, and takes the latest value when it next needs it):
//! `[[alert]]` (the alerting takes them before the reload's endpoint set, see
//! `crate::alert`), `[ui]` (the dashboard's next frame), `[export]` `dir`,
//! `formats` and `on_exit` (the next export, the exit snapshot) and `[metrics]`
//! (the next scrape). They are sent once the reload is sure to apply, before the
//! endpoints change, and only when they changed. Read once at start are what shapes
//! stored data or opened files: the window, `--hlog` and `[export] hlog` and
//! `hlog_interval`, and `--metrics-addr`; a reload that changes one keeps it and
//! says so with a warning. URLs given on the command line stay as they are: they are
//! merged into every reload as at start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, Endpoint, LoadOptions};
use crate::engine::{Change, Engine};
use crate::stats::{EndpointId, EndpointSet, StatsHandle};

/// The shortest interval the dashboard's `+` goes to.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// The longest interval the dashboard's `-` goes to.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// How long the file must be quiet after a change before it is read: an editor's
/// save is several events (write a temporary file, rename it over the original).
const QUIET: Duration = Duration::from_millis(250);
/// The longest a change waits for the file to be quiet, so the 2 s promise holds
/// even while something keeps writing.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// What a reload or an interval change did, for stderr, the status line and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What happened; a refused config's full report (possibly several lines),
    /// not yet made safe for a terminal.
    pub text: String,
    /// Whether it reports a problem (a refused config).
    pub is_error: bool,
}

impl Notice {
    /// A report, logged as it is made. At `info`, even a refusal: a headless run
    /// without `--log-file` logs warnings to stderr, where the report is printed
    /// already (cleaned, and once).
    fn new(text: String, is_error: bool) -> Self {
        let clean = crate::text::terminal_safe(&text);
        if is_error {
            tracing::info!(refused = true, "{clean}");
        } else {
            tracing::info!("{clean}");
        }
        Notice { text, is_error }
    }

    fn info(text: String) -> Self {
        Notice::new(text, false)
    }

    fn error(text: String) -> Self {
        Notice::new(text, true)
    }
}

/// How the run's config was made, to make it again.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The command line's part (its URLs stay as they are).
    pub options: LoadOptions,
    /// Endpoints added after loading (`--demo`'s), added again after every reload.
    pub extra: Vec<Endpoint>,
}

/// The settings read once at start (they shape stored data and open files), to
/// tell a reload that changes them that they stay.
#[derive(Debug, Clone, PartialEq)]
struct Fixed {
    window: Duration,
    hlog: Option<PathBuf>,
    hlog_interval: Duration,
}

impl Fixed {
    fn of(config: &Config) -> Self {
        Fixed {
            window: config.window,
            hlog: config.hlog.clone(),
            hlog_interval: config.hlog_interval,
        }
    }

    /// The keys of `self` that `new` sets differently.
    fn changed(&self, new: &Fixed) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.window != new.window {
            keys.push("window");
        }
        if self.hlog != new.hlog || self.hlog_interval != new.hlog_interval {
            keys.push("hlog");
        }
        keys
    }
}

/// `[ui]` as the dashboard takes it, at start and from each reload that changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSettings {
    /// Whether an endpoint going down rings the terminal bell (`bell`).
    pub bell: bool,
}

impl UiSettings {
    /// What `config` sets.
    pub fn of(config: &Config) -> Self {
        UiSettings { bell: config.bell }
    }
}

/// The sending ends of the channels a reload tells the parts of a run their new
/// settings through, held by the [`Reloader`] alone (one writer). Each part holds
/// the receiving end ([`Inlets`]) and reads it when it next needs the value, so
/// nothing reads a shared config on its hot path.
pub struct Outlets {
    alerts: watch::Sender<crate::alert::Rules>,
    ui: watch::Sender<UiSettings>,
    export: watch::Sender<crate::snapshot::export::Settings>,
    metrics: watch::Sender<crate::metrics::Settings>,
}

/// The receiving ends, one per part (clone one for each holder).
#[derive(Debug, Clone)]
pub struct Inlets {
    /// `[[alert]]`, for the alerting.
    pub alerts: watch::Receiver<crate::alert::Rules>,
    /// `[ui]`, for the dashboard.
    pub ui: watch::Receiver<UiSettings>,
    /// `[export]`, for the dashboard's exports and the exit snapshot.
    pub export: watch::Receiver<crate::snapshot::export::Settings>,
    /// `[metrics]`, for `/metrics`.
    pub metrics: watch::Receiver<crate::metrics::Settings>,
}

/// The channels of a run started from `config`, holding its values.
pub fn channels(config: &Config) -> (Outlets, Inlets) {
    let (alerts, alerts_rx) = watch::channel(config.alerts.clone().into());
    let (ui, ui_rx) = watch::channel(UiSettings::of(config));
    let (export, export_rx) = watch::channel(crate::snapshot::export::Settings::of(config));
    let (metrics, metrics_rx) = watch::channel(crate::metrics::Settings::of(config));
    (
        Outlets {
            alerts,
            ui,
            export,
            metrics,
        },
        Inlets {
            alerts: alerts_rx,
            ui: ui_rx,
            export: export_rx,
            metrics: metrics_rx,
        },
    )
}

impl Outlets {
    /// Sends each part what `config` sets for it, where that changed (a part that
    /// is not running, such as `/metrics` without `--metrics-addr`, still has its
    /// value updated: nobody reads it); the tables that changed, in a fixed order.
    fn send(&self, config: &Config) -> Vec<&'static str> {
        fn changed<T: PartialEq>(sender: &watch::Sender<T>, new: T) -> bool {
            sender.send_if_modified(|value| {
                let modified = *value != new;
                if modified {
                    *value = new;
                }
                modified
            })
        }
        let mut tables = Vec::new();
        if changed(&self.export, crate::snapshot::export::Settings::of(config)) {
            tables.push("[export]");
        }
        if changed(&self.metrics, crate::metrics::Settings::of(config)) {
            tables.push("[metrics]");
        }
        if changed(&self.ui, UiSettings::of(config)) {
            tables.push("[ui]");
        }
        let alerts = self.alerts.send_if_modified(|alerts| {
            let modified = alerts[..] != config.alerts[..];
            if modified {
                *alerts = config.alerts.clone().into();
            }
            modified
        });
        if alerts {
            tables.push("[[alert]]");
        }
        tables
    }
}

/// What a running probetop runs with (its endpoint set, and the settings a reload
/// sends the other parts) and how to change it.
pub struct Reloader {
    source: Source,
    /// The config file, if the run has one.
    path: Option<PathBuf>,
    engine: Arc<Engine>,
    stats: StatsHandle,
    fixed: Fixed,
    /// Where the settings besides the endpoints go.
    outlets: Outlets,
    /// The endpoints as the file (and command line) have them, in config order
    /// (shared with the run's config at start).
    file: Arc<[Endpoint]>,
    /// Their ids, position for position.
    ids: Vec<EndpointId>,
    /// Intervals changed from the dashboard, until the next reload.
    overrides: HashMap<EndpointId, Duration>,
    next_id: EndpointId,
    generation: u64,
    /// The file's text at the latest reload, so that a save of the same text (or a
    /// second event of one save) is not a reload.
    last_text: Option<String>,
}

/// A [`Reloader`] shared by the file watcher, the signal handler and the dashboard.
/// Locked only on blocking threads (a reload reads files) and never across an await.
pub type Shared = Arc<Mutex<Reloader>>;

impl Reloader {
    /// The reloader of a run started from `config` (made from `source`), whose
    /// engine started with `config.endpoints` as ids `0..n`, and whose parts hear
    /// of new settings through `outlets` (made by [`channels`] from `config`).
    pub fn new(
        mut source: Source,
        config: &Config,
        engine: Arc<Engine>,
        stats: StatsHandle,
        outlets: Outlets,
    ) -> Self {
        // The file found at start is the one reloaded, even if another appears where
        // probetop looks by default.
        source.options.config_path = config.source.clone();
        Reloader {
            path: config.source.clone(),
            last_text: config
                .source
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok()),
            source,
            engine,
            stats,
            fixed: Fixed::of(config),
            outlets,
            ids: (0..config.endpoints.len()).collect(),
            next_id: config.endpoints.len(),
            file: config.endpoints.clone(),
            overrides: HashMap::new(),
            generation: 0,
        }
    }

    /// Shares it.
    pub fn shared(self) -> Shared {
        Arc::new(Mutex::new(self))
    }

    /// The config file, if there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Reads the config file again and applies it, or refuses it whole (the running
    /// config stays) and says why. Unless `force`, a file whose text has not changed
    /// since the latest reload is left alone (`None`). Blocks: reads files.
    pub fn reload(&mut self, force: bool) -> Option<Notice> {
        let Some(path) = self.path.clone() else {
            return Some(Notice::info(
                "nothing to reload: probetop runs without a config file".into(),
            ));
        };
        let text = std::fs::read_to_string(&path).ok();
        if !force && text.is_some() && text == self.last_text {
            return None;
        }
        self.last_text = text;
        let refused = |why: String| {
            Notice::error(format!(
                "{}: reload refused, the running config stays:\n{why}",
                path.display()
            ))
        };
        let mut config = match config::load(&self.source.options) {
            Ok(config) => config,
            Err(errors) => return Some(refused(errors.to_string())),
        };
        for extra in &self.source.extra {
            if config.endpoints.iter().any(|e| e.name == extra.name) {
                return Some(refused(format!(
                    "error: endpoint name {:?} is reserved for --demo; rename it in the config\n",
                    extra.name
                )));
            }
        }
        if !self.source.extra.is_empty() {
            config.endpoints = config
                .endpoints
                .iter()
                .chain(&self.source.extra)
                .cloned()
                .collect();
        }
        if config.endpoints.is_empty() {
            return Some(refused(format!(
                "error: {} defines no [[endpoint]]\n",
                path.display()
            )));
        }
        let (changes, ids) = self.diff(&config.endpoints);
        let counts = Counts::of(&changes, &self.ids, &ids);
        let prepared = match self.engine.prepare(changes) {
            Ok(prepared) => prepared,
            Err(e) => return Some(refused(format!("error: {e:#}\n"))),
        };
        let fixed = self.fixed.changed(&Fixed::of(&config));
        // Before the endpoints: an alert about an added endpoint is in place before
        // its first state change can be heard of.
        let applied = self.outlets.send(&config);
        self.file = config.endpoints;
        self.ids = ids;
        self.overrides.clear();
        // The statistics first: a sample of an added endpoint must find it there.
        self.publish();
        self.engine.commit(prepared);
        let mut text = format!(
            "{}: config reloaded: {} endpoint{} ({} kept, {} added, {} removed)",
            path.display(),
            self.file.len(),
            if self.file.len() == 1 { "" } else { "s" },
            counts.kept,
            counts.added,
            counts.removed
        );
        if !applied.is_empty() {
            text.push_str(&format!("; {} applied", applied.join(", ")));
        }
        if !fixed.is_empty() {
            text.push_str(&format!(
                "; {} changed but applies only at start: kept as it was",
                fixed.join(", ")
            ));
        }
        Some(Notice::info(text))
    }

    /// The changes from the running set to `endpoints`, and the ids of `endpoints`,
    /// position for position: a name kept keeps its id.
    fn diff(&mut self, endpoints: &[Endpoint]) -> (Vec<Change>, Vec<EndpointId>) {
        let running: HashMap<&str, EndpointId> = self
            .file
            .iter()
            .zip(&self.ids)
            .map(|(e, &id)| (e.name.as_str(), id))
            .collect();
        let mut changes = Vec::new();
        let mut ids = Vec::with_capacity(endpoints.len());
        let mut next_id = self.next_id;
        for endpoint in endpoints {
            match running.get(endpoint.name.as_str()) {
                Some(&id) => {
                    changes.push(Change::Update(id, endpoint.clone()));
                    ids.push(id);
                }
                None => {
                    changes.push(Change::Add(next_id, endpoint.clone()));
                    ids.push(next_id);
                    next_id += 1;
                }
            }
        }
        let kept: std::collections::HashSet<EndpointId> = ids.iter().copied().collect();
        changes.extend(
            self.ids
                .iter()
                .filter(|id| !kept.contains(id))
                .map(|&id| Change::Remove(id)),
        );
        self.next_id = next_id;
        (changes, ids)
    }

    /// Halves (`faster`) or doubles the interval of the endpoint named `name`,
    /// between [`MIN_INTERVAL`] and [`MAX_INTERVAL`], keeping its statistics; the
    /// next reload sets it back to the file's.
    pub fn step_interval(&mut self, name: &str, faster: bool) -> Notice {
        let Some(position) = self.file.iter().position(|e| e.name == name) else {
            return Notice::error(format!("{name}: no longer configured"));
        };
        let id = self.ids[position];
        let file = self.file[position].interval;
        let current = self.overrides.get(&id).copied().unwrap_or(file);
        // Never slower for `+` nor faster for `-`, even from a file interval
        // outside the bounds.
        let interval = if faster {
            (current / 2).max(MIN_INTERVAL).min(current)
        } else {
            current.saturating_mul(2).min(MAX_INTERVAL).max(current)
        };
        if interval == current {
            let bound = if faster { "shortest" } else { "longest" };
            return Notice::info(format!(
                "{name}: interval stays {} (the {bound})",
                crate::text::duration(current)
            ));
        }
        let mut endpoint = self.file[position].clone();
        // A cap left at its default follows the interval, so a faster endpoint is not
        // skipped for want of overlap; one set in the file stays.
        if endpoint.max_in_flight == config::defaults::max_in_flight(file, endpoint.timeout) {
            endpoint.max_in_flight = config::defaults::max_in_flight(interval, endpoint.timeout);
        }
        endpoint.interval = interval;
        let prepared = match self.engine.prepare(vec![Change::Update(id, endpoint)]) {
            Ok(prepared) => prepared,
            Err(e) => return Notice::error(format!("{name}: {e:#}")),
        };
        if interval == file {
            self.overrides.remove(&id);
        } else {
            self.overrides.insert(id, interval);
        }
        self.publish();
        self.engine.commit(prepared);
        Notice::info(format!(
            "{name}: interval {} (file: {})",
            crate::text::duration(interval),
            crate::text::duration(file)
        ))
    }

    /// Tells the statistics (and through them every view) the set as probed now.
    fn publish(&mut self) {
        self.generation += 1;
        let endpoints: Vec<Endpoint> = self
            .file
            .iter()
            .zip(&self.ids)
            .map(|(e, id)| match self.overrides.get(id) {
                Some(&interval) => Endpoint {
                    interval,
                    ..e.clone()
                },
                None => e.clone(),
            })
            .collect();
        self.stats.reconfigure(Arc::new(EndpointSet {
            endpoints: endpoints.into(),
            ids: self.ids.clone().into(),
            file_intervals: self.file.iter().map(|e| e.interval).collect(),
            generation: self.generation,
        }));
    }
}

/// What a reload kept, added and removed.
struct Counts {
    kept: usize,
    added: usize,
    removed: usize,
}

impl Counts {
    fn of(changes: &[Change], before: &[EndpointId], after: &[EndpointId]) -> Self {
        let added = changes
            .iter()
            .filter(|c| matches!(c, Change::Add(..)))
            .count();
        let removed = changes
            .iter()
            .filter(|c| matches!(c, Change::Remove(_)))
            .count();
        debug_assert_eq!(before.len() - removed, after.len() - added);
        Counts {
            kept: after.len() - added,
            added,
            removed,
        }
    }
}

/// Runs `f` on the reloader on a blocking thread (a reload reads files and may
/// build TLS settings). `None` if the task failed (logged).
pub async fn with_reloader<R, F>(shared: &Shared, f: F) -> Option<R>
where
    R: Send + 'static,
    F: FnOnce(&mut Reloader) -> R + Send + 'static,
{
    let shared = Arc::clone(shared);
    match tokio::task::spawn_blocking(move || {
        // A reload that panicked left the set as it was before or after: whole.
        let mut reloader = shared.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut reloader)
    })
    .await
    {
        Ok(result) => Some(result),
        Err(e) => {
            tracing::error!("a reload failed: {e}");
            None
        }
    }
}

/// The watch on the config file: reloads within a second or so of a change, and
/// sends what each reload did to `notices`.
pub struct Watch {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// Dropping it stops the watching thread.
    _watcher: notify::RecommendedWatcher,
}

impl Watch {
    /// Watches the directory of the reloader's config file (not the file: an editor
    /// that saves by renaming a new file over it would leave a watch on the file
    /// watching nothing). `None` without a config file; a watch that cannot be set
    /// up is logged, and the run goes on without it (SIGHUP still reloads).
    pub fn start(shared: &Shared, notices: mpsc::UnboundedSender<Notice>) -> Option<Watch> {
        let path = shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .path()?
            .to_path_buf();
        let name = path.file_name()?.to_os_string();
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (tx, events) = mpsc::unbounded_channel();
        let handler = move |event: notify::Result<notify::Event>| match event {
            Ok(event) => {
                if !event.kind.is_access()
                    && event
                        .paths
                        .iter()
                        .any(|p| p.file_name() == Some(name.as_os_str()))
                {
                    // Fails only once the watch task has ended: nobody reloads then.
                    let _ = tx.send(());
                }
            }
            Err(e) => tracing::warn!("watching the config file: {e}"),
        };
        let watcher = notify::recommended_watcher(handler).and_then(|mut watcher| {
            notify::Watcher::watch(&mut watcher, &dir, notify::RecursiveMode::NonRecursive)?;
            Ok(watcher)
        });
        let watcher = match watcher {
            Ok(watcher) => watcher,
            Err(e) => {
                tracing::warn!(
                    "cannot watch {} for changes ({e}); SIGHUP still reloads",
                    dir.display()
                );
                return None;
            }
        };
        let cancel = CancellationToken::new();
        let task = tokio::spawn(watch_loop(
            Arc::clone(shared),
            events,
            notices,
            cancel.clone(),
        ));
        Some(Watch {
            cancel,
            task,
            _watcher: watcher,
        })
    }

    /// Stops watching; waits for a reload under way to end.
    pub async fn stop(self) {
        self.cancel.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!("the config watch failed: {e}");
        }
    }
}

/// Reloads after each burst of file events, once the file has been quiet for
/// [`QUIET`] (at most [`MAX_WAIT`] after the first event).
async fn watch_loop(
    shared: Shared,
    mut events: mpsc::UnboundedReceiver<()>,
    notices: mpsc::UnboundedSender<Notice>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            event = events.recv() => if event.is_none() { return },
        }
        let until = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            let quiet = (tokio::time::Instant::now() + QUIET).min(until);
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep_until(quiet) => break,
                event = events.recv() => if event.is_none() { return },
            }
        }
        if let Some(Some(notice)) = with_reloader(&shared, |r| r.reload(false)).await {
            // The receiver is gone only when the run is ending.
            let _ = notices.send(notice);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_settings_name_what_changed() {
        let before = Fixed {
            window: Duration::from_secs(60),
            hlog: None,
            hlog_interval: Duration::from_secs(5),
        };
        let mut after = before.clone();
        assert!(before.changed(&after).is_empty());
        after.window = Duration::from_secs(1);
        after.hlog_interval = Duration::from_secs(1);
        assert_eq!(before.changed(&after), ["window", "hlog"]);
        after = before.clone();
        after.hlog = Some(PathBuf::from("run.hlog"));
        assert_eq!(before.changed(&after), ["hlog"]);
    }

    #[test]
    fn outlets_send_what_changed_and_only_that() {
        let mut config = Config {
            source: None,
            window: Duration::from_secs(60),
            export_dir: PathBuf::from("."),
            export_formats: vec![config::ExportFormat::Json],
            export_on_exit: false,
            hlog: None,
            hlog_interval: Duration::from_secs(5),
            metrics_buckets: vec![0.1, 1.0],
            metrics_phases: false,
            endpoints: Arc::from(Vec::new()),
            alerts: Vec::new(),
            bell: true,
        };
        let (outlets, mut inlets) = channels(&config);
        assert!(outlets.send(&config).is_empty());
        assert!(!inlets.export.has_changed().unwrap());
        config.export_formats = vec![config::ExportFormat::Csv];
        config.metrics_phases = !config.metrics_phases;
        config.bell = !config.bell;
        config.alerts.push(config::Alert {
            on: vec![config::AlertState::Down],
            endpoints: None,
            target: config::AlertTarget::Command(vec!["/bin/true".into()]),
            format: config::AlertFormat::Json,
            repeat: None,
        });
        assert_eq!(
            outlets.send(&config),
            ["[export]", "[metrics]", "[ui]", "[[alert]]"]
        );
        assert_eq!(
            inlets.export.borrow_and_update().formats,
            [config::ExportFormat::Csv]
        );
        assert_eq!(
            inlets.metrics.borrow_and_update().phases,
            config.metrics_phases
        );
        assert_eq!(inlets.ui.borrow_and_update().bell, config.bell);
        assert_eq!(inlets.alerts.borrow_and_update().len(), 1);
        // The same again: nothing changed, nobody is woken.
        assert!(outlets.send(&config).is_empty());
        assert!(!inlets.alerts.has_changed().unwrap());
        assert!(!inlets.ui.has_changed().unwrap());
    }
}
