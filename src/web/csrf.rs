//! CSRF protection for form posts, in two parts (OWASP's "defense in depth"):

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{ORIGIN, REFERER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::service::{LoginStep, OpenedSession};
use crate::web::auth::WebAuth;
use crate::web::config::WebConfig;
use crate::web::error::WebRejection;
use crate::web::pending::PendingLogin;

/// Whether the request's origin is one of `config`'s: `Origin` if sent, else `Referer`.
pub(crate) fn same_origin(config: &WebConfig, headers: &HeaderMap) -> bool {
    if let Some(origin) = headers.get(ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        return config.origins.iter().any(|o| o == origin);
    }
    let Some(Ok(referer)) = headers.get(REFERER).map(|r| r.to_str()) else {
        return false;
    };
    config.origins.iter().any(|o| {
        referer
            .strip_prefix(o.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The origin check for every unsafe request under it.
///
/// - **the origin check** ([`CsrfLayer`], `web.csrf_layer()`): a request with an unsafe method
///   (anything but `GET`, `HEAD`, `OPTIONS`, `TRACE`) must carry an `Origin` that is one of
///   the configured origins or, without `Origin`, a `Referer` under one; with neither, or
///   `Origin: null`, it is refused (403, `csrf`);
/// - **a per-session token** for forms: [`CsrfToken`] gives the value to put in a hidden
///   `csrf_token` field, [`CsrfForm<T>`] checks it (in constant time) before reading the form,
///   and [`CsrfHeader`] checks the `x-csrf-token` header of a script's request. The token is
///   HMAC-SHA256, under the server's [`WebKey`](super::WebKey), of the session token (or,
///   during a login, of the pending ticket): it changes when the session's token rotates, and
///   needs no storage.
#[derive(Clone, Debug)]
pub struct CsrfLayer {
    config: Arc<WebConfig>,
}

impl<S> tower_layer::Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`CsrfLayer`].
#[derive(Clone, Debug)]
pub struct CsrfService<S> {
    inner: S,
    config: Arc<WebConfig>,
}

impl<S> tower_service::Service<Request> for CsrfService<S>
where
    S: tower_service::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if is_safe(request.method()) || same_origin(&self.config, request.headers()) {
            Either::Right(self.inner.call(request))
        } else {
            Either::Left(ready(Ok(WebRejection::ForeignOrigin.into_response())))
        }
    }
}

const DOMAIN: &[u8] = b"authcore/web/csrf/v1\0";

/// The CSRF token of a session or pending-login secret: 64 hex digits.
fn token_for(config: &WebConfig, secret: &str) -> Option<Zeroizing<String>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(config.key.expose()).ok()?;
    mac.update(DOMAIN);
    mac.update(secret.as_bytes());
    let tag = mac.finalize().into_bytes();
    Some(Zeroizing::new(data_encoding::HEXLOWER.encode(&tag)))
}

/// The secret the CSRF token is bound to: the session token, else the pending ticket.
fn bound_secret(web: &WebAuth, parts: &Parts) -> Option<Zeroizing<String>> {
    if let Some(token) = web.session_token(&parts.headers) {
        return Some(token);
    }
    // The pending-login cookie, only once its signature and expiry are checked.
    let pending = PendingLogin::extract(parts).ok()?;
    Some(pending.ticket().expose_secret())
}

fn clone_parts(parts: &Parts) -> Parts {
    let mut request = Request::new(());
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.headers_mut() = parts.headers.clone();
    *request.extensions_mut() = parts.extensions.clone();
    request.into_parts().0
}

/// Checks a submitted token against the request's, in constant time.
fn check(web: &WebAuth, parts: &Parts, submitted: Option<&str>) -> Result<(), WebRejection> {
    let submitted = submitted.ok_or(WebRejection::CsrfToken)?;
    let secret = bound_secret(web, parts).ok_or(WebRejection::CsrfToken)?;
    let submitted = data_encoding::HEXLOWER
        .decode(submitted.as_bytes())
        .map_err(|_| WebRejection::CsrfToken)?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(web.config().key.expose())
        .map_err(|_| WebRejection::CsrfToken)?;
    mac.update(DOMAIN);
    mac.update(secret.as_bytes());
    mac.verify_slice(&submitted)
        .map_err(|_| WebRejection::CsrfToken)
}

/// The CSRF token to put in this page's forms (a hidden `csrf_token` field), bound to the
/// request's session (or pending login). Without either, [`WebRejection::SignedOut`]: a form
/// served to a signed-out client (the password form) relies on the origin check alone.
pub struct CsrfToken(Zeroizing<String>);

impl CsrfToken {
    /// The token, to write into the form.
    pub fn value(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken([REDACTED])")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = WebRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let web = WebAuth::from_parts(parts)?;
        let secret = bound_secret(&web, parts).ok_or(WebRejection::SignedOut)?;
        token_for(web.config(), &secret)
            .map(Self)
            .ok_or(WebRejection::CsrfToken)
    }
}

/// A form post (`application/x-www-form-urlencoded`) whose `csrf_token` field matches the
/// request's token ([`CsrfToken`]), read into `T` (which ignores that field: do not use
/// `#[serde(deny_unknown_fields)]` on it). A missing or wrong token is 403 `csrf`, before
/// anything of the form is used.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct TokenField {
    csrf_token: Option<String>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CsrfForm<T> {
    type Rejection = WebRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let web = WebAuth::from_parts(&parts)?;
        let bytes =
            axum::body::Bytes::from_request(Request::from_parts(clone_parts(&parts), body), state)
                .await
                .map_err(|e| WebRejection::Form(alloc::string::ToString::to_string(&e)))?;
        let field = axum::Form::<TokenField>::from_request(
            Request::from_parts(clone_parts(&parts), Body::from(bytes.clone())),
            state,
        )
        .await
        .map_err(|e| WebRejection::Form(alloc::string::ToString::to_string(&e)))?;
        let submitted = field.0.csrf_token.map(Zeroizing::new);
        check(&web, &parts, submitted.as_deref().map(String::as_str))?;
        let form =
            axum::Form::<T>::from_request(Request::from_parts(parts, Body::from(bytes)), state)
                .await
                .map_err(|e| WebRejection::Form(alloc::string::ToString::to_string(&e)))?;
        Ok(Self(form.0))
    }
}

/// A script's request whose `x-csrf-token` header matches the request's token
/// ([`CsrfToken`]); otherwise 403 `csrf`.
#[derive(Debug)]
pub struct CsrfHeader;

impl<S: Send + Sync> FromRequestParts<S> for CsrfHeader {
    type Rejection = WebRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let web = WebAuth::from_parts(parts)?;
        let submitted = parts
            .headers
            .get(WebConfig::CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        check(&web, parts, submitted)?;
        Ok(Self)
    }
}

impl WebAuth {
    /// The CSRF token of a session just opened or rotated, for a page rendered in the same
    /// response (the request that opened it carries no cookie yet): the one [`CsrfToken`]
    /// gives on the next request.
    pub fn csrf_token_for_session(&self, opened: &OpenedSession) -> Option<CsrfToken> {
        token_for(self.config(), &opened.token.expose_secret()).map(CsrfToken)
    }

    /// The CSRF token of the login step just reached (its ticket's), for a page rendered in the
    /// same response; for a completed login, the session's.
    pub fn csrf_token_for_login(&self, step: &LoginStep) -> Option<CsrfToken> {
        let ticket = match step.session() {
            Some(opened) => return self.csrf_token_for_session(opened),
            None => step.ticket()?,
        };
        token_for(self.config(), &ticket.expose_secret()).map(CsrfToken)
    }

    /// The origin check for form posts ([`CsrfLayer`]).
    pub fn csrf_layer(&self) -> CsrfLayer {
        CsrfLayer {
            config: self.shared_config(),
        }
    }
}
