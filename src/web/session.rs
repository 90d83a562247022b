//! [`CurrentSession`]: the extractor for the signed-in person — the session cookie, checked by
//! [`Authenticator::authenticate`](crate::service::Authenticator::authenticate) on every
//! request (revoked, expired, idle, outlived by a security change, deactivated: refused), and
//! the grant it yields.

use alloc::string::String;
use core::fmt;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use zeroize::Zeroizing;

use crate::policy::login::Grant;
use crate::web::auth::WebAuth;
use crate::web::error::WebRejection;

/// The signed-in person: the session's token (to pass to the session verbs) and its current
/// grant. Refused with [`WebRejection::SignedOut`] without a session cookie, and with the
/// service's [`SessionRefused`](crate::policy::SessionRefused) (401, `session_ended`) for a
/// session that no longer signs anyone in; that response also clears the cookie, so the
/// browser stops sending a dead token (the guards do the same).
///
/// `Option<CurrentSession>` is `None` for a client signed out (no cookie, or a session that
/// ended) and fails only for a server-side fault.
pub struct CurrentSession {
    token: Zeroizing<String>,
    grant: Grant,
    web: WebAuth,
}

impl CurrentSession {
    /// The grant, as the session stands now.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// The session token, for the verbs that take it
    /// ([`Authenticator::sign_out`](crate::service::Authenticator::sign_out),
    /// [`Authenticator::reauthenticate_session`](crate::service::Authenticator::reauthenticate_session), …).
    /// A secret: never log it or put it in a page.
    pub fn expose_token(&self) -> &str {
        &self.token
    }

    /// The web handle it was checked with.
    pub fn web(&self) -> &WebAuth {
        &self.web
    }

    pub(crate) fn new(token: Zeroizing<String>, grant: Grant, web: WebAuth) -> Self {
        Self { token, grant, web }
    }

    pub(crate) async fn extract(parts: &Parts) -> Result<Self, WebRejection> {
        let web = WebAuth::from_parts(parts)?;
        let token = web
            .session_token(&parts.headers)
            .ok_or(WebRejection::SignedOut)?;
        let grant = web.authenticate(&token).await?;
        Ok(Self { token, grant, web })
    }
}

impl fmt::Debug for CurrentSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentSession")
            .field("token", &"[REDACTED]")
            .field("grant", &self.grant)
            .finish()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = WebRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::extract(parts).await
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentSession {
    type Rejection = WebRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match Self::extract(parts).await {
            Ok(session) => Ok(Some(session)),
            Err(rejection) if rejection.is_signed_out() => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}
