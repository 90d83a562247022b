//! The web integration for axum 0.8 hosts (feature `axum`): the top layer, on the service.
//!
//! A host builds one [`WebAuth`] from its [`Authenticator`](crate::service::Authenticator) and a
//! [`WebConfig`], adds its layers to the router, and writes its pages with the extractors:
//!
//! | module | idea |
//! |---|---|
//! | `config` | [`WebConfig`]: cookie names and `SameSite`, the server's [`WebKey`], the allowed origins, the step-up freshness |
//! | `auth` | [`WebAuth`]: the service behind one cloneable handle; `web.layer()` makes it available to the extractors |
//! | `cookies` | the `__Host-` session cookie (`Secure`, `HttpOnly`, `SameSite`), set again on every token rotation ([`WebAuth::signed_in`], [`SetCookies`]) |
//! | `session` | [`CurrentSession`]: the session cookie checked by `authenticate` on every request, and its grant |
//! | `pending` | [`PendingLogin`]: the ticket, organisation and step of a login under way, in a signed short-lived cookie ([`WebAuth::login_cookies`]) |
//! | `guards` | [`RequireAal2`], [`RequireFresh`] (step-up), [`Authorized<P>`] and [`AuthorizedOwn<P>`] (a permission, by `authorize`) |
//! | `permission` | [`RequiredPermission`] and one marker type per [`Permission`](crate::policy::Permission) |
//! | `error` | `IntoResponse` for [`ServiceError`](crate::ServiceError) following [`ErrorClass`](crate::service::ErrorClass), [`WebRejection`] |
//! | `csrf` | the origin check ([`CsrfLayer`]) and the per-session form token ([`CsrfToken`], [`CsrfForm`], [`CsrfHeader`]) |
//! | `labels` | [`ClientLabels`]: the `User-Agent` and (behind a trusted proxy) the address, for "where you're signed in" |
//! | `headers` | [`SecurityHeadersLayer`]: `nosniff`, `Referrer-Policy`, no framing, `Cache-Control: no-store` |
//!
//! The extractors' refusals ([`WebRejection`]) and the service's errors answer with JSON and
//! the status of [`ErrorClass`](crate::service::ErrorClass). A page that renders its own HTML
//! instead takes `Result<CurrentSession, WebRejection>` (axum hands over the rejection) and
//! chooses from [`WebRejection::code`] or [`ServiceError::class`](crate::ServiceError::class):
//! the sign-in page for `signed_out` and `session_ended`, the code form again for
//! `step_up_required`, "try again in 30 s" from [`ErrorClass::retry_after`](crate::service::ErrorClass::retry_after).
//!
//! A login page in outline (the example app `examples/web` shows every story):
//!
//! ```
//! use axum::response::{IntoResponse, Redirect, Response};
//! use authcore::web::{CsrfForm, CurrentSession, PendingLogin, PendingStep, WebAuth};
//! use authcore::{Authenticator, Backend, LoginStep};
//! # use std::sync::Arc;
//!
//! #[derive(serde::Deserialize)]
//! struct Code { code: String }
//!
//! // POST /login/code: the second factor, with the pending login's ticket and organisation.
//! async fn code<B: Backend + 'static>(
//!     axum::Extension(auth): axum::Extension<Arc<Authenticator<B>>>,
//!     axum::Extension(web): axum::Extension<WebAuth>,
//!     pending: PendingLogin,
//!     CsrfForm(form): CsrfForm<Code>,
//! ) -> Response {
//!     let Ok(pending) = pending.at(PendingStep::SecondFactor) else {
//!         return Redirect::to("/login").into_response();
//!     };
//!     let org = match pending.require_org() {
//!         Ok(org) => org,
//!         Err(rejection) => return rejection.into_response(),
//!     };
//!     match auth.verify_totp(org, pending.ticket(), &form.code).await {
//!         // Signed in: the session cookie (a new token), the pending-login cookie cleared.
//!         Ok(step @ LoginStep::Granted(_)) => {
//!             (web.login_cookies(&step), Redirect::to("/")).into_response()
//!         }
//!         // Another step: its own ticket in the pending-login cookie.
//!         Ok(step) => (web.login_cookies(&step), Redirect::to("/login/next")).into_response(),
//!         // 401, 429 with Retry-After, …: the table of `ErrorClass`.
//!         Err(error) => web.respond(error).into_response(),
//!     }
//! }
//!
//! // GET /: signed in, or refused with 401.
//! async fn home(session: CurrentSession) -> String {
//!     format!("signed in to {}", session.grant().org())
//! }
//!
//! // Both are axum handlers.
//! # #[cfg(feature = "memory")]
//! # fn _routes() {
//! let _app: axum::Router = axum::Router::new()
//!     .route("/login/code", axum::routing::post(code::<authcore::service::MemoryBackend>))
//!     .route("/", axum::routing::get(home));
//! # }
//! ```

mod auth;
mod config;
mod cookies;
mod csrf;
mod error;
mod guards;
mod headers;
mod labels;
mod pending;
mod permission;
mod session;

pub use auth::WebAuth;
pub use config::{SameSite, WebConfig, WebConfigBuilder, WebConfigError, WebKey};
pub use cookies::SetCookies;
pub use csrf::{CsrfForm, CsrfHeader, CsrfLayer, CsrfService, CsrfToken};
pub use error::{ErrorResponse, WebRejection, violation_code};
pub use guards::{Authorized, AuthorizedOwn, RequireAal2, RequireFresh, RequireFreshWithin};
pub use headers::{SecurityHeaders, SecurityHeadersLayer};
pub use labels::ClientLabels;
pub use pending::{PendingLogin, PendingStep};
pub use permission::{
    EditJobs, ManageBilling, ManageMembers, ManageSecurityPolicy, ManageSettings,
    RequiredPermission, TransferOwnership, ViewJobs, ViewReports,
};
pub use session::CurrentSession;
