//! The engine's errors: one opaque rejection for whoever presents a code, and precise reasons
//! for developers when a secret, an OTP parameter or an otpauth URI is refused, gathered in
//! [`OtpError`] for everything in the engine but code verification.

use core::fmt;

/// A presented one-time password was not accepted.
///
/// Deliberately carries no detail: a wrong code, a replayed code, a code outside the window and a
/// malformed code all produce this same value, in the same time, so the person typing cannot learn
/// which it was. (Compare `ring::error::Unspecified`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected;

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("verification failed")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Rejected {}

/// Why a presented code was refused — for the audit trail only.
///
/// The person presenting the code must still get the one opaque answer ([`Rejected`], or the
/// service's uniform invalid-credentials error); the host's audit trail learns whether the code
/// was valid but already used, which is worth an alert (someone holds a code the person typed),
/// or simply wrong. The `*_detailed` verifiers that return it do the same work as the opaque
/// ones, with no secret-dependent early exit: the two outcomes cost the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// Wrong, malformed, outside the window, or not checkable.
    Invalid,
    /// A valid code already used: a TOTP step at or below the authenticator's replay watermark
    /// (RFC 6238 §5.2, NIST SP 800-63B §5.1.4.2), or a recovery code whose slot is spent.
    Replayed,
}

impl Refusal {
    /// Whether the code was valid but already used.
    pub const fn is_replay(self) -> bool {
        matches!(self, Self::Replayed)
    }
}

impl From<Refusal> for Rejected {
    fn from(_: Refusal) -> Self {
        Self
    }
}

/// Why a secret key was refused. Never contains the secret itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// A character outside the RFC 4648 base32 alphabet (after removing spaces and `=` padding).
    InvalidBase32,
    /// The key is empty.
    Empty,
    /// The key is shorter than the 128-bit floor for new secrets; use the `*_allow_short`
    /// constructors to import an existing, shorter secret.
    BelowMinimum {
        /// The key length in bits.
        bits: usize,
    },
    /// The key is shorter than 80 bits, which is refused even for imports.
    TooShortToImport {
        /// The key length in bits.
        bits: usize,
    },
    /// The key is longer than [`SecretKey::MAX_LEN`](crate::otp::secret::SecretKey::MAX_LEN) bytes.
    TooLong,
}

/// Why an OTP parameter was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamError {
    /// Digits must be 6, 7 or 8.
    Digits,
    /// The period must be 1 to 120 seconds.
    Period,
    /// The window must be at most [`Window::MAX`](crate::otp::totp::Window::MAX) steps either side.
    Window,
    /// The HOTP look-ahead must be at most [`LookAhead::MAX`](crate::otp::hotp::LookAhead::MAX).
    LookAhead,
    /// The algorithm is not SHA1, SHA256 or SHA512.
    UnsupportedAlgorithm,
    /// A service lifetime (ticket, setup link, temporary password) is zero or above its limit.
    Lifetime,
}

/// Why an otpauth URI was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// The URI does not start with `otpauth://`.
    Scheme,
    /// The type is neither `totp` nor `hotp`.
    Type,
    /// The label (issuer and account) is missing or malformed.
    Label,
    /// A `%` escape is malformed or the decoded bytes are not UTF-8.
    PercentEncoding,
    /// The `secret` parameter is missing.
    MissingSecret,
    /// A `hotp` URI has no `counter` parameter.
    MissingCounter,
    /// A numeric parameter (`digits`, `period`, `counter`) is not a number.
    Number,
    /// The same parameter appears twice.
    DuplicateParameter,
    /// The issuer in the label prefix and the `issuer` parameter differ.
    IssuerMismatch,
    /// The issuer or account contains a `:`, which the label format cannot carry.
    ColonInLabel,
    /// The issuer or account is empty.
    EmptyAccount,
    /// The URI is longer than [`OtpAuthUri::MAX_LEN`](crate::otp::uri::OtpAuthUri::MAX_LEN) bytes.
    TooLong,
    /// The issuer or account contains a control character (such as a newline or an escape).
    ControlCharacter,
    /// The TOTP parameters have a `T0` other than 0, which the otpauth format cannot carry.
    NonZeroT0,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidBase32 => f.write_str("not RFC 4648 base32 (A-Z, 2-7)"),
            Self::Empty => f.write_str("the key is empty"),
            Self::BelowMinimum { bits } => write!(
                f,
                "the key has {bits} bits, below the 128-bit minimum for new secrets \
                 (use an `allow_short` constructor to import an existing one)"
            ),
            Self::TooShortToImport { bits } => {
                write!(f, "the key has {bits} bits; at least 80 are required")
            }
            // `SecretKey::MAX_LEN`; the secret module's tests check that the two agree.
            Self::TooLong => f.write_str("the key is longer than 256 bytes"),
        }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Digits => "digits must be 6, 7 or 8",
            Self::Period => "the period must be between 1 and 120 seconds",
            Self::Window => "the window is larger than the maximum",
            Self::LookAhead => "the look-ahead is larger than the maximum",
            Self::UnsupportedAlgorithm => "the algorithm must be SHA1, SHA256 or SHA512",
            Self::Lifetime => "a lifetime is zero or above its limit",
        })
    }
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Scheme => "the scheme must be otpauth://",
            Self::Type => "the type must be totp or hotp",
            Self::Label => "the label is missing or malformed",
            Self::PercentEncoding => "malformed percent-encoding or not UTF-8",
            Self::MissingSecret => "the secret parameter is missing",
            Self::MissingCounter => "a hotp URI needs a counter parameter",
            Self::Number => "a numeric parameter is not a number",
            Self::DuplicateParameter => "a parameter appears twice",
            Self::IssuerMismatch => "the label issuer and the issuer parameter differ",
            Self::ColonInLabel => "the issuer or account contains ':'",
            Self::EmptyAccount => "the issuer or account is empty",
            Self::TooLong => "the URI is too long",
            Self::ControlCharacter => "the issuer or account contains a control character",
            Self::NonZeroT0 => "the otpauth format cannot carry a T0 other than 0",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SecretError {}
#[cfg(feature = "std")]
impl std::error::Error for ParamError {}
#[cfg(feature = "std")]
impl std::error::Error for UriError {}

/// Why the engine refused to build, parse or compute something: the one error type of every
/// fallible function in this layer apart from code verification. For developers; never contains
/// a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtpError {
    /// A secret key could not be built.
    Secret(SecretError),
    /// An OTP parameter is out of range.
    Param(ParamError),
    /// An otpauth URI could not be built or parsed.
    Uri(UriError),
    /// The time is before the TOTP epoch `T0`, or the step does not fit the arithmetic.
    TimeOutOfRange,
    /// The random number generator failed.
    Random,
    /// A QR code could not be rendered (the data is too long for any QR version).
    #[cfg(feature = "qr")]
    Qr,
}

impl fmt::Display for OtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(e) => write!(f, "invalid secret key: {e}"),
            Self::Param(e) => write!(f, "invalid OTP parameter: {e}"),
            Self::Uri(e) => write!(f, "invalid otpauth URI: {e}"),
            Self::TimeOutOfRange => f.write_str("time is before T0 or out of range"),
            Self::Random => f.write_str("the random number generator failed"),
            #[cfg(feature = "qr")]
            Self::Qr => f.write_str("the URI is too long for a QR code"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for OtpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Secret(e) => Some(e),
            Self::Param(e) => Some(e),
            Self::Uri(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SecretError> for OtpError {
    fn from(e: SecretError) -> Self {
        Self::Secret(e)
    }
}

impl From<ParamError> for OtpError {
    fn from(e: ParamError) -> Self {
        Self::Param(e)
    }
}

impl From<UriError> for OtpError {
    fn from(e: UriError) -> Self {
        Self::Uri(e)
    }
}
