//! [`WebAuth`]: the one handle the extractors, guards and layers use — the [`Authenticator`]
//! behind a type-erased, cloneable handle, and the [`WebConfig`].
//!
//! Put it into the router once (`.layer(web.layer())`, an `Extension`), and every extractor of
//! this module finds it; none of them is generic over the host's backend.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;

use zeroize::Zeroizing;

use axum::Extension;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::policy::factors::Aal;
use crate::policy::login::Grant;
use crate::policy::roles::{Permission, Resource};
use crate::service::OpenedSession;
use crate::service::{Authenticator, Backend, ServiceError};
use crate::web::config::WebConfig;
use crate::web::cookies::{self, SetCookies};
use crate::web::error::{ErrorResponse, WebRejection};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the extractors ask of the service, without naming its backend.
trait Verifier: Send + Sync {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Grant, ServiceError>>;
    fn require_fresh<'a>(
        &'a self,
        token: &'a str,
        max_age: u64,
        aal: Aal,
    ) -> BoxFuture<'a, Result<Grant, ServiceError>>;
    fn authorize<'a>(
        &'a self,
        grant: &'a Grant,
        permission: Permission,
        resource: Resource,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;
    fn now(&self) -> u64;
    fn ticket_ttl(&self) -> u64;
}

impl<B: Backend + 'static> Verifier for Authenticator<B> {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Grant, ServiceError>> {
        Box::pin(Authenticator::authenticate(self, token))
    }

    fn require_fresh<'a>(
        &'a self,
        token: &'a str,
        max_age: u64,
        aal: Aal,
    ) -> BoxFuture<'a, Result<Grant, ServiceError>> {
        Box::pin(Authenticator::require_fresh(self, token, max_age, aal))
    }

    fn authorize<'a>(
        &'a self,
        grant: &'a Grant,
        permission: Permission,
        resource: Resource,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move { Authenticator::authorize(self, grant, &permission, &resource).await })
    }

    fn now(&self) -> u64 {
        Authenticator::now(self)
    }

    fn ticket_ttl(&self) -> u64 {
        self.config().ticket_ttl()
    }
}

/// The web integration's handle: the service and the [`WebConfig`]. Cheap to clone (two
/// `Arc`s).
///
/// ```
/// # #[cfg(feature = "memory")] {
/// use std::sync::Arc;
/// use authcore::web::{WebAuth, WebConfig, WebKey};
/// use authcore::{Authenticator, MemoryStore, ServiceConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = Arc::new(Authenticator::new(
///     MemoryStore::backend()?,
///     ServiceConfig::builder("Example Co").build()?,
/// ));
/// let config = WebConfig::builder(WebKey::generate()?, "https://app.example.com").build()?;
/// let web = WebAuth::new(Arc::clone(&auth), config);
/// let app: axum::Router = axum::Router::new()
///     // .route(...) the host's pages, with the extractors of `authcore::web`
///     .layer(web.csrf_layer())
///     .layer(web.security_headers())
///     .layer(web.layer());
/// # let _ = app; Ok(()) }
/// # main().unwrap(); }
/// ```
#[derive(Clone)]
pub struct WebAuth {
    verifier: Arc<dyn Verifier>,
    config: Arc<WebConfig>,
}

impl WebAuth {
    /// The handle for `auth` with `config`.
    pub fn new<B: Backend + 'static>(auth: Arc<Authenticator<B>>, config: WebConfig) -> Self {
        Self {
            verifier: auth,
            config: Arc::new(config),
        }
    }

    /// The settings.
    pub fn config(&self) -> &WebConfig {
        &self.config
    }

    pub(crate) fn shared_config(&self) -> Arc<WebConfig> {
        Arc::clone(&self.config)
    }

    /// The layer that makes this handle available to the extractors (an [`Extension`]): add it
    /// outermost (last).
    pub fn layer(&self) -> Extension<Self> {
        Extension(self.clone())
    }

    /// The service's clock (unix seconds).
    pub fn now(&self) -> u64 {
        self.verifier.now()
    }

    /// How long a login step's ticket lives (the service's ticket lifetime): the pending-login
    /// cookie lives as long.
    pub(crate) fn ticket_ttl(&self) -> u64 {
        self.verifier.ticket_ttl()
    }

    /// The response for a service error, its `Retry-After` counted on the service's clock.
    pub fn respond(&self, error: ServiceError) -> ErrorResponse {
        ErrorResponse::new(error, self.now())
    }

    pub(crate) async fn authenticate(&self, token: &str) -> Result<Grant, WebRejection> {
        self.verifier
            .authenticate(token)
            .await
            .map_err(|e| self.rejection(e))
    }

    pub(crate) async fn require_fresh(
        &self,
        token: &str,
        max_age: u64,
        aal: Aal,
    ) -> Result<Grant, WebRejection> {
        self.verifier
            .require_fresh(token, max_age, aal)
            .await
            .map_err(|e| self.rejection(e))
    }

    pub(crate) async fn authorize(
        &self,
        grant: &Grant,
        permission: Permission,
        resource: Resource,
    ) -> Result<(), WebRejection> {
        self.verifier
            .authorize(grant, permission, resource)
            .await
            .map_err(|e| self.rejection(e))
    }

    /// The refusal of a request that presented the session cookie: a session that ended also
    /// clears the cookie.
    pub(crate) fn rejection(&self, error: ServiceError) -> WebRejection {
        let response = self.respond(error);
        if response.class() == crate::service::ErrorClass::SessionEnded {
            return WebRejection::Service(response.with_cookies(self.clear_session_cookie()));
        }
        WebRejection::Service(response)
    }

    /// The handle the layer put into the request.
    pub(crate) fn from_parts(parts: &Parts) -> Result<Self, WebRejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(WebRejection::NotConfigured)
    }
}

impl fmt::Debug for WebAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebAuth")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The cookies ([`SetCookies`]): set and cleared with authcore's attributes.
impl WebAuth {
    /// The session cookie for a session just opened or rotated.
    pub fn session_cookie(&self, opened: &OpenedSession) -> SetCookies {
        let config = self.config();
        cookies::set(
            config,
            &config.session_cookie,
            &opened.token.expose_secret(),
            config.session_max_age,
        )
    }

    /// Signed in, or the session's token rotated: the new session cookie, and the pending-login
    /// cookie cleared.
    pub fn signed_in(&self, opened: &OpenedSession) -> SetCookies {
        self.session_cookie(opened).and(self.clear_login_cookie())
    }

    /// Signed out: both cookies cleared (sign the session out with
    /// [`Authenticator::sign_out`](crate::service::Authenticator::sign_out) too: clearing the
    /// cookie alone leaves the session standing).
    pub fn signed_out(&self) -> SetCookies {
        self.clear_session_cookie().and(self.clear_login_cookie())
    }

    /// Clears the session cookie.
    pub fn clear_session_cookie(&self) -> SetCookies {
        let config = self.config();
        cookies::clear(config, &config.session_cookie)
    }

    /// Clears the pending-login cookie.
    pub fn clear_login_cookie(&self) -> SetCookies {
        let config = self.config();
        cookies::clear(config, &config.login_cookie)
    }

    /// The session token the request carries, if any (not checked: the extractors check it).
    pub(crate) fn session_token(&self, headers: &HeaderMap) -> Option<Zeroizing<String>> {
        cookies::read(headers, &self.config().session_cookie)
    }
}
