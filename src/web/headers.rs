//! The security headers on authcore's responses ([`SecurityHeadersLayer`],
//! `web.security_headers()`), each set only if the handler did not set it:

use core::task::{Context, Poll};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderName, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::Map;

use crate::web::auth::WebAuth;

const HEADERS: [(HeaderName, &str); 6] = [
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (REFERRER_POLICY, "same-origin"),
    (X_FRAME_OPTIONS, "DENY"),
    (CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
    (CACHE_CONTROL, "no-store"),
    (
        STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    ),
];

/// Adds the security headers to every response under it.
///
/// | header | value | why |
/// |---|---|---|
/// | `X-Content-Type-Options` | `nosniff` | no content sniffing |
/// | `Referrer-Policy` | `same-origin` | no URL (a setup or reset link's token) leaks to another site; same-origin posts keep their `Referer` for the origin check |
/// | `X-Frame-Options` | `DENY` | no framing (clickjacking), for older browsers |
/// | `Content-Security-Policy` | `frame-ancestors 'none'` | no framing |
/// | `Cache-Control` | `no-store` | pages with a QR code, recovery codes or a session never go into a cache |
/// | `Strict-Transport-Security` | `max-age=31536000; includeSubDomains` | the `Secure`, `__Host-` cookies only ever travel over HTTPS: after one visit the browser never tries plain HTTP for a year (OWASP ASVS 14.4.5; browsers ignore it over plain HTTP, so `http://localhost` in development is unaffected) |
#[derive(Clone, Copy, Debug, Default)]
pub struct SecurityHeadersLayer;

impl<S> tower_layer::Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders { inner }
    }
}

/// The service of [`SecurityHeadersLayer`].
#[derive(Clone, Debug)]
pub struct SecurityHeaders<S> {
    inner: S,
}

type AddHeaders<E> = fn(Result<Response, E>) -> Result<Response, E>;

fn add_headers<E>(result: Result<Response, E>) -> Result<Response, E> {
    result.map(|mut response| {
        let headers = response.headers_mut();
        for (name, value) in HEADERS {
            if !headers.contains_key(&name) {
                headers.insert(name, HeaderValue::from_static(value));
            }
        }
        response
    })
}

impl<S> tower_service::Service<Request> for SecurityHeaders<S>
where
    S: tower_service::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Map<S::Future, AddHeaders<S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.inner
            .call(request)
            .map(add_headers::<S::Error> as AddHeaders<S::Error>)
    }
}

impl WebAuth {
    /// The security headers layer ([`SecurityHeadersLayer`]).
    pub fn security_headers(&self) -> SecurityHeadersLayer {
        SecurityHeadersLayer
    }
}
