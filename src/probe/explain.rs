//! Failures in words a person reads: what went wrong and, where the error knows it,
//! with what (the names a certificate is valid for, the date it expired, who issued
//! it), without the wrappers of the libraries beneath (`client error (Connect)`,
//! `Other(OtherError(…))`, `(os error 111)`).

use std::io;

use rustls::{AlertDescription, CertificateError};

use super::trust::CertificateProblem;

/// A rustls error in words.
pub fn tls(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(certificate) => self::certificate(certificate),
        rustls::Error::AlertReceived(alert) => alert_words(*alert),
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".into(),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server did not answer like a TLS server (is it plain HTTP, or another protocol?)"
                .into()
        }
        rustls::Error::PeerIncompatible(why) => {
            format!("the server's TLS has nothing in common with probetop's ({why:?})")
        }
        rustls::Error::PeerMisbehaved(why) => {
            format!("the server broke the TLS protocol ({why:?})")
        }
        rustls::Error::DecryptError => "a TLS record could not be decrypted".into(),
        other => format!("TLS failed: {other}"),
    }
}

/// Why the server's certificate was refused.
fn certificate(error: &CertificateError) -> String {
    match error {
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let expected = expected.to_str();
            let presented: Vec<&str> = presented.iter().filter_map(|n| name_of(n)).collect();
            if presented.is_empty() {
                format!("the certificate names no host, so it is not valid for {expected}")
            } else {
                format!(
                    "the certificate is valid for {}, not {expected}",
                    presented.join(", ")
                )
            }
        }
        CertificateError::NotValidForName => "the certificate is not valid for this host".into(),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("the certificate expired on {}", date(seconds(*not_after)))
        }
        CertificateError::Expired => "the certificate has expired".into(),
        CertificateError::NotValidYetContext { not_before, .. } => {
            format!(
                "the certificate is not valid before {}",
                date(seconds(*not_before))
            )
        }
        CertificateError::NotValidYet => "the certificate is not valid yet".into(),
        CertificateError::UnknownIssuer => {
            "the certificate is issued by an unknown authority".into()
        }
        CertificateError::BadSignature => "the certificate's signature does not verify".into(),
        CertificateError::BadEncoding => "the certificate does not parse".into(),
        CertificateError::Revoked => "the certificate has been revoked".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the certificate is not for TLS servers (its extended key usage)".into()
        }
        CertificateError::UnhandledCriticalExtension => {
            "the certificate has a critical extension probetop does not know".into()
        }
        CertificateError::Other(other) => {
            let inner: &(dyn std::error::Error + 'static) = &*other.0;
            match inner.downcast_ref::<CertificateProblem>() {
                Some(problem) => problem.0.clone(),
                None => format!("the certificate was refused: {inner}"),
            }
        }
        other => format!("the certificate was refused: {other:?}"),
    }
}

/// A name as webpki lists it (`DnsName("localhost")`, `IpAddress(127.0.0.1)`), bare;
/// `None` for the kinds a server is not named by.
fn name_of(listed: &str) -> Option<&str> {
    if let Some(dns) = listed.strip_prefix("DnsName(\"") {
        return dns.strip_suffix("\")");
    }
    if let Some(ip) = listed.strip_prefix("IpAddress(") {
        return ip.strip_suffix(')');
    }
    // An older webpki, or a plain name: as it is, unless it is another kind of name.
    (!listed.contains('(') && listed != "DirectoryName").then_some(listed)
}

fn alert_words(alert: AlertDescription) -> String {
    match alert {
        AlertDescription::HandshakeFailure => {
            "the server refused the handshake (no cipher suite or key exchange in common)".into()
        }
        AlertDescription::ProtocolVersion => "the server speaks no TLS version probetop does".into(),
        AlertDescription::NoApplicationProtocol => {
            "the server speaks none of the protocols offered (ALPN): with `http` set, it may not offer that version".into()
        }
        AlertDescription::UnrecognisedName => {
            "the server does not know the host name asked for (SNI)".into()
        }
        AlertDescription::CertificateRequired => {
            "the server requires a client certificate".into()
        }
        other => format!("the server ended the TLS handshake with the alert {other:?}"),
    }
}

/// An io error in words, without its `(os error N)`.
pub fn io(error: &io::Error) -> String {
    use io::ErrorKind::*;
    let words = match error.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "the connection was reset",
        ConnectionAborted => "the connection was aborted",
        NotConnected => "the connection is not connected",
        BrokenPipe => "the connection was closed while sending",
        UnexpectedEof => "the connection was closed early",
        TimedOut => "timed out",
        AddrNotAvailable => "the address is not available",
        HostUnreachable => "no route to the host",
        NetworkUnreachable => "the network is unreachable",
        PermissionDenied => "permission denied",
        _ => return strip_os_error(&error.to_string()),
    };
    words.to_string()
}

/// Why a name lookup failed, in the words of the TCP probes and the HTTP ones alike.
pub fn lookup(error: &io::Error) -> String {
    format!("name lookup failed: {}", self::io(error))
}

/// How a TLS handshake failed, from the io error it ended with.
pub fn handshake(error: &io::Error) -> String {
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return self::tls(tls);
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake".into()
        }
        io::ErrorKind::ConnectionReset => {
            "the server reset the connection during the TLS handshake".into()
        }
        _ => format!("the TLS handshake failed: {}", self::io(error)),
    }
}

/// `text` without a trailing ` (os error N)`.
pub fn strip_os_error(text: &str) -> String {
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text.to_string(),
    }
}

fn seconds(at: rustls::pki_types::UnixTime) -> i64 {
    i64::try_from(at.as_secs()).unwrap_or(i64::MAX)
}

/// `seconds` since 1970 (negative before) as a UTC date and time, to the minute.
pub fn date(seconds: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(seconds).ok();
    match at {
        Some(at) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        ),
        None => format!("{seconds} s from 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_numbers_are_left_out() {
        assert_eq!(
            strip_os_error("Connection refused (os error 111)"),
            "Connection refused"
        );
        assert_eq!(strip_os_error("no number here"), "no number here");
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(self::io(&refused), "connection refused");
    }

    #[test]
    fn dates_read_as_utc_to_the_minute() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_735_689_600), "2025-01-01 00:00 UTC");
        assert_eq!(date(-86_400), "1969-12-31 00:00 UTC");
    }

    #[test]
    fn names_of_a_certificate_are_listed() {
        let error = CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap(),
            presented: vec![
                "DnsName(\"localhost\")".into(),
                "IpAddress(10.0.0.1)".into(),
                "DirectoryName".into(),
            ],
        };
        assert_eq!(
            certificate(&error),
            "the certificate is valid for localhost, 10.0.0.1, not 127.0.0.1"
        );
    }
}
