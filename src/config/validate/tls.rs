//! Certificates: the extra CA an endpoint trusts, and the names TLS can verify.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::Validator;

impl<F: Fn(&str) -> Option<String>> Validator<'_, F> {
    /// `ca_file`, relative to the config file, which must hold a PEM certificate.
    pub(super) fn ca_file(&mut self, key: &str, raw: Option<&Spanned<String>>) -> Option<PathBuf> {
        let raw = raw?;
        let path = self.relative_path(raw);
        self.check_ca_file(&format!("{key}.ca_file"), raw.span(), &path);
        Some(path)
    }

    fn check_ca_file(&mut self, key: &str, span: Range<usize>, path: &Path) {
        match std::fs::read(path) {
            Err(e) => self.error(
                key.to_string(),
                span,
                format!("cannot read CA file {}: {e}", path.display()),
            ),
            Ok(pem) => {
                if reqwest::Certificate::from_pem_bundle(&pem)
                    .map_or(true, |certs| certs.is_empty())
                {
                    self.error(
                        key.to_string(),
                        span,
                        format!("{} holds no PEM certificate", path.display()),
                    );
                }
            }
        }
    }
}

/// Whether `host` (IPv6 in brackets) can name a TLS server.
pub(super) fn is_tls_server_name(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    rustls::pki_types::ServerName::try_from(bare).is_ok()
}
