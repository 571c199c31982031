//! `[[alert]]`: which state changes fire, for which endpoints, to a command or a
//! webhook, in which payload, how often reminded.

use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::Validator;
use crate::config::raw::RawAlert;
use crate::config::{Alert, AlertFormat, AlertState, AlertTarget, defaults};

/// The shortest `repeat`: reminders faster than this would be a storm, not a reminder.
const MIN_REPEAT: Duration = Duration::from_secs(1);

impl<F: Fn(&str) -> Option<String>> Validator<'_, F> {
    /// Every `[[alert]]`, in file order; those with errors are left out. `names` are
    /// the endpoint names the file defines (valid endpoints or not: an endpoint with
    /// an error of its own is reported there, not as unknown here).
    pub(super) fn alerts(
        &mut self,
        raw: Vec<Spanned<RawAlert>>,
        names: &HashSet<String>,
    ) -> Vec<Alert> {
        raw.into_iter()
            .enumerate()
            .filter_map(|(i, alert)| {
                let span = alert.span();
                self.alert(i, alert.into_inner(), span, names)
            })
            .collect()
    }

    fn alert(
        &mut self,
        index: usize,
        raw: RawAlert,
        table_span: Range<usize>,
        names: &HashSet<String>,
    ) -> Option<Alert> {
        let key = format!("alert[{index}]");
        let errors_before = self.errors.len();
        let on = match &raw.on {
            Some(list) => self.alert_states(&key, list),
            None => defaults::ALERT_ON.to_vec(),
        };
        let endpoints = raw
            .endpoints
            .as_ref()
            .map(|list| self.alert_endpoints(&key, list, names));
        let target = self.alert_target(&key, &raw, table_span);
        let format = match &raw.format {
            Some(name) => AlertFormat::from_name(name.get_ref()).or_else(|| {
                self.error(
                    format!("{key}.format"),
                    name.span(),
                    format!(
                        "unknown alert format {:?}: expected \"json\", \"slack\", \"discord\" or \"ntfy\"",
                        name.get_ref()
                    ),
                );
                None
            }),
            None => Some(defaults::ALERT_FORMAT),
        };
        let repeat_key = format!("{key}.repeat");
        let repeat = self.duration(&repeat_key, raw.repeat.as_ref());
        if let (Some(repeat), Some(written)) = (repeat, &raw.repeat)
            && repeat < MIN_REPEAT
        {
            self.error(
                repeat_key,
                written.span(),
                "repeat must be at least 1s".into(),
            );
        }
        if let (Some(AlertTarget::Command(_)), Some(f)) = (&target, &raw.format)
            && *f.get_ref() != AlertFormat::Json.name()
        {
            self.error(
                format!("{key}.format"),
                f.span(),
                "`format` applies to a `webhook` only (a `command` gets PROBETOP_* environment variables)".into(),
            );
        }
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Alert {
            on,
            endpoints,
            target: target?,
            format: format?,
            repeat,
        })
    }

    /// `on`: a non-empty list of state names, each kept once.
    fn alert_states(&mut self, key: &str, list: &Spanned<Vec<Spanned<String>>>) -> Vec<AlertState> {
        if list.get_ref().is_empty() {
            self.error(
                format!("{key}.on"),
                list.span(),
                "`on` is empty: give at least one of \"down\", \"degraded\", \"up\"".into(),
            );
        }
        let mut states = Vec::new();
        for (i, name) in list.get_ref().iter().enumerate() {
            match AlertState::from_name(name.get_ref()) {
                Some(state) if !states.contains(&state) => states.push(state),
                Some(_) => {}
                None => self.error(
                    format!("{key}.on[{i}]"),
                    name.span(),
                    format!(
                        "unknown state {:?}: expected \"down\", \"degraded\" or \"up\"",
                        name.get_ref()
                    ),
                ),
            }
        }
        states
    }

    /// `endpoints`: names of endpoints the file defines.
    fn alert_endpoints(
        &mut self,
        key: &str,
        list: &Spanned<Vec<Spanned<String>>>,
        names: &HashSet<String>,
    ) -> Vec<String> {
        if list.get_ref().is_empty() {
            self.error(
                format!("{key}.endpoints"),
                list.span(),
                "`endpoints` is empty: leave it out to watch every endpoint".into(),
            );
        }
        for (i, name) in list.get_ref().iter().enumerate() {
            if names.contains(name.get_ref()) {
                continue;
            }
            let closest = names
                .iter()
                .map(|n| (strsim::jaro_winkler(name.get_ref(), n), n))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let hint = closest.map_or_else(String::new, |(_, n)| format!("; did you mean {n:?}?"));
            self.error(
                format!("{key}.endpoints[{i}]"),
                name.span(),
                format!("no endpoint is named {:?}{hint}", name.get_ref()),
            );
        }
        list.get_ref().iter().map(|n| n.get_ref().clone()).collect()
    }

    /// Exactly one of `command` and `webhook`.
    fn alert_target(
        &mut self,
        key: &str,
        raw: &RawAlert,
        table_span: Range<usize>,
    ) -> Option<AlertTarget> {
        match (&raw.command, &raw.webhook) {
            (Some(_), Some(webhook)) => {
                self.error(
                    format!("{key}.webhook"),
                    webhook.span(),
                    "an alert has either a `command` or a `webhook`, not both: split it into two [[alert]] tables".into(),
                );
                None
            }
            (None, None) => {
                self.error(
                    key.to_string(),
                    table_span,
                    "an alert needs a `command` (a program and its arguments) or a `webhook` (a URL)".into(),
                );
                None
            }
            (Some(argv), None) => self.alert_command(key, argv),
            (None, Some(url)) => self.alert_webhook(key, url),
        }
    }

    fn alert_command(
        &mut self,
        key: &str,
        argv: &Spanned<Vec<Spanned<String>>>,
    ) -> Option<AlertTarget> {
        let command_key = format!("{key}.command");
        if argv
            .get_ref()
            .first()
            .is_none_or(|p| p.get_ref().is_empty())
        {
            self.error(
                command_key,
                argv.span(),
                "`command` needs a program: [\"/path/to/program\", \"arg\", …] (run without a shell)".into(),
            );
            return None;
        }
        let mut resolved = Vec::with_capacity(argv.get_ref().len());
        for (i, arg) in argv.get_ref().iter().enumerate() {
            resolved.push(self.interpolated(&format!("{command_key}[{i}]"), arg));
        }
        resolved
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .map(AlertTarget::Command)
    }

    fn alert_webhook(&mut self, key: &str, text: &Spanned<String>) -> Option<AlertTarget> {
        let webhook_key = format!("{key}.webhook");
        let resolved = self.interpolated(&webhook_key, text)?;
        let why = match url::Url::parse(&resolved) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                return Some(AlertTarget::Webhook(url));
            }
            Ok(url) => format!(
                "a webhook is an http:// or https:// URL with a host, not {}://",
                url.scheme()
            ),
            Err(e) => e.to_string(),
        };
        // The URL itself is left out: its path may be the hook's secret.
        self.error(
            webhook_key,
            text.span(),
            format!("invalid webhook URL: {why}"),
        );
        None
    }
}
