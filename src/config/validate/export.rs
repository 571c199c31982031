//! `[export]` and `[metrics]`: where snapshots and the interval log go, in which
//! formats, the Prometheus buckets and whether phases are served.

use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::Validator;
use crate::config::ExportFormat;
use crate::config::defaults;
use crate::config::raw::{RawExport, RawMetrics};

/// The validated `[export]` and `[metrics]` settings.
pub(super) struct ExportSettings {
    pub dir: PathBuf,
    pub formats: Vec<ExportFormat>,
    pub on_exit: bool,
    pub hlog: Option<PathBuf>,
    pub hlog_interval: Duration,
    pub metrics_buckets: Vec<f64>,
    pub metrics_phases: bool,
}

impl<F: Fn(&str) -> Option<String>> Validator<'_, F> {
    pub(super) fn export(&mut self, export: &RawExport, metrics: &RawMetrics) -> ExportSettings {
        // One rule for what probetop writes: a relative path is taken from the
        // current directory, whether it is written here, given on the command line
        // or the default, so a run's outputs land where it runs (not beside a config
        // in ~/.config). What it reads (`ca_file`, `body_file`) is found beside the
        // config file instead.
        let output = |path: &Spanned<String>| PathBuf::from(path.get_ref());
        let dir = export
            .dir
            .as_ref()
            .map_or_else(|| PathBuf::from(defaults::EXPORT_DIR), output);
        let hlog = export.hlog.as_ref().map(output);
        let hlog_interval = self
            .duration("export.hlog_interval", export.hlog_interval.as_ref())
            .unwrap_or(defaults::HLOG_INTERVAL);
        let metrics_buckets = match &metrics.buckets {
            Some(list) => self.buckets(list),
            None => defaults::METRICS_BUCKETS.to_vec(),
        };
        let formats = match &export.formats {
            Some(list) => self.formats(list),
            None => defaults::EXPORT_FORMATS.to_vec(),
        };
        let on_exit = export
            .on_exit
            .as_ref()
            .map_or(defaults::EXPORT_ON_EXIT, |b| *b.get_ref());
        let metrics_phases = metrics
            .phases
            .as_ref()
            .map_or(defaults::METRICS_PHASES, |p| *p.get_ref());
        ExportSettings {
            dir,
            formats,
            on_exit,
            hlog,
            hlog_interval,
            metrics_buckets,
            metrics_phases,
        }
    }

    fn buckets(&mut self, list: &Spanned<Vec<Spanned<f64>>>) -> Vec<f64> {
        let values: Vec<f64> = list.get_ref().iter().map(|v| *v.get_ref()).collect();
        let ascending = values.windows(2).all(|w| w[0] < w[1]);
        let positive = values.iter().all(|v| v.is_finite() && *v > 0.0);
        if values.is_empty() || !ascending || !positive {
            self.error(
                "metrics.buckets".into(),
                list.span(),
                "buckets must be positive numbers of seconds in increasing order, e.g. [0.01, 0.1, 1]".into(),
            );
        }
        values
    }

    /// `formats`: a non-empty list of format names, each kept once, in order.
    fn formats(&mut self, list: &Spanned<Vec<Spanned<String>>>) -> Vec<ExportFormat> {
        if list.get_ref().is_empty() {
            self.error(
                "export.formats".into(),
                list.span(),
                "formats is empty: give at least one of \"json\", \"csv\", \"md\"".into(),
            );
        }
        let mut formats = Vec::new();
        for (i, name) in list.get_ref().iter().enumerate() {
            match ExportFormat::from_name(name.get_ref()) {
                Some(format) if !formats.contains(&format) => formats.push(format),
                Some(_) => {}
                None => self.error(
                    format!("export.formats[{i}]"),
                    name.span(),
                    format!(
                        "unknown format {:?}: expected \"json\", \"csv\" or \"md\"",
                        name.get_ref()
                    ),
                ),
            }
        }
        formats
    }
}
