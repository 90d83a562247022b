//! HTTP responses for the service's errors ([`ErrorResponse`], and `IntoResponse` for
//! [`ServiceError`]) following [`ErrorClass`], and the extractors' own refusals
//! ([`WebRejection`]).

use alloc::string::{String, ToString};
use core::fmt;

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::credential::password::policy::{ContextKind, PolicyViolation};
use crate::otp::clock::{Clock, SystemClock};
use crate::service::{ErrorClass, ServiceError};
use crate::web::cookies::SetCookies;

/// The response for a [`ServiceError`], its `Retry-After` counted from `now`. Made by
/// [`WebAuth::respond`](super::WebAuth::respond) (the service's clock); `IntoResponse` for
/// `ServiceError` itself uses the system clock.
///
/// The body is JSON: `{"error": code, "message": text}`, with `retry_after` (seconds) for 429
/// and `reason` (a stable key) for a refused password. `code` is [`ErrorClass::code`] (or one
/// of the web integration's own: `signed_out`, `login_expired`, `csrf`, `not_configured`).
/// The message is the error's own only where [`ErrorClass::shows_detail`] allows, otherwise
/// [`ErrorClass::public_message`]; a 500 or 503 tells nothing of the failure.
///
/// | class | status | headers |
/// |---|---|---|
/// | `Unauthenticated`, `SessionEnded` | 401 | `WWW-Authenticate: Cookie realm="authcore"` |
/// | `StepUpRequired` | 401 | `WWW-Authenticate: Cookie realm="authcore", error="insufficient_user_authentication"` (as RFC 9470's step-up) |
/// | `Throttled` | 429 | `Retry-After: <seconds>` |
/// | the others | as [`ErrorClass::status_code`] | |
#[derive(Debug)]
pub struct ErrorResponse {
    error: ServiceError,
    now: u64,
    cookies: Option<SetCookies>,
}

impl ErrorResponse {
    /// The response for `error` at `now` (unix seconds).
    pub fn new(error: ServiceError, now: u64) -> Self {
        Self {
            error,
            now,
            cookies: None,
        }
    }

    /// The same response, setting these cookies too (the extractors clear the session cookie
    /// of a session that ended, so the browser stops sending it).
    pub fn with_cookies(mut self, cookies: SetCookies) -> Self {
        self.cookies = Some(match self.cookies.take() {
            Some(before) => before.and(cookies),
            None => cookies,
        });
        self
    }

    /// The error (for the host's logs: it may hold detail the response does not show).
    pub fn error(&self) -> &ServiceError {
        &self.error
    }

    /// Its class.
    pub fn class(&self) -> ErrorClass {
        self.error.class()
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let class = self.error.class();
        let message = if class.shows_detail() {
            self.error.to_string()
        } else {
            class.public_message().to_string()
        };
        let mut body = serde_json::Map::new();
        body.insert("error".into(), class.code().into());
        body.insert("message".into(), message.into());
        if let ErrorClass::PasswordRefused(violation) = class {
            body.insert("reason".into(), violation_code(violation).into());
        }
        let retry_after = class.retry_after(self.now);
        if let Some(seconds) = retry_after {
            body.insert("retry_after".into(), seconds.into());
        }
        let mut response = (status(class.status_code()), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        match class {
            ErrorClass::StepUpRequired => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Cookie realm=\"authcore\", error=\"insufficient_user_authentication\"",
                    ),
                );
            }
            ErrorClass::Unauthenticated | ErrorClass::SessionEnded => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Cookie realm=\"authcore\""),
                );
            }
            _ => {}
        }
        match self.cookies {
            Some(cookies) => (cookies, response).into_response(),
            None => response,
        }
    }
}

/// The response of [`ErrorClass`], `Retry-After` counted on the system clock (use
/// [`WebAuth::respond`](super::WebAuth::respond) for the service's own clock).
impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        ErrorResponse::new(self, SystemClock.now()).into_response()
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A stable key for each password refusal, for a page to pick its wording.
pub fn violation_code(violation: PolicyViolation) -> &'static str {
    match violation {
        PolicyViolation::TooShort { .. } => "too_short",
        PolicyViolation::TooLong { .. } => "too_long",
        PolicyViolation::Common => "common",
        PolicyViolation::ContainsContextWord(kind) => match kind {
            ContextKind::ServiceName => "contains_service_name",
            ContextKind::UserName => "contains_user_name",
            ContextKind::Email => "contains_email",
            ContextKind::Other => "contains_context_word",
        },
        PolicyViolation::Breached => "breached",
        PolicyViolation::Host { reason } => reason,
        PolicyViolation::SameAsTemporary => "same_as_temporary",
    }
}

/// Why an extractor, guard or layer of the web integration refused a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebRejection {
    /// The [`WebAuth`](super::WebAuth) layer is missing from the router (500: the host's
    /// mistake).
    NotConfigured,
    /// No session cookie (401, `signed_out`).
    SignedOut,
    /// No pending-login cookie, or one that is forged, altered or expired (401,
    /// `login_expired`): start again from the password.
    NoPendingLogin,
    /// A form post from another origin, or with neither `Origin` nor `Referer` (403, `csrf`).
    ForeignOrigin,
    /// A form post without the CSRF token, or with a wrong one (403, `csrf`).
    CsrfToken,
    /// The form body could not be read into the handler's type (400, `bad_request`). The
    /// parser's message is kept for the host's logs; the response does not repeat it.
    Form(String),
    /// The service refused (its [`ErrorClass`]).
    Service(ErrorResponse),
}

impl WebRejection {
    /// Whether this says only that the client is signed out (no cookie, or a session that no
    /// longer stands): what `Option<CurrentSession>` turns into `None`.
    pub fn is_signed_out(&self) -> bool {
        match self {
            Self::SignedOut => true,
            Self::Service(response) => response.class() == ErrorClass::SessionEnded,
            _ => false,
        }
    }

    /// The HTTP status.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::NotConfigured => 500,
            Self::SignedOut | Self::NoPendingLogin => 401,
            Self::ForeignOrigin | Self::CsrfToken => 403,
            Self::Form(_) => 400,
            Self::Service(response) => response.class().status_code(),
        }
    }

    /// The stable code of the response body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::SignedOut => "signed_out",
            Self::NoPendingLogin => "login_expired",
            Self::ForeignOrigin | Self::CsrfToken => "csrf",
            Self::Form(_) => "bad_request",
            Self::Service(response) => response.class().code(),
        }
    }
}

impl fmt::Display for WebRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConfigured => f.write_str("the authcore web layer is missing from the router"),
            Self::SignedOut => f.write_str("not signed in"),
            Self::NoPendingLogin => f.write_str("no login is under way: sign in again"),
            Self::ForeignOrigin => f.write_str("the request comes from another origin"),
            Self::CsrfToken => f.write_str("the form's CSRF token is missing or wrong"),
            Self::Form(why) => write!(f, "the form could not be read: {why}"),
            Self::Service(response) => write!(f, "{}", response.error()),
        }
    }
}

impl std::error::Error for WebRejection {}

impl IntoResponse for WebRejection {
    fn into_response(self) -> Response {
        let (status_code, code) = (self.status_code(), self.code());
        let message = match &self {
            Self::Service(_) => None,
            Self::NotConfigured => Some(ErrorClass::Internal.public_message().to_string()),
            // The parser's detail may quote a field's value (a code, a password): not echoed.
            Self::Form(_) => Some("the form could not be read".to_string()),
            other => Some(other.to_string()),
        };
        let Some(message) = message else {
            let Self::Service(response) = self else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            return response.into_response();
        };
        let body = serde_json::json!({ "error": code, "message": message });
        let mut response = (status(status_code), axum::Json(body)).into_response();
        if status_code == 401 {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Cookie realm=\"authcore\""),
            );
        }
        response
    }
}
