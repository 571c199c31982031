//! The rustls configuration probes use, and reading a certificate's expiry.
//!
//! One `ClientConfig` per distinct setting, shared by every connection with it; a
//! `connection = "fresh"` endpoint must pay for a full handshake every time, so
//! session resumption is off for it.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls12Resumption};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::TlsRoots;

/// How many TLS sessions a resuming configuration remembers (reqwest's default).
const SESSION_CACHE: usize = 256;

/// What distinguishes one TLS configuration from another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// Extra certificates (PEM) to trust: as roots, and as the server's own (see
    /// [`super::trust`]).
    pub ca_file: Option<std::path::PathBuf>,
    /// The root certificates trusted beside `ca_file`.
    pub roots: TlsRoots,
    /// Accept any certificate.
    pub insecure: bool,
    /// Resume earlier sessions (off for fresh connections: each pays a full handshake).
    pub resume: bool,
    /// ALPN protocols offered, in order of preference.
    pub alpn: Vec<Vec<u8>>,
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// A rustls client configuration for `options`.
pub fn client_config(options: &TlsOptions) -> anyhow::Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?;
    let mut config = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier::new(None, provider())))
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(super::trust::verifier(
                options.roots,
                options.ca_file.as_deref(),
                provider(),
            )?)
            .with_no_client_auth()
    };
    let sessions: Arc<dyn ClientSessionStore> = if options.resume {
        Arc::new(ClientSessionMemoryCache::new(SESSION_CACHE))
    } else {
        Arc::new(NoSessions)
    };
    config.resumption = Resumption::store(sessions);
    if !options.resume {
        config.resumption = config
            .resumption
            .tls12_resumption(Tls12Resumption::Disabled);
    }
    config.alpn_protocols = options.alpn.clone();
    Ok(config)
}

/// When `der` (an X.509 certificate) stops being valid, if it parses.
pub fn not_after(der: &[u8]) -> Option<SystemTime> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let seconds = certificate.validity().not_after.timestamp();
    let magnitude = Duration::from_secs(seconds.unsigned_abs());
    if seconds >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// Remembers no session, so every handshake is a full one.
#[derive(Debug)]
struct NoSessions;

impl ClientSessionStore for NoSessions {
    fn set_kx_hint(&self, _: ServerName<'static>, _: rustls::NamedGroup) {}
    fn kx_hint(&self, _: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        None
    }
    fn set_tls12_session(
        &self,
        _: ServerName<'static>,
        _: rustls::client::Tls12ClientSessionValue,
    ) {
    }
    fn tls12_session(&self, _: &ServerName<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
        None
    }
    fn remove_tls12_session(&self, _: &ServerName<'static>) {}
    fn insert_tls13_ticket(
        &self,
        _: ServerName<'static>,
        _: rustls::client::Tls13ClientSessionValue,
    ) {
    }
    fn take_tls13_ticket(
        &self,
        _: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        None
    }
}

/// The verifier of every probe's TLS: the server's certificate judged by `trust`, or,
/// for `insecure = true` (`trust` = `None`), any certificate accepted (it is still
/// read, for its expiry). Either way the handshake's signatures are checked with the
/// certificate the server sent, so an insecure handshake costs what a verifying
/// one's would, minus the chain check.
#[derive(Debug)]
pub(super) struct Verifier {
    trust: Option<super::trust::TrustVerifier>,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    /// `trust` (or none), with signatures checked by `provider`.
    pub(super) fn new(
        trust: Option<super::trust::TrustVerifier>,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        Verifier { trust, provider }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.trust {
            Some(trust) => {
                trust.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
