//! Route guards: extractors that refuse the request unless the signed-in person meets a
//! condition — [`RequireAal2`], [`RequireFresh`] (step-up), [`Authorized<P>`] and
//! [`AuthorizedOwn<P>`] (a permission, checked by
//! [`Authenticator::authorize`](crate::service::Authenticator::authorize) against the live
//! roster). Each one first checks the session as [`CurrentSession`] does, and refuses, like it,
//! a client signed out (401). The step-up refusals are `step_up_required` (401, told apart):
//! the page asks for the second factor again
//! ([`Authenticator::reauthenticate_session`](crate::service::Authenticator::reauthenticate_session)).

use core::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::policy::error::PolicyError;
use crate::policy::factors::Aal;
use crate::policy::roles::Resource;
use crate::service::ServiceError;
use crate::web::error::WebRejection;
use crate::web::permission::RequiredPermission;
use crate::web::session::CurrentSession;

/// The signed-in person, at AAL2 (password and a second factor). Otherwise 401
/// `step_up_required` ([`PolicyError::Aal2Required`]).
#[derive(Debug)]
pub struct RequireAal2(pub CurrentSession);

impl<S: Send + Sync> FromRequestParts<S> for RequireAal2 {
    type Rejection = WebRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = CurrentSession::extract(parts).await?;
        if session.grant().aal() < Aal::Aal2 {
            return Err(session
                .web()
                .rejection(ServiceError::Policy(PolicyError::Aal2Required)));
        }
        Ok(Self(session))
    }
}

/// The signed-in person, with a second factor verified within
/// [`WebConfig::step_up_max_age`](super::WebConfig::step_up_max_age) (GitHub's "sudo mode",
/// [`Authenticator::require_fresh`](crate::service::Authenticator::require_fresh) at AAL2; a
/// recovery code counts). Otherwise 401 `step_up_required`
/// ([`PolicyError::ReauthenticationRequired`]).
#[derive(Debug)]
pub struct RequireFresh(pub CurrentSession);

impl<S: Send + Sync> FromRequestParts<S> for RequireFresh {
    type Rejection = WebRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let max_age = crate::web::auth::WebAuth::from_parts(parts)?
            .config()
            .step_up_max_age();
        fresh_within(parts, max_age).await.map(Self)
    }
}

/// [`RequireFresh`] with its own maximum age, in seconds, for one route
/// (`RequireFreshWithin<60>`).
#[derive(Debug)]
pub struct RequireFreshWithin<const SECONDS: u64>(pub CurrentSession);

impl<S: Send + Sync, const SECONDS: u64> FromRequestParts<S> for RequireFreshWithin<SECONDS> {
    type Rejection = WebRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        fresh_within(parts, SECONDS).await.map(Self)
    }
}

async fn fresh_within(parts: &Parts, max_age: u64) -> Result<CurrentSession, WebRejection> {
    // One check of the session, with its stored freshness.
    let web = crate::web::auth::WebAuth::from_parts(parts)?;
    let token = web
        .session_token(&parts.headers)
        .ok_or(WebRejection::SignedOut)?;
    let grant = web.require_fresh(&token, max_age, Aal::Aal2).await?;
    Ok(CurrentSession::new(token, grant, web))
}

/// The signed-in person may do `P` across their organisation
/// ([`Resource::of_org`]): the role's permission at the organisation-wide scope, an AAL2
/// grant for the administrative permissions, checked against the current roster and MFA
/// policy. Otherwise 403 (`forbidden`), or 401 `step_up_required` for a grant below AAL2.
///
/// A permission a role holds only for its own resources (a User's jobs) is refused here: use
/// [`AuthorizedOwn<P>`], and check each resource in the handler with
/// [`Authenticator::authorize`](crate::service::Authenticator::authorize).
#[derive(Debug)]
pub struct Authorized<P> {
    /// The session the permission was checked for.
    pub session: CurrentSession,
    permission: PhantomData<fn() -> P>,
}

impl<S: Send + Sync, P: RequiredPermission> FromRequestParts<S> for Authorized<P> {
    type Rejection = WebRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = CurrentSession::extract(parts).await?;
        let org = session.grant().org();
        session
            .web()
            .authorize(session.grant(), P::PERMISSION, Resource::of_org(org))
            .await?;
        Ok(Self {
            session,
            permission: PhantomData,
        })
    }
}

/// The signed-in person may do `P` at least on their own resources ([`Resource::owned_by`]
/// them): a User on their own jobs, a Manager on everyone's. The handler checks each other
/// resource itself.
#[derive(Debug)]
pub struct AuthorizedOwn<P> {
    /// The session the permission was checked for.
    pub session: CurrentSession,
    permission: PhantomData<fn() -> P>,
}

impl<S: Send + Sync, P: RequiredPermission> FromRequestParts<S> for AuthorizedOwn<P> {
    type Rejection = WebRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = CurrentSession::extract(parts).await?;
        let grant = session.grant();
        let own = Resource::owned_by(grant.org(), grant.person());
        session.web().authorize(grant, P::PERMISSION, own).await?;
        Ok(Self {
            session,
            permission: PhantomData,
        })
    }
}
