//! [`WebConfig`]: the cookies (names, `SameSite`, lifetimes), the key that signs the
//! pending-login cookie and derives CSRF tokens, the origins form posts may come from, and the
//! freshness the step-up guard asks for. Checked at `build()`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use zeroize::Zeroizing;

/// The `SameSite` attribute of authcore's cookies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on same-site requests only: a link from another site arrives signed out.
    Strict,
    /// Sent on same-site requests and top-level navigations from elsewhere (the default): links
    /// from e-mails arrive signed in, cross-site form posts do not carry the cookie.
    Lax,
}

/// The server's key for the web integration (32 bytes): it signs the pending-login cookie and
/// derives each session's CSRF token. Every server behind one address needs the same key; a new
/// key ends logins under way and invalidates forms already served (sessions are not affected).
///
/// A secret: wiped on drop, redacted `Debug`.
pub struct WebKey(Zeroizing<[u8; 32]>);

impl WebKey {
    /// The key's length in bytes.
    pub const LEN: usize = 32;

    /// A key from 32 bytes (from the host's secret store).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WebConfigError> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| WebConfigError::KeyLength)?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// A random key from the operating system (for a single server, or tests: it does not
    /// survive a restart).
    pub fn generate() -> Result<Self, WebConfigError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut()).map_err(|_| WebConfigError::Random)?;
        Ok(Self(bytes))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl fmt::Debug for WebKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebKey([REDACTED])")
    }
}

/// Why a [`WebConfig`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebConfigError {
    /// A [`WebKey`] must be exactly 32 bytes.
    KeyLength,
    /// The random number generator failed.
    Random,
    /// A cookie name must start with `__Host-` and be a cookie token (letters, digits, `-`,
    /// `_`, `.`), at most 64 characters, and the two names must differ.
    CookieName,
    /// An allowed origin must be `https://host[:port]` (or `http://` for `localhost`,
    /// `127.0.0.1` or `[::1]`), lowercase, without a path.
    Origin,
    /// At least one allowed origin is needed.
    NoOrigin,
    /// The client address header is not a valid header name.
    HeaderName,
    /// The step-up freshness must be 30 seconds to 1 hour, and a session cookie's lifetime, if
    /// given, 5 minutes to 30 days.
    MaxAge,
}

impl fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::KeyLength => "the web key must be exactly 32 bytes",
            Self::Random => "the random number generator failed",
            Self::CookieName => {
                "a cookie name must start with `__Host-`, be a cookie token of at most 64 \
                 characters, and the two names must differ"
            }
            Self::Origin => {
                "an allowed origin must be https://host[:port] (http:// only for localhost), \
                 lowercase, without a path"
            }
            Self::NoOrigin => "at least one allowed origin is needed",
            Self::HeaderName => "the client address header is not a valid header name",
            Self::MaxAge => {
                "the step-up freshness must be 30 s to 1 h, a session cookie's lifetime 5 min to \
                 30 days"
            }
        })
    }
}

impl std::error::Error for WebConfigError {}

/// The web integration's settings. Built by [`WebConfig::builder`].
#[derive(Debug)]
pub struct WebConfig {
    pub(crate) key: WebKey,
    pub(crate) session_cookie: String,
    pub(crate) login_cookie: String,
    pub(crate) same_site: SameSite,
    pub(crate) session_max_age: Option<u64>,
    pub(crate) step_up_max_age: u64,
    pub(crate) origins: Vec<String>,
    pub(crate) client_ip_header: Option<axum::http::HeaderName>,
}

impl WebConfig {
    /// The session cookie's default name.
    pub const SESSION_COOKIE: &'static str = "__Host-authcore-session";
    /// The pending-login cookie's default name.
    pub const LOGIN_COOKIE: &'static str = "__Host-authcore-login";
    /// The form field that carries the CSRF token ([`CsrfForm`](super::CsrfForm)).
    pub const CSRF_FIELD: &'static str = "csrf_token";
    /// The request header that carries the CSRF token for scripts
    /// ([`CsrfHeader`](super::CsrfHeader)).
    pub const CSRF_HEADER: &'static str = "x-csrf-token";
    /// The default step-up freshness ([`RequireFresh`](super::RequireFresh)): 5 minutes.
    pub const DEFAULT_STEP_UP_MAX_AGE: u64 = 5 * 60;

    /// Starts from the defaults, with the server's key and the origin the application is
    /// served from (form posts from any other origin are refused).
    pub fn builder(key: WebKey, origin: &str) -> WebConfigBuilder {
        WebConfigBuilder {
            key,
            session_cookie: Self::SESSION_COOKIE.to_string(),
            login_cookie: Self::LOGIN_COOKIE.to_string(),
            same_site: SameSite::Lax,
            session_max_age: None,
            step_up_max_age: Self::DEFAULT_STEP_UP_MAX_AGE,
            origins: alloc::vec![origin.to_string()],
            client_ip_header: None,
        }
    }

    /// The session cookie's name.
    pub fn session_cookie(&self) -> &str {
        &self.session_cookie
    }

    /// The pending-login cookie's name.
    pub fn login_cookie(&self) -> &str {
        &self.login_cookie
    }

    /// The cookies' `SameSite`.
    pub const fn same_site(&self) -> SameSite {
        self.same_site
    }

    /// The session cookie's `Max-Age`, if it outlives the browser session.
    pub const fn session_max_age(&self) -> Option<u64> {
        self.session_max_age
    }

    /// How recent the second factor must be for [`RequireFresh`](super::RequireFresh).
    pub const fn step_up_max_age(&self) -> u64 {
        self.step_up_max_age
    }

    /// The origins form posts may come from.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }
}

/// Builds a [`WebConfig`].
#[derive(Debug)]
#[must_use]
pub struct WebConfigBuilder {
    key: WebKey,
    session_cookie: String,
    login_cookie: String,
    same_site: SameSite,
    session_max_age: Option<u64>,
    step_up_max_age: u64,
    origins: Vec<String>,
    client_ip_header: Option<String>,
}

impl WebConfigBuilder {
    /// The cookies' names (each must start with `__Host-`, which binds it to this host, over
    /// HTTPS, at path `/`).
    pub fn cookie_names(mut self, session: &str, login: &str) -> Self {
        self.session_cookie = session.to_string();
        self.login_cookie = login.to_string();
        self
    }

    /// The cookies' `SameSite` (default [`SameSite::Lax`]).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Keep the session cookie across browser restarts for `seconds` (5 minutes to 30 days;
    /// the server-side session's own timeouts still apply). By default it is a browser-session
    /// cookie.
    pub fn session_max_age(mut self, seconds: u64) -> Self {
        self.session_max_age = Some(seconds);
        self
    }

    /// How recent the second factor must be for [`RequireFresh`](super::RequireFresh): 30
    /// seconds to 1 hour (default 5 minutes).
    pub fn step_up_max_age(mut self, seconds: u64) -> Self {
        self.step_up_max_age = seconds;
        self
    }

    /// Another origin form posts may come from (the application served under several names).
    pub fn allow_origin(mut self, origin: &str) -> Self {
        self.origins.push(origin.to_string());
        self
    }

    /// The request header that holds the client's address, set by the host's reverse proxy
    /// (`x-forwarded-for`, `x-real-ip`), for [`ClientLabels`](super::ClientLabels). Name one
    /// only behind a proxy that sets it: a client can send any header. The address is a label,
    /// shown to the person; it decides nothing.
    pub fn trust_client_ip_header(mut self, name: &str) -> Self {
        self.client_ip_header = Some(name.to_string());
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<WebConfig, WebConfigError> {
        for name in [&self.session_cookie, &self.login_cookie] {
            if !valid_cookie_name(name) {
                return Err(WebConfigError::CookieName);
            }
        }
        if self.session_cookie == self.login_cookie {
            return Err(WebConfigError::CookieName);
        }
        if self.origins.is_empty() {
            return Err(WebConfigError::NoOrigin);
        }
        if !self.origins.iter().all(|o| valid_origin(o)) {
            return Err(WebConfigError::Origin);
        }
        if !(30..=3_600).contains(&self.step_up_max_age)
            || self
                .session_max_age
                .is_some_and(|s| !(300..=30 * 86_400).contains(&s))
        {
            return Err(WebConfigError::MaxAge);
        }
        let client_ip_header = match &self.client_ip_header {
            Some(name) => Some(
                axum::http::HeaderName::from_str(name).map_err(|_| WebConfigError::HeaderName)?,
            ),
            None => None,
        };
        Ok(WebConfig {
            client_ip_header,
            key: self.key,
            session_cookie: self.session_cookie,
            login_cookie: self.login_cookie,
            same_site: self.same_site,
            session_max_age: self.session_max_age,
            step_up_max_age: self.step_up_max_age,
            origins: self.origins,
        })
    }
}

fn valid_cookie_name(name: &str) -> bool {
    name.len() <= 64
        && name.strip_prefix("__Host-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

/// `https://host[:port]`, or `http://` on a loopback name; lowercase, no path, no userinfo.
fn valid_origin(origin: &str) -> bool {
    let (secure, rest) = if let Some(rest) = origin.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = origin.strip_prefix("http://") {
        (false, rest)
    } else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'-' | b'.' | b'[' | b']' | b':')
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    host_ok && port_ok && (secure || loopback)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        for good in [
            "https://app.example.com",
            "https://app.example.com:8443",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "https://[2001:db8::1]",
        ] {
            assert!(valid_origin(good), "{good}");
        }
        for bad in [
            "app.example.com",
            "http://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://App.example.com",
            "https://user@app.example.com",
            "https://app.example.com:",
            "https://app.example.com:123456",
            "ftp://app.example.com",
            "https://",
        ] {
            assert!(!valid_origin(bad), "{bad}");
        }
    }

    #[test]
    fn cookie_names_must_be_host_prefixed_tokens() {
        assert!(valid_cookie_name("__Host-s"));
        for bad in [
            "s",
            "__Secure-s",
            "__Host-",
            "__Host-a b",
            "__Host-a;b",
            "__host-s",
        ] {
            assert!(!valid_cookie_name(bad), "{bad}");
        }
        let key = || WebKey::from_bytes(&[1; 32]).unwrap();
        assert_eq!(
            WebConfig::builder(key(), "https://a.example")
                .cookie_names("__Host-x", "__Host-x")
                .build()
                .unwrap_err(),
            WebConfigError::CookieName
        );
        assert_eq!(
            WebConfig::builder(key(), "https://a.example")
                .step_up_max_age(10)
                .build()
                .unwrap_err(),
            WebConfigError::MaxAge
        );
        assert_eq!(
            WebKey::from_bytes(&[1; 31]).unwrap_err(),
            WebConfigError::KeyLength
        );
        assert_eq!(alloc::format!("{:?}", key()), "WebKey([REDACTED])");
    }
}
