//! [`RelyingParty`]: the site passkeys are bound to, checked once when the service is configured.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use webauthn_rs::prelude::Url;

use super::error::PasskeyConfigError;

/// The longest RP name kept (WebAuthn Level 3 §6.4.1 lets authenticators truncate at 64 bytes).
const MAX_NAME: usize = 64;

/// The relying party: its id (the registrable domain credentials are scoped to, WebAuthn Level 3
/// §5.1.3 step 8), a human-readable name, and the origins whose pages may run the ceremonies.
///
/// [`RelyingParty::new`] refuses what a browser would refuse later: an origin that is not a
/// secure context (`https`, or `http://localhost` for development), that carries a path, query or
/// credentials, or whose host is neither the RP id nor a subdomain of it; an RP id that is not a
/// lowercase domain name (IP addresses included: browsers refuse them as RP ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    id: String,
    name: String,
    origins: Vec<Url>,
}

impl RelyingParty {
    /// Checks and builds a relying party.
    pub fn new(id: &str, name: &str, origins: &[&str]) -> Result<Self, PasskeyConfigError> {
        if !is_domain(id) {
            return Err(PasskeyConfigError::RpId);
        }
        if name.trim().is_empty() || name.len() > MAX_NAME {
            return Err(PasskeyConfigError::RpName);
        }
        if origins.is_empty() {
            return Err(PasskeyConfigError::NoOrigin);
        }
        let origins = origins
            .iter()
            .map(|o| origin(o, id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            id: id.to_string(),
            name: name.to_string(),
            origins,
        })
    }

    /// The RP id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The RP name shown by authenticators.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The allowed origins, as given (serialised without a trailing slash).
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.origins
            .iter()
            .map(|o| o.as_str().trim_end_matches('/'))
    }

    pub(super) fn origin_urls(&self) -> &[Url] {
        &self.origins
    }
}

/// One allowed origin, checked against the RP id.
fn origin(text: &str, rp_id: &str) -> Result<Url, PasskeyConfigError> {
    let url = Url::parse(text).map_err(|_| PasskeyConfigError::Origin)?;
    // `domain` is `None` for an IP address.
    let Some(host) = url.domain() else {
        return Err(PasskeyConfigError::Origin);
    };
    let secure = match url.scheme() {
        "https" => true,
        "http" => host == "localhost",
        _ => false,
    };
    let bare = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && !text.trim_end_matches('/').ends_with('?');
    if !secure || !bare {
        return Err(PasskeyConfigError::Origin);
    }
    let under = host == rp_id
        || host
            .strip_suffix(rp_id)
            .is_some_and(|prefix| prefix.ends_with('.'));
    if !under {
        return Err(PasskeyConfigError::OriginOutsideRpId);
    }
    Ok(url)
}

/// Whether `id` is a lowercase DNS name of letters, digits and hyphens whose last label is not
/// numeric (so not an IPv4 address).
fn is_domain(id: &str) -> bool {
    if id.is_empty() || id.len() > 253 {
        return false;
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let last_alpha = id
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().any(|b| b.is_ascii_lowercase()));
    id.split('.').all(label_ok) && last_alpha
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(id: &str, origins: &[&str]) -> Result<RelyingParty, PasskeyConfigError> {
        RelyingParty::new(id, "Example", origins)
    }

    #[test]
    fn accepts_the_rp_id_and_its_subdomains() {
        let rp = rp(
            "example.com",
            &["https://example.com", "https://login.example.com:8443/"],
        )
        .unwrap();
        assert_eq!(rp.id(), "example.com");
        assert_eq!(
            rp.origins().collect::<Vec<_>>(),
            ["https://example.com", "https://login.example.com:8443"]
        );
        assert!(self::rp("localhost", &["http://localhost:8080"]).is_ok());
    }

    #[test]
    fn refuses_insecure_or_decorated_origins() {
        for bad in [
            "http://example.com",
            "ftp://example.com",
            "https://example.com/login",
            "https://example.com/?a=b",
            "https://example.com/#x",
            "https://user@example.com",
            "https://192.0.2.1",
            "example.com",
            "",
        ] {
            assert_eq!(
                rp("example.com", &[bad]),
                Err(PasskeyConfigError::Origin),
                "{bad}"
            );
        }
        assert_eq!(rp("example.com", &[]), Err(PasskeyConfigError::NoOrigin));
    }

    #[test]
    fn refuses_origins_outside_the_rp_id() {
        for bad in [
            "https://notexample.com",
            "https://example.com.evil.net",
            "https://example.org",
        ] {
            assert_eq!(
                rp("example.com", &[bad]),
                Err(PasskeyConfigError::OriginOutsideRpId),
                "{bad}"
            );
        }
        // A subdomain RP id does not cover its parent.
        assert_eq!(
            rp("login.example.com", &["https://example.com"]),
            Err(PasskeyConfigError::OriginOutsideRpId)
        );
    }

    #[test]
    fn limits_at_their_boundary() {
        // A name of 64 bytes is kept, one of 65 refused (below); the name reads back.
        let name = "n".repeat(64);
        let rp64 = RelyingParty::new("example.com", &name, &["https://example.com"]).unwrap();
        assert_eq!(rp64.name(), name);
        assert_eq!(
            RelyingParty::new("example.com", "", &["https://example.com"]),
            Err(PasskeyConfigError::RpName)
        );
        // An RP id of 253 bytes is a domain, one of 254 is not.
        let id = |last: usize| {
            alloc::format!(
                "{}.{}.{}.{}",
                "a".repeat(63),
                "b".repeat(63),
                "c".repeat(63),
                "d".repeat(last)
            )
        };
        assert_eq!(id(61).len(), 253);
        assert!(is_domain(&id(61)));
        assert!(!is_domain(&id(62)));
        assert!(is_domain(&alloc::format!("{}.com", "a".repeat(63))));
        assert!(!is_domain(&alloc::format!("{}.com", "a".repeat(64))));
    }

    #[test]
    fn domain_labels() {
        for good in [
            "a.com",
            "a-b.com",
            "a1.com",
            "1a.com",
            "123.example",
            "x.y.z",
        ] {
            assert!(is_domain(good), "{good}");
        }
        for bad in [
            "a-.com", "a.com-", "a_b.com", "a.123", "a.1-2", "a b.com", "a.com.",
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }

    #[test]
    fn origins_carry_nothing_but_scheme_host_and_port() {
        for bad in [
            "https://:pw@example.com",
            "https://example.com?",
            "https://example.com/?",
            "https://example.com/#",
            "http://localhost.example.com",
        ] {
            assert_eq!(
                rp("example.com", &[bad]),
                Err(PasskeyConfigError::Origin),
                "{bad}"
            );
        }
        assert!(rp("localhost", &["https://localhost"]).is_ok());
        // Every origin is checked, not only the first.
        assert_eq!(
            rp("example.com", &["https://example.com", "https://evil.net"]),
            Err(PasskeyConfigError::OriginOutsideRpId)
        );
        let two = rp(
            "example.com",
            &["https://example.com", "https://a.example.com"],
        )
        .unwrap();
        assert_eq!(two.origin_urls().len(), 2);
    }

    #[test]
    fn refuses_bad_rp_ids_and_names() {
        for bad in [
            "",
            "Example.com",
            "https://example.com",
            "example.com:443",
            "example.com/",
            ".example.com",
            "example..com",
            "-a.com",
            "192.0.2.1",
        ] {
            assert_eq!(
                rp(bad, &["https://example.com"]),
                Err(PasskeyConfigError::RpId),
                "{bad}"
            );
        }
        assert_eq!(
            RelyingParty::new("example.com", " ", &["https://example.com"]),
            Err(PasskeyConfigError::RpName)
        );
        assert_eq!(
            RelyingParty::new("example.com", &"n".repeat(65), &["https://example.com"]),
            Err(PasskeyConfigError::RpName)
        );
    }
}
