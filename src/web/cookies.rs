//! The cookies: reading authcore's from a request, and the `Set-Cookie` headers that open,
//! rotate and end a session ([`SetCookies`]).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::convert::Infallible;

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::web::config::{SameSite, WebConfig};

/// `Set-Cookie` headers for a response: put it in a handler's return tuple
/// (`(web.signed_in(&opened), Redirect::to("/"))`).
///
/// Every cookie is `__Host-` prefixed, `Secure`, `HttpOnly`, at `Path=/`, with no `Domain`
/// (so no subdomain can set or read it), and `SameSite` as configured (default `Lax`). The
/// session cookie holds only the opaque session token; the server keeps the session.
///
/// The service rotates the token on every privilege change — a completed login, a step-up
/// ([`Authenticator::reauthenticate_session`]), MFA turned on in the session
/// ([`Authenticator::acknowledge_enrollment_in_session`]), a password change in it
/// ([`Authenticator::change_password_in_session`]) — and returns the new one in an
/// [`OpenedSession`](crate::service::OpenedSession): answer with
/// [`WebAuth::signed_in`](crate::web::WebAuth::signed_in) so the browser holds the new token
/// (the old one no longer signs anyone in).
///
/// [`Authenticator::reauthenticate_session`]: crate::service::Authenticator::reauthenticate_session
/// [`Authenticator::acknowledge_enrollment_in_session`]: crate::service::Authenticator::acknowledge_enrollment_in_session
/// [`Authenticator::change_password_in_session`]: crate::service::Authenticator::change_password_in_session
#[derive(Debug)]
#[must_use = "the cookies are set only if the response carries them"]
pub struct SetCookies(Vec<HeaderValue>);

impl SetCookies {
    /// The header values, in order (for a host on another framework, or a test).
    pub fn values(&self) -> &[HeaderValue] {
        &self.0
    }

    pub(crate) fn one(value: HeaderValue) -> Self {
        Self(alloc::vec![value])
    }

    pub(crate) fn and(mut self, other: Self) -> Self {
        self.0.extend(other.0);
        self
    }
}

impl IntoResponseParts for SetCookies {
    type Error = Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Infallible> {
        for value in self.0 {
            res.headers_mut().append(SET_COOKIE, value);
        }
        Ok(res)
    }
}

/// The value of the cookie `name` in the request. Two different values under the one name
/// (a cookie tossed in beside the real one, say by an older browser that let another site or
/// a subdomain set it) are read as no cookie: neither is trusted, so the request is signed
/// out rather than signed in as whichever the browser happened to send first.
pub(crate) fn read(headers: &HeaderMap, name: &str) -> Option<Zeroizing<String>> {
    let mut values = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == name);
    let first = Zeroizing::new(values.next()?.value().to_string());
    if values.any(|c| !bool::from(c.value().as_bytes().ct_eq(first.as_bytes()))) {
        return None;
    }
    Some(first)
}

/// A `Set-Cookie` value with authcore's attributes: `Max-Age=0` with an empty value clears it.
pub(crate) fn set(config: &WebConfig, name: &str, value: &str, max_age: Option<u64>) -> SetCookies {
    let same_site = match config.same_site {
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::Lax => cookie::SameSite::Lax,
    };
    let mut builder = cookie::Cookie::build((name.to_string(), value.to_string()))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(same_site);
    if let Some(seconds) = max_age {
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        builder = builder.max_age(cookie::time::Duration::seconds(seconds));
    }
    let text = Zeroizing::new(builder.build().to_string());
    // Names are checked at `build()`, values are base64url, hex and digits: always a valid
    // header. Were it not, the cookie is cleared rather than set half.
    let value = HeaderValue::from_str(&text).unwrap_or_else(|_| {
        HeaderValue::from_static("__Host-authcore-invalid=; Max-Age=0; Path=/; Secure; HttpOnly")
    });
    SetCookies::one(value)
}

/// Clears the cookie `name`.
pub(crate) fn clear(config: &WebConfig, name: &str) -> SetCookies {
    set(config, name, "", Some(0))
}
