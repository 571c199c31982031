//! Which server certificates a TLS connection trusts, as curl does.
//!
//! - The roots (`tls_roots`): the operating system's store, Mozilla's (the webpki
//!   roots), or both. Each store is read once, the first time a configuration needs
//!   it, and shared by every configuration after.
//! - `ca_file`: every certificate in it is trusted as a root, and also as the server's
//!   own certificate when the server presents that very certificate. A self-signed
//!   certificate made by `openssl req -x509` is marked CA, which webpki refuses as an
//!   end entity (`CaUsedAsEndEntity`); curl accepts it, and so does probetop, still
//!   checking the host name and the validity dates.
//!
//! Failures are returned with the context a person needs to read them (who issued
//! the certificate, whose it is): see [`CertificateProblem`] and `explain`.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, OtherError, RootCertStore};

use super::tls::Verifier;
use crate::config::TlsRoots;

/// Mozilla's roots, compiled in.
fn webpki_roots() -> &'static [rustls::pki_types::TrustAnchor<'static>] {
    webpki_roots::TLS_SERVER_ROOTS
}

/// The operating system's trust store (`SSL_CERT_FILE` / `SSL_CERT_DIR` when set, as
/// OpenSSL reads them), read once; certificates it cannot use are left out, logged.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let started = std::time::Instant::now();
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!("reading the system trust store: {error}");
        }
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(found.certs);
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(added, ignored, elapsed_ms, "system trust store read");
        store
    })
}

/// The roots `roots` names, built once per kind and shared.
pub fn base_roots(roots: TlsRoots) -> Arc<RootCertStore> {
    static STORES: [OnceLock<Arc<RootCertStore>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match roots {
        TlsRoots::SystemAndWebpki => &STORES[0],
        TlsRoots::Webpki => &STORES[1],
        TlsRoots::System => &STORES[2],
    };
    slot.get_or_init(|| {
        let mut store = RootCertStore::empty();
        if roots.webpki() {
            store.roots.extend_from_slice(webpki_roots());
        }
        if roots.system() {
            store.roots.extend(system_roots().roots.iter().cloned());
        }
        Arc::new(store)
    })
    .clone()
}

/// Reads the trust stores `endpoints` use, now rather than when their first probe
/// is prepared: reading the system's takes tens of milliseconds, which must not
/// count as the schedule's lag.
pub fn preload_roots(endpoints: &[crate::config::Endpoint]) {
    for endpoint in endpoints {
        if endpoint.kind() != crate::config::ProbeKind::Tcp && !endpoint.insecure {
            base_roots(endpoint.tls_roots);
        }
    }
}

/// The certificates of a `ca_file`, in file order; one that does not parse as a
/// certificate is left out (`--check` warns about it), and a file with none at all
/// is an error.
pub fn read_ca_file(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("parsing {}: {e:?}", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{} holds no PEM certificate",
        path.display()
    );
    Ok(certs)
}

/// The verifier for `roots` plus the certificates of `ca_file`.
pub fn verifier(
    roots: TlsRoots,
    ca_file: Option<&Path>,
    provider: Arc<CryptoProvider>,
) -> anyhow::Result<Arc<dyn ServerCertVerifier>> {
    let own = match ca_file {
        Some(path) => read_ca_file(path)?,
        None => Vec::new(),
    };
    // Without a ca_file the shared store itself, not a copy.
    let mut store = base_roots(roots);
    if !own.is_empty() {
        let (_, ignored) = Arc::make_mut(&mut store).add_parsable_certificates(own.iter().cloned());
        if ignored > 0 {
            tracing::warn!(
                ignored,
                "certificates of a ca_file that are not usable as roots were left out"
            );
        }
    }
    let inner = if store.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(store, Arc::clone(&provider))
                .build()
                .context("building the certificate verifier")?,
        )
    };
    Ok(Arc::new(Verifier::new(
        Some(TrustVerifier { inner, own, roots }),
        provider,
    )))
}

/// webpki's verification, plus the `ca_file` certificates trusted as the server's own.
#[derive(Debug)]
pub(super) struct TrustVerifier {
    /// `None` when there is no root at all (`tls_roots = "system"` on a machine whose
    /// store is empty, and no `ca_file`): then nothing verifies, and the message says why.
    inner: Option<Arc<WebPkiServerVerifier>>,
    /// The certificates of `ca_file`, as written.
    own: Vec<CertificateDer<'static>>,
    roots: TlsRoots,
}

impl TrustVerifier {
    /// Accepts `end_entity`, one of the `ca_file` certificates, if it is valid now and
    /// for `server_name`. Its signature is not checked: it is trusted as it is, the
    /// way a root is; the handshake still proves the server holds its key.
    fn verify_own(
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let (not_before, not_after) = validity(end_entity).ok_or(
            rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
        )?;
        let seconds = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let time = now;
        if seconds < not_before {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYetContext {
                    time,
                    not_before: unix_time(not_before),
                },
            ));
        }
        if seconds > not_after {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ExpiredContext {
                    time,
                    not_after: unix_time(not_after),
                },
            ));
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    /// `error` from webpki, with the context a person needs where webpki gives none.
    fn explain(
        &self,
        error: rustls::Error,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> rustls::Error {
        let rustls::Error::InvalidCertificate(certificate) = &error else {
            return error;
        };
        let leaf = Names::of(end_entity);
        let words = match certificate {
            CertificateError::UnknownIssuer | CertificateError::Other(_) if leaf.is_ca => {
                format!(
                    "the server presents a CA certificate as its own ({}{}); put that certificate in ca_file to trust it",
                    leaf.subject,
                    if leaf.self_signed {
                        ", self-signed"
                    } else {
                        ""
                    }
                )
            }
            CertificateError::UnknownIssuer if leaf.self_signed && intermediates.is_empty() => {
                format!(
                    "the certificate is self-signed ({}) and not trusted; put it in ca_file to trust it",
                    leaf.subject
                )
            }
            CertificateError::UnknownIssuer => {
                // The top of the chain the server sent names the authority missing.
                let top = intermediates.last().map_or(leaf, Names::of);
                format!(
                    "the certificate is issued by an unknown authority: {}, which is not among the roots trusted (tls_roots = \"{}\"{})",
                    top.issuer,
                    self.roots.name(),
                    if self.own.is_empty() {
                        ", no ca_file"
                    } else {
                        ", and ca_file"
                    },
                )
            }
            _ => return error,
        };
        problem(words)
    }

    /// [`ServerCertVerifier::verify_server_cert`], for [`Verifier`].
    pub(super) fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = match &self.inner {
            Some(inner) => {
                inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(problem(format!(
                "there is no root certificate to trust (tls_roots = \"{}\" found none, and there is no ca_file)",
                self.roots.name()
            ))),
        };
        match verified {
            Ok(verified) => Ok(verified),
            Err(_)
                if self
                    .own
                    .iter()
                    .any(|own| own.as_ref() == end_entity.as_ref()) =>
            {
                Self::verify_own(end_entity, server_name, now)
            }
            // Already in words: there was nothing to verify with.
            Err(error) if self.inner.is_none() => Err(error),
            Err(error) => Err(self.explain(error, end_entity, intermediates)),
        }
    }
}

/// A certificate failure already put in words, carried inside rustls's error.
#[derive(Debug)]
pub struct CertificateProblem(pub String);

impl std::fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CertificateProblem {}

fn problem(words: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
        CertificateProblem(words),
    ))))
}

/// What a message says of a certificate.
#[derive(Debug, Clone)]
struct Names {
    subject: String,
    issuer: String,
    is_ca: bool,
    self_signed: bool,
}

impl Names {
    fn of(der: &CertificateDer<'_>) -> Names {
        match x509_parser::parse_x509_certificate(der.as_ref()) {
            Ok((_, cert)) => {
                let subject = cut(&cert.subject().to_string());
                let issuer = cut(&cert.issuer().to_string());
                Names {
                    self_signed: cert.subject() == cert.issuer(),
                    is_ca: cert.is_ca(),
                    subject,
                    issuer,
                }
            }
            Err(_) => Names {
                subject: "a certificate that does not parse".into(),
                issuer: "an issuer that cannot be read".into(),
                is_ca: false,
                self_signed: false,
            },
        }
    }
}

/// A name from a certificate, short enough for a message (it is the server's text).
fn cut(text: &str) -> String {
    const MAX: usize = 100;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX).collect();
    out.push('…');
    out
}

/// A certificate's notBefore and notAfter, in seconds since 1970 (negative before).
pub fn validity(der: &[u8]) -> Option<(i64, i64)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let validity = cert.validity();
    Some((
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    ))
}

/// `seconds` since 1970 as rustls's time (a date before 1970 as 1970 itself).
fn unix_time(seconds: i64) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(seconds).unwrap_or(0),
    ))
}

/// Why `ca_file` will verify nothing, or some of its certificates nothing, if it
/// will: certificates that do not parse, have expired or are not valid yet. `None`
/// when every certificate is usable. (An unreadable file, or one without a PEM
/// certificate, is a config error before this is asked.)
pub fn ca_file_warning(path: &Path) -> Option<String> {
    let certs = match read_ca_file(path) {
        Ok(certs) => certs,
        Err(e) => return Some(format!("{e:#}")),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let total = certs.len();
    let problems: Vec<String> = certs
        .iter()
        .enumerate()
        .filter_map(|(i, der)| {
            let which = if total == 1 {
                "its one certificate".to_string()
            } else {
                format!("certificate {} of {total}", i + 1)
            };
            let why = match validity(der) {
                None => "is not a certificate at all (it does not parse as X.509)".to_string(),
                Some((_, not_after)) if not_after < now => format!(
                    "({}) expired on {}",
                    Names::of(der).subject,
                    super::explain::date(not_after)
                ),
                Some((not_before, _)) if not_before > now => format!(
                    "({}) is not valid before {}",
                    Names::of(der).subject,
                    super::explain::date(not_before)
                ),
                Some(_) => return None,
            };
            Some(format!("{which} {why}"))
        })
        .collect();
    if problems.is_empty() {
        return None;
    }
    let verdict = if problems.len() == total {
        "will verify nothing"
    } else {
        "will verify less than it holds"
    };
    Some(format!(
        "ca_file {} {verdict}: {}",
        path.display(),
        problems.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate marked CA, as `openssl req -x509` makes, for `names`.
    fn openssl_style(names: &[&str]) -> CertificateDer<'static> {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn name(text: &str) -> ServerName<'static> {
        ServerName::try_from(text.to_string()).unwrap()
    }

    fn words(error: &rustls::Error) -> String {
        super::super::explain::tls(error)
    }

    fn pinned(cert: &CertificateDer<'static>, inner: bool) -> TrustVerifier {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut store = RootCertStore::empty();
        store.add(cert.clone()).unwrap();
        TrustVerifier {
            inner: inner.then(|| {
                WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(&provider))
                    .build()
                    .unwrap()
            }),
            own: vec![cert.clone()],
            roots: TlsRoots::Webpki,
        }
    }

    #[test]
    fn a_pinned_ca_certificate_is_checked_for_name_and_dates() {
        let cert = openssl_style(&["localhost"]);
        let verifier = pinned(&cert, true);
        let now = UnixTime::now();
        let verify = |host: &str, at: UnixTime| {
            verifier.verify_server_cert(&cert, &[], &name(host), &[], at)
        };
        assert!(verify("localhost", now).is_ok());
        let wrong_host = verify("127.0.0.1", now).unwrap_err();
        assert_eq!(
            words(&wrong_host),
            "the certificate is valid for localhost, not 127.0.0.1"
        );
        // rcgen's default validity ends in 4096.
        let far = UnixTime::since_unix_epoch(std::time::Duration::from_secs(100_000_000_000));
        let expired = verify("localhost", far).unwrap_err();
        assert!(
            words(&expired).starts_with("the certificate expired on 4096-01-01"),
            "{}",
            words(&expired)
        );
        // The same certificate from another file is not trusted as the server's own.
        let stranger = openssl_style(&["localhost"]);
        let refused = verifier
            .verify_server_cert(&stranger, &[], &name("localhost"), &[], now)
            .unwrap_err();
        assert!(
            words(&refused).contains("a CA certificate as its own"),
            "{}",
            words(&refused)
        );
    }

    #[test]
    fn without_any_root_the_message_says_so() {
        let cert = openssl_style(&["localhost"]);
        let mut verifier = pinned(&cert, false);
        verifier.own.clear();
        verifier.roots = TlsRoots::System;
        let error = verifier
            .verify_server_cert(&cert, &[], &name("localhost"), &[], UnixTime::now())
            .unwrap_err();
        assert!(
            words(&error).contains("no root certificate to trust (tls_roots = \"system\""),
            "{}",
            words(&error)
        );
        // A ca_file certificate still verifies with no other root.
        let verifier = pinned(&cert, false);
        assert!(
            verifier
                .verify_server_cert(&cert, &[], &name("localhost"), &[], UnixTime::now())
                .is_ok()
        );
    }
}
