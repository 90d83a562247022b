//! [`PasskeyConfigError`] and [`PasskeyError`].

use core::fmt;

/// A relying-party configuration that WebAuthn clients would refuse (WebAuthn Level 3 §5.1.3
/// step 8 and §13.4.9: the origin must be a secure context whose effective domain is the RP id
/// or under it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasskeyConfigError {
    /// The RP id is not a lowercase domain name (no scheme, port, path, or IP address).
    RpId,
    /// No allowed origin was given.
    NoOrigin,
    /// An origin is not a bare `https://host[:port]` (or `http://localhost[:port]`).
    Origin,
    /// An origin's host is neither the RP id nor under it.
    OriginOutsideRpId,
    /// The RP name is empty or longer than 64 bytes.
    RpName,
}

impl fmt::Display for PasskeyConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RpId => "the relying-party id is not a lowercase domain name",
            Self::NoOrigin => "no allowed origin",
            Self::Origin => "an origin is not https://host[:port] (or http://localhost)",
            Self::OriginOutsideRpId => "an origin is neither the relying-party id nor under it",
            Self::RpName => "the relying-party name is empty or longer than 64 bytes",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PasskeyConfigError {}

/// Why a ceremony failed. The host shows a person one opaque failure for every variant but
/// [`PasskeyError::Random`]; the variants are for the audit trail and for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasskeyError {
    /// The browser's JSON does not parse as the ceremony's response.
    Malformed,
    /// The response does not verify: wrong challenge, origin, RP id, type, flags, credential or
    /// signature (WebAuthn Level 3 §7.1 and §7.2).
    Rejected,
    /// The signature counter did not move forward (§7.2 step 22, §6.1.1): the authenticator may
    /// have been cloned. Refused, and audited by the caller.
    CounterRegression,
    /// A stored state or credential does not decode (the server-side store was altered).
    Stored,
    /// The random number generator failed, or the library could not make a challenge.
    Random,
}

impl fmt::Display for PasskeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "the WebAuthn response is malformed",
            Self::Rejected => "the WebAuthn response does not verify",
            Self::CounterRegression => "the signature counter went backwards",
            Self::Stored => "a stored WebAuthn state or credential does not decode",
            Self::Random => "a WebAuthn challenge could not be made",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PasskeyError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn config_error_texts() {
        for (error, text) in [
            (
                PasskeyConfigError::RpId,
                "the relying-party id is not a lowercase domain name",
            ),
            (PasskeyConfigError::NoOrigin, "no allowed origin"),
            (
                PasskeyConfigError::Origin,
                "an origin is not https://host[:port] (or http://localhost)",
            ),
            (
                PasskeyConfigError::OriginOutsideRpId,
                "an origin is neither the relying-party id nor under it",
            ),
            (
                PasskeyConfigError::RpName,
                "the relying-party name is empty or longer than 64 bytes",
            ),
        ] {
            assert_eq!(format!("{error}"), text);
        }
    }

    #[test]
    fn ceremony_error_texts() {
        for (error, text) in [
            (
                PasskeyError::Malformed,
                "the WebAuthn response is malformed",
            ),
            (
                PasskeyError::Rejected,
                "the WebAuthn response does not verify",
            ),
            (
                PasskeyError::CounterRegression,
                "the signature counter went backwards",
            ),
            (
                PasskeyError::Stored,
                "a stored WebAuthn state or credential does not decode",
            ),
            (
                PasskeyError::Random,
                "a WebAuthn challenge could not be made",
            ),
        ] {
            assert_eq!(format!("{error}"), text);
        }
    }
}
