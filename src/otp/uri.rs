//! `otpauth://` URIs (the Key Uri Format authenticator apps scan from a QR code).
//!
//! ```text
//! otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30
//! ```
//!
//! [`OtpAuthUri`] builds such a URI for enrollment and parses one to import an existing
//! authenticator. The URI carries the secret key, so the built text is returned as a
//! [`Zeroizing`] string from a method whose name says so ([`OtpAuthUri::expose_uri`]).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::otp::algorithm::Algorithm;
use crate::otp::code::Digits;
use crate::otp::error::OtpError;
use crate::otp::error::{ParamError, UriError};
use crate::otp::hotp::Hotp;
use crate::otp::secret::SecretKey;
use crate::otp::totp::{Totp, TotpParams};

/// Everything except the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) is
/// percent-encoded, so a space is always `%20` and never `+`.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const SCHEME: &str = "otpauth://";

/// The kind of one-time password a URI describes, with its moving factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OtpKind {
    /// Time-based (RFC 6238), with the time step in seconds (1 to 120).
    Totp {
        /// The time step in seconds.
        period: u32,
    },
    /// Counter-based (RFC 4226), with the initial counter value.
    Hotp {
        /// The initial counter value.
        counter: u64,
    },
}

impl OtpKind {
    /// The type as written in the URI: `totp` or `hotp`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Totp { .. } => "totp",
            Self::Hotp { .. } => "hotp",
        }
    }
}

/// An `otpauth://` URI: the secret key, its parameters and the label shown by the app.
///
/// Every value is valid by construction: a value built with [`OtpAuthUri::totp`] or
/// [`OtpAuthUri::hotp`] always turns into a URI that [`OtpAuthUri::parse`] reads back to the same
/// fields, and a parsed value always builds again.
///
/// It holds a [`SecretKey`], so it follows the crate's secret rules: `Debug` redacts the key, and
/// there is no `Display`, `Clone` or `Serialize`. The URI text is reachable only through
/// [`OtpAuthUri::expose_uri`] (and, with the `qr` feature, the QR renderings).
pub struct OtpAuthUri {
    kind: OtpKind,
    algorithm: Algorithm,
    digits: Digits,
    issuer: Option<String>,
    account: String,
    secret: SecretKey,
}

impl OtpAuthUri {
    /// The longest URI accepted by [`OtpAuthUri::parse`] and produced by the constructors, in
    /// bytes. It bounds the work done on untrusted input and leaves room for a
    /// [`SecretKey::MAX_LEN`] key and long, percent-encoded names.
    pub const MAX_LEN: usize = 4096;

    /// Describes a TOTP authenticator for enrollment.
    ///
    /// `issuer` (the service name, strongly recommended) and `account` (for example an e-mail
    /// address) are shown by the app. Neither may contain `:` ([`UriError::ColonInLabel`]) or a
    /// control character, or be empty; the account may not start with a space (apps strip it).
    /// `params` must have `T0 = 0` ([`UriError::NonZeroT0`]): the format has no field for it.
    pub fn totp(
        issuer: Option<&str>,
        account: &str,
        secret: SecretKey,
        params: &TotpParams,
    ) -> Result<Self, OtpError> {
        if params.t0() != 0 {
            return Err(UriError::NonZeroT0.into());
        }
        Self::new(
            OtpKind::Totp {
                period: params.period(),
            },
            params.algorithm(),
            params.digits(),
            issuer,
            account,
            secret,
        )
    }

    /// Describes an HOTP authenticator for enrollment, starting at `counter`.
    ///
    /// The names are checked as in [`OtpAuthUri::totp`].
    pub fn hotp(
        issuer: Option<&str>,
        account: &str,
        secret: SecretKey,
        algorithm: Algorithm,
        digits: Digits,
        counter: u64,
    ) -> Result<Self, OtpError> {
        Self::new(
            OtpKind::Hotp { counter },
            algorithm,
            digits,
            issuer,
            account,
            secret,
        )
    }

    fn new(
        kind: OtpKind,
        algorithm: Algorithm,
        digits: Digits,
        issuer: Option<&str>,
        account: &str,
        secret: SecretKey,
    ) -> Result<Self, OtpError> {
        if let Some(issuer) = issuer {
            check_name(issuer)?;
        }
        check_name(account)?;
        if account.starts_with(' ') {
            return Err(UriError::Label.into());
        }
        let uri = Self {
            kind,
            algorithm,
            digits,
            issuer: issuer.map(String::from),
            account: String::from(account),
            secret,
        };
        let mut measure = Measure(0);
        uri.write_uri(&mut measure);
        if measure.0 > Self::MAX_LEN {
            return Err(UriError::TooLong.into());
        }
        Ok(uri)
    }

    /// Parses an `otpauth://` URI, as leniently as the Key Uri Format allows and no further.
    ///
    /// - The scheme and the type (`totp` or `hotp`) are case-insensitive.
    /// - The label is percent-decoded and split at the first `:` (literal or `%3A`) into issuer
    ///   and account; spaces before the account are dropped.
    /// - The issuer comes from the `issuer` parameter or the label prefix; if both are present
    ///   they must be equal ([`UriError::IssuerMismatch`]). An empty `issuer=` counts as absent.
    /// - The secret is read leniently (lower case, spaces and `=` padding) and may be as short as
    ///   80 bits, as many deployed secrets are; check [`SecretKey::is_below_minimum`] through
    ///   [`OtpAuthUri::secret`] to decide whether to re-enroll.
    /// - `algorithm` is SHA1, SHA256 or SHA512; `digits` 6 to 8; `period` 1 to 120 seconds
    ///   (defaults SHA1, 6, 30); `hotp` requires `counter`.
    /// - Unknown parameters (such as `image`) are ignored; a known one given twice is
    ///   [`UriError::DuplicateParameter`]. Parameter names are matched case-insensitively.
    /// - A `+` is a literal plus sign (RFC 3986), not a space. A `#fragment` is ignored.
    ///
    /// Input longer than [`OtpAuthUri::MAX_LEN`] is refused before any other work.
    pub fn parse(uri: &str) -> Result<Self, OtpError> {
        if uri.len() > Self::MAX_LEN {
            return Err(UriError::TooLong.into());
        }
        let rest = strip_prefix_ignore_case(uri, SCHEME).ok_or(UriError::Scheme)?;
        let type_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (type_name, rest) = rest.split_at_checked(type_end).ok_or(UriError::Type)?;
        let is_totp = if type_name.eq_ignore_ascii_case("totp") {
            true
        } else if type_name.eq_ignore_ascii_case("hotp") {
            false
        } else {
            return Err(UriError::Type.into());
        };
        let rest = rest.strip_prefix('/').ok_or(UriError::Label)?;
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (raw_label, query) = rest.split_once('?').unwrap_or((rest, ""));

        let label = decode_text(raw_label)?;
        if label.is_empty() {
            return Err(UriError::Label.into());
        }
        let (prefix, account) = match label.split_once(':') {
            Some((issuer, account)) => (Some(issuer), account),
            None => (None, label.as_str()),
        };
        let account = account.trim_start_matches(' ');
        if let Some(prefix) = prefix {
            check_name(prefix)?;
        }
        check_name(account)?;

        let raw = RawParams::split(query)?;
        let secret_text = decode_secret(raw.secret.ok_or(UriError::MissingSecret)?)?;
        let secret_str =
            core::str::from_utf8(&secret_text).map_err(|_| UriError::PercentEncoding)?;
        let secret = SecretKey::from_base32_allow_short(secret_str)?;

        let param_issuer = match raw.issuer {
            Some(value) => Some(decode_text(value)?).filter(|issuer| !issuer.is_empty()),
            None => None,
        };
        if let Some(issuer) = &param_issuer {
            check_name(issuer)?;
        }
        let issuer = match (prefix, param_issuer) {
            (Some(prefix), Some(param)) if prefix != param => {
                return Err(UriError::IssuerMismatch.into());
            }
            (_, Some(param)) => Some(param),
            (Some(prefix), None) => Some(String::from(prefix)),
            (None, None) => None,
        };

        let algorithm = match raw.algorithm {
            Some(value) => decode_text(value)?.parse::<Algorithm>()?,
            None => Algorithm::default(),
        };
        let digits = match raw.digits {
            Some(value) => {
                let digits = parse_decimal(&decode_text(value)?)?.unwrap_or(u64::MAX);
                Digits::try_from(u8::try_from(digits).map_err(|_| ParamError::Digits)?)?
            }
            None => Digits::default(),
        };
        let kind = if is_totp {
            let period = match raw.period {
                Some(value) => parse_decimal(&decode_text(value)?)?.unwrap_or(u64::MAX),
                None => u64::from(TotpParams::DEFAULT_PERIOD),
            };
            let period = u32::try_from(period)
                .ok()
                .filter(|p| (1..=TotpParams::MAX_PERIOD).contains(p))
                .ok_or(ParamError::Period)?;
            OtpKind::Totp { period }
        } else {
            let counter = raw.counter.ok_or(UriError::MissingCounter)?;
            // A counter beyond `u64` cannot be represented at all.
            let counter = parse_decimal(&decode_text(counter)?)?.ok_or(UriError::Number)?;
            OtpKind::Hotp { counter }
        };

        Self::new(kind, algorithm, digits, issuer.as_deref(), account, secret)
    }

    /// The URI text, for example to render as a QR code. It contains the secret key: show it only
    /// to the person enrolling, never log or store it; the returned string is wiped on drop.
    ///
    /// The label is `issuer:account` (or just `account`) and the `issuer` parameter is repeated,
    /// both percent-encoded as UTF-8; the secret is upper-case base32 without padding; the
    /// algorithm, digits and period (or counter) are always written out.
    pub fn expose_uri(&self) -> Zeroizing<String> {
        render_exact(|sink| self.write_uri(sink))
    }

    fn write_uri(&self, sink: &mut dyn Sink) {
        sink.put(SCHEME);
        sink.put(self.kind.name());
        sink.put("/");
        if let Some(issuer) = &self.issuer {
            put_encoded(sink, issuer);
            sink.put(":");
        }
        put_encoded(sink, &self.account);
        sink.put("?secret=");
        sink.put(&self.secret.expose_base32());
        if let Some(issuer) = &self.issuer {
            sink.put("&issuer=");
            put_encoded(sink, issuer);
        }
        sink.put("&algorithm=");
        sink.put(self.algorithm.name());
        sink.put("&digits=");
        sink.put_u64(u64::from(self.digits.get()));
        match self.kind {
            OtpKind::Totp { period } => {
                sink.put("&period=");
                sink.put_u64(u64::from(period));
            }
            OtpKind::Hotp { counter } => {
                sink.put("&counter=");
                sink.put_u64(counter);
            }
        }
    }

    /// TOTP or HOTP, with the period or the initial counter.
    pub fn kind(&self) -> OtpKind {
        self.kind
    }

    /// The HMAC hash function.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits in a code.
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// The TOTP period in seconds, or `None` for HOTP.
    pub fn period(&self) -> Option<u32> {
        match self.kind {
            OtpKind::Totp { period } => Some(period),
            OtpKind::Hotp { .. } => None,
        }
    }

    /// The initial HOTP counter, or `None` for TOTP.
    pub fn counter(&self) -> Option<u64> {
        match self.kind {
            OtpKind::Totp { .. } => None,
            OtpKind::Hotp { counter } => Some(counter),
        }
    }

    /// The service name, if the URI has one.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The account name, for example an e-mail address.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The secret key. An imported key may be shorter than the 128-bit floor for new keys:
    /// [`SecretKey::is_below_minimum`] says so.
    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// Gives up the URI and keeps only the secret key, for example to store it after an import.
    pub fn into_secret(self) -> SecretKey {
        self.secret
    }

    /// The TOTP parameters (with `T0 = 0`), or `None` for an HOTP URI.
    pub fn totp_params(&self) -> Option<TotpParams> {
        let period = self.period()?;
        TotpParams::builder()
            .algorithm(self.algorithm)
            .digits(self.digits.get())
            .period(period)
            .build()
            .ok()
    }

    /// A TOTP generator and verifier for this key, or `None` for an HOTP URI.
    pub fn to_totp(&self) -> Option<Totp> {
        Some(Totp::new(self.totp_params()?, &self.secret))
    }

    /// An HOTP generator and verifier for this key, or `None` for a TOTP URI. The initial counter
    /// is [`OtpAuthUri::counter`].
    pub fn to_hotp(&self) -> Option<Hotp> {
        self.counter()?;
        Some(Hotp::new(self.algorithm, self.digits, &self.secret))
    }
}

impl fmt::Debug for OtpAuthUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpAuthUri")
            .field("kind", &self.kind)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("secret", &self.secret)
            .finish()
    }
}

/// The raw (still percent-encoded) values of the known query parameters.
#[derive(Default)]
struct RawParams<'a> {
    secret: Option<&'a str>,
    issuer: Option<&'a str>,
    algorithm: Option<&'a str>,
    digits: Option<&'a str>,
    period: Option<&'a str>,
    counter: Option<&'a str>,
}

impl<'a> RawParams<'a> {
    fn split(query: &'a str) -> Result<Self, OtpError> {
        let mut raw = Self::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = if key.eq_ignore_ascii_case("secret") {
                &mut raw.secret
            } else if key.eq_ignore_ascii_case("issuer") {
                &mut raw.issuer
            } else if key.eq_ignore_ascii_case("algorithm") {
                &mut raw.algorithm
            } else if key.eq_ignore_ascii_case("digits") {
                &mut raw.digits
            } else if key.eq_ignore_ascii_case("period") {
                &mut raw.period
            } else if key.eq_ignore_ascii_case("counter") {
                &mut raw.counter
            } else {
                continue;
            };
            if slot.replace(value).is_some() {
                return Err(UriError::DuplicateParameter.into());
            }
        }
        Ok(raw)
    }
}

/// Refuses names the label cannot carry or that would be unsafe to display.
fn check_name(name: &str) -> Result<(), OtpError> {
    if name.is_empty() {
        Err(UriError::EmptyAccount.into())
    } else if name.contains(':') {
        Err(UriError::ColonInLabel.into())
    } else if name.chars().any(char::is_control) {
        Err(UriError::ControlCharacter.into())
    } else {
        Ok(())
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let (head, tail) = text.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then_some(tail)
}

/// Checks that every `%` starts a two-hex-digit escape (the decoder would pass malformed ones
/// through unchanged).
fn check_escapes(raw: &str) -> Result<(), UriError> {
    let mut bytes = raw.bytes();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let high = bytes.next().filter(u8::is_ascii_hexdigit);
            let low = bytes.next().filter(u8::is_ascii_hexdigit);
            if high.is_none() || low.is_none() {
                return Err(UriError::PercentEncoding);
            }
        }
    }
    Ok(())
}

/// Percent-decodes a name or parameter value, which must decode to UTF-8.
fn decode_text(raw: &str) -> Result<String, OtpError> {
    check_escapes(raw)?;
    percent_decode_str(raw)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| UriError::PercentEncoding.into())
}

/// Percent-decodes the secret into a buffer that never reallocates and is wiped on drop.
fn decode_secret(raw: &str) -> Result<Zeroizing<Vec<u8>>, OtpError> {
    check_escapes(raw)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(raw.len()));
    bytes.extend(percent_decode_str(raw));
    Ok(bytes)
}

/// Parses ASCII decimal digits only (no sign, no spaces): [`UriError::Number`] for anything else,
/// `None` for a number too large for `u64`.
fn parse_decimal(text: &str) -> Result<Option<u64>, OtpError> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(UriError::Number.into());
    }
    Ok(text.bytes().try_fold(0u64, |value, byte| {
        value
            .checked_mul(10)?
            .checked_add(u64::from(byte.wrapping_sub(b'0')))
    }))
}

fn put_encoded(sink: &mut dyn Sink, text: &str) {
    for chunk in utf8_percent_encode(text, ENCODE) {
        sink.put(chunk);
    }
}

/// Where rendered text goes: first a [`Measure`], then a string of exactly the measured size.
pub(crate) trait Sink {
    /// Appends text.
    fn put(&mut self, text: &str);

    /// Appends a number in decimal.
    fn put_u64(&mut self, value: u64) {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        let mut rest = value;
        for slot in buf.iter_mut().rev() {
            *slot = b'0' | (rest % 10) as u8;
            rest /= 10;
            start = start.saturating_sub(1);
            if rest == 0 {
                break;
            }
        }
        if let Some(text) = buf
            .get(start..)
            .and_then(|digits| core::str::from_utf8(digits).ok())
        {
            self.put(text);
        }
    }
}

/// Counts bytes without storing them.
pub(crate) struct Measure(pub(crate) usize);

impl Sink for Measure {
    fn put(&mut self, text: &str) {
        self.0 = self.0.saturating_add(text.len());
    }
}

impl Sink for String {
    fn put(&mut self, text: &str) {
        self.push_str(text);
    }
}

/// Renders text that contains a secret into a wiped-on-drop string allocated once at its final
/// size, so no reallocation leaves a stale copy in freed memory.
pub(crate) fn render_exact(render: impl Fn(&mut dyn Sink)) -> Zeroizing<String> {
    let mut measure = Measure(0);
    render(&mut measure);
    let mut out = Zeroizing::new(String::with_capacity(measure.0));
    render(&mut *out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    const WIKI: &str =
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";

    fn err(uri: &str) -> OtpError {
        OtpAuthUri::parse(uri).unwrap_err()
    }

    fn key() -> SecretKey {
        SecretKey::from_base32("HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ").unwrap()
    }

    #[test]
    fn parses_the_wiki_example() {
        let uri = OtpAuthUri::parse(WIKI).unwrap();
        assert_eq!(uri.kind(), OtpKind::Totp { period: 30 });
        assert_eq!(uri.issuer(), Some("Example"));
        assert_eq!(uri.account(), "alice@google.com");
        assert_eq!(uri.algorithm(), Algorithm::Sha1);
        assert_eq!(uri.digits(), Digits::Six);
        assert_eq!(uri.secret().expose_bytes(), b"Hello!\xde\xad\xbe\xef");
        assert!(uri.secret().is_below_minimum());
    }

    #[test]
    fn builds_with_every_parameter() {
        let params = TotpParams::builder().digits(8).period(60).build().unwrap();
        let uri = OtpAuthUri::totp(Some("ACME Co"), "john doe+1@x.com", key(), &params).unwrap();
        assert_eq!(
            &*uri.expose_uri(),
            "otpauth://totp/ACME%20Co:john%20doe%2B1%40x.com?\
             secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=8&period=60"
        );
        let hotp =
            OtpAuthUri::hotp(None, "a", key(), Algorithm::Sha512, Digits::Seven, 42).unwrap();
        assert_eq!(
            &*hotp.expose_uri(),
            "otpauth://hotp/a?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&algorithm=SHA512&digits=7&counter=42"
        );
    }

    #[test]
    fn exact_allocation() {
        let uri = OtpAuthUri::totp(Some("Ünïcødé ✓"), "ü", key(), &TotpParams::default()).unwrap();
        let text = uri.expose_uri();
        assert_eq!(text.capacity(), text.len());
        assert!(text.contains("%C3%9Cn%C3%AFc%C3%B8d%C3%A9%20%E2%9C%93:%C3%BC?"));
    }

    #[test]
    fn put_u64_writes_decimal() {
        for value in [0, 7, 10, 120, 1_000_000, u64::MAX] {
            let mut out = String::new();
            out.put_u64(value);
            assert_eq!(out, value.to_string());
        }
    }

    #[test]
    fn builder_refuses_bad_names() {
        let p = TotpParams::default();
        let colon = OtpError::Uri(UriError::ColonInLabel);
        assert_eq!(
            OtpAuthUri::totp(Some("A:B"), "a", key(), &p).unwrap_err(),
            colon
        );
        assert_eq!(
            OtpAuthUri::totp(Some("A"), "a:b", key(), &p).unwrap_err(),
            colon
        );
        let empty = OtpError::Uri(UriError::EmptyAccount);
        assert_eq!(
            OtpAuthUri::totp(Some("A"), "", key(), &p).unwrap_err(),
            empty
        );
        assert_eq!(
            OtpAuthUri::totp(Some(""), "a", key(), &p).unwrap_err(),
            empty
        );
        assert_eq!(
            OtpAuthUri::totp(None, "a\nb", key(), &p).unwrap_err(),
            OtpError::Uri(UriError::ControlCharacter)
        );
        assert_eq!(
            OtpAuthUri::totp(None, " a", key(), &p).unwrap_err(),
            OtpError::Uri(UriError::Label)
        );
        let t0 = TotpParams::builder().t0(1).build().unwrap();
        assert_eq!(
            OtpAuthUri::totp(None, "a", key(), &t0).unwrap_err(),
            OtpError::Uri(UriError::NonZeroT0)
        );
        let long = "x".repeat(OtpAuthUri::MAX_LEN);
        assert_eq!(
            OtpAuthUri::totp(None, &long, key(), &p).unwrap_err(),
            OtpError::Uri(UriError::TooLong)
        );
    }

    #[test]
    fn label_forms() {
        let s = "?secret=JBSWY3DPEHPK3PXP";
        let cases = [
            ("Example:alice", Some("Example"), "alice"),
            ("Example%3Aalice", Some("Example"), "alice"),
            ("Example%3a%20%20alice", Some("Example"), "alice"),
            ("Example: alice", Some("Example"), "alice"),
            ("alice", None, "alice"),
            ("%20alice", None, "alice"),
            ("a/b", None, "a/b"),
            ("%E2%9C%93:%F0%9F%94%91", Some("✓"), "🔑"),
        ];
        for (label, issuer, account) in cases {
            let uri = OtpAuthUri::parse(&format!("otpauth://totp/{label}{s}")).unwrap();
            assert_eq!(uri.issuer(), issuer, "{label}");
            assert_eq!(uri.account(), account, "{label}");
        }
    }

    #[test]
    fn lenient_where_the_format_allows() {
        let uri = OtpAuthUri::parse(
            "OTPAUTH://TOTP/x?SECRET=jbswy3dpehpk3pxp%3D%3D%3D%3D%3D%3D&Algorithm=sha256\
             &image=https%3A%2F%2Fexample.com%2Fx.png&&digits=08&issuer=#frag",
        )
        .unwrap();
        assert_eq!(uri.secret().expose_bytes(), b"Hello!\xde\xad\xbe\xef");
        assert_eq!(uri.algorithm(), Algorithm::Sha256);
        assert_eq!(uri.digits(), Digits::Eight);
        assert_eq!(uri.issuer(), None);
        assert_eq!(uri.period(), Some(30));
    }

    #[test]
    fn refusals() {
        let s = "secret=JBSWY3DPEHPK3PXP";
        let cases: &[(&str, OtpError)] = &[
            (
                "https://totp/a?secret=JBSWY3DPEHPK3PXP",
                UriError::Scheme.into(),
            ),
            ("otpauth:/totp/a", UriError::Scheme.into()),
            ("", UriError::Scheme.into()),
            ("otpauth://motp/a?x", UriError::Type.into()),
            ("otpauth:///a?x", UriError::Type.into()),
            ("otpauth://totp", UriError::Label.into()),
            (
                "otpauth://totp?secret=JBSWY3DPEHPK3PXP",
                UriError::Label.into(),
            ),
            (
                "otpauth://totp/?secret=JBSWY3DPEHPK3PXP",
                UriError::Label.into(),
            ),
            (
                "otpauth://totp/A:?secret=JBSWY3DPEHPK3PXP",
                UriError::EmptyAccount.into(),
            ),
            (
                "otpauth://totp/:a?secret=JBSWY3DPEHPK3PXP",
                UriError::EmptyAccount.into(),
            ),
            (
                "otpauth://totp/A:b:c?secret=JBSWY3DPEHPK3PXP",
                UriError::ColonInLabel.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&issuer=A%3AB",
                UriError::ColonInLabel.into(),
            ),
            (
                "otpauth://totp/a%0Ab?secret=JBSWY3DPEHPK3PXP",
                UriError::ControlCharacter.into(),
            ),
            (
                "otpauth://totp/a%?secret=JBSWY3DPEHPK3PXP",
                UriError::PercentEncoding.into(),
            ),
            (
                "otpauth://totp/a%4?secret=JBSWY3DPEHPK3PXP",
                UriError::PercentEncoding.into(),
            ),
            (
                "otpauth://totp/a%zz?secret=JBSWY3DPEHPK3PXP",
                UriError::PercentEncoding.into(),
            ),
            (
                "otpauth://totp/a%FF?secret=JBSWY3DPEHPK3PXP",
                UriError::PercentEncoding.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&issuer=%C3",
                UriError::PercentEncoding.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PX%",
                UriError::PercentEncoding.into(),
            ),
            (
                "otpauth://totp/a?secret=%FFBSWY3DPEHPK3PX",
                UriError::PercentEncoding.into(),
            ),
            ("otpauth://totp/a", UriError::MissingSecret.into()),
            ("otpauth://totp/a?issuer=A", UriError::MissingSecret.into()),
            (
                "otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP",
                UriError::MissingCounter.into(),
            ),
            (
                "otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=",
                UriError::Number.into(),
            ),
            (
                "otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=-1",
                UriError::Number.into(),
            ),
            (
                "otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=18446744073709551616",
                UriError::Number.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=abc",
                UriError::Number.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=+30",
                UriError::Number.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=six",
                UriError::Number.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&secret=JBSWY3DPEHPK3PXP",
                UriError::DuplicateParameter.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=6&DIGITS=6",
                UriError::DuplicateParameter.into(),
            ),
            (
                "otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP&issuer=B",
                UriError::IssuerMismatch.into(),
            ),
            (
                "otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP&issuer=a",
                UriError::IssuerMismatch.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
                ParamError::UnsupportedAlgorithm.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=",
                ParamError::UnsupportedAlgorithm.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=5",
                ParamError::Digits.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=9",
                ParamError::Digits.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=256",
                ParamError::Digits.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=0",
                ParamError::Period.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=121",
                ParamError::Period.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=4294967326",
                ParamError::Period.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=123456789012345678901234567890",
                ParamError::Period.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=123456789012345678901234567890",
                ParamError::Digits.into(),
            ),
            (
                "otpauth://totp/a?secret=",
                crate::otp::error::SecretError::Empty.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PX1",
                crate::otp::error::SecretError::InvalidBase32.into(),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DP",
                crate::otp::error::SecretError::TooShortToImport { bits: 40 }.into(),
            ),
        ];
        for (uri, expected) in cases {
            assert_eq!(&err(uri), expected, "{uri}");
        }
        assert_eq!(
            err(&format!("otpauth://totp/a?{s}&image={}", "x".repeat(4096))),
            UriError::TooLong.into()
        );
    }

    #[test]
    fn conversions() {
        let totp = OtpAuthUri::parse(WIKI).unwrap();
        assert_eq!(totp.totp_params(), Some(TotpParams::default()));
        assert!(totp.to_totp().is_some());
        assert!(totp.to_hotp().is_none());
        let hotp =
            OtpAuthUri::parse("otpauth://hotp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=1")
                .unwrap();
        assert!(hotp.totp_params().is_none());
        assert!(hotp.to_totp().is_none());
        // RFC 4226 appendix D, count 1.
        let code = hotp.to_hotp().unwrap().generate(hotp.counter().unwrap());
        assert_eq!(code.expose_secret(), "287082");
        assert_eq!(hotp.into_secret().expose_bytes(), b"12345678901234567890");
    }

    #[test]
    fn debug_is_redacted() {
        let uri = OtpAuthUri::parse(WIKI).unwrap();
        let shown = format!("{uri:?}");
        assert!(shown.contains("REDACTED"), "{shown}");
        assert!(shown.contains("alice@google.com"), "{shown}");
        assert!(!shown.contains("JBSWY3DP"), "{shown}");
        assert!(!shown.contains("Hello"), "{shown}");
    }
}
