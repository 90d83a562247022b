//! The web example's application: the shared state, the router, the page layout and the error
//! pages. `main.rs` serves it; `tests/browser.rs` includes this module and serves it in-process.
//!
//! Every page group is its own module (below); each has a `routes` function.

#[path = "account.rs"]
pub mod account;
#[path = "company.rs"]
pub mod company;
#[path = "login.rs"]
pub mod login;
#[path = "outbox.rs"]
pub mod outbox;
#[cfg(feature = "passkeys")]
#[path = "passkeys.rs"]
pub mod passkeys;
#[path = "profile.rs"]
pub mod profile;
#[path = "roles.rs"]
pub mod roles;
#[path = "sessions.rs"]
pub mod sessions;
#[path = "users.rs"]
pub mod users;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use authcore::credential::{OobConfig, OobKey};
use authcore::policy::Role;
use authcore::service::ServiceConfigBuilder;
use authcore::web::{CsrfToken, CurrentSession, WebAuth, WebConfig, WebKey};
use authcore::{Authenticator, Backend, PersonId, ServiceConfig, ServiceError, UserStore};

pub use outbox::Outbox;

/// What every handler shares: the service, its web integration and the outbox.
pub struct App<B: Backend> {
    /// The service.
    pub auth: Arc<Authenticator<B>>,
    /// The web integration (cookies, CSRF, error responses).
    pub web: WebAuth,
    /// What the application "sent".
    pub outbox: Outbox,
}

/// The handlers' state.
pub type AppState<B> = axum::extract::State<Arc<App<B>>>;

/// The application served from `origin` (`http://localhost:PORT`, where passkeys work; the
/// same port on `127.0.0.1` is accepted too): every page, the authcore layers, and HTML error
/// pages for the authcore refusals.
pub fn router<B: Backend + 'static>(
    auth: Arc<Authenticator<B>>,
    outbox: Outbox,
    origin: &str,
    key: WebKey,
) -> Result<Router, authcore::web::WebConfigError> {
    let mut config = WebConfig::builder(key, origin);
    let twin = if origin.contains("://localhost") {
        origin.replacen("://localhost", "://127.0.0.1", 1)
    } else {
        origin.replacen("://127.0.0.1", "://localhost", 1)
    };
    if twin != origin {
        config = config.allow_origin(&twin);
    }
    let web = WebAuth::new(Arc::clone(&auth), config.build()?);
    let app = Arc::new(App {
        auth,
        web: web.clone(),
        outbox,
    });
    let router = Router::new()
        .route("/", get(home))
        .route("/style.css", get(style))
        .route("/passkeys.js", get(script))
        .merge(account::routes::<B>())
        .merge(login::routes::<B>())
        .merge(company::routes::<B>())
        .merge(users::routes::<B>())
        .merge(roles::routes::<B>())
        .merge(profile::routes::<B>())
        .merge(sessions::routes::<B>())
        .merge(outbox::routes::<B>());
    #[cfg(feature = "passkeys")]
    let router = router.merge(passkeys::routes::<B>());
    Ok(router
        .with_state(Arc::clone(&app))
        .layer(web.csrf_layer())
        .layer(middleware::from_fn_with_state(app, html_errors::<B>))
        .layer(web.security_headers())
        .layer(web.layer()))
}

/// Whether the example was built with passkeys (feature `passkeys`).
pub const PASSKEYS: bool = cfg!(feature = "passkeys");

/// The service's settings for the application at `origin`: SMS codes (their MAC key held
/// outside the database) and, with feature `passkeys`, passkeys for `localhost` (WebAuthn
/// needs a secure context: `http://localhost` is one, `http://127.0.0.1` is not one for the
/// relying party `localhost`).
pub fn service_config(origin: &str, sms_key: OobKey) -> ServiceConfigBuilder {
    let builder = ServiceConfig::builder("Example Co").sms(OobConfig::default(), sms_key);
    #[cfg(feature = "passkeys")]
    let builder = {
        let localhost = origin.replace("127.0.0.1", "localhost");
        builder.passkeys("localhost", "Example Co", &[localhost.as_str()])
    };
    #[cfg(not(feature = "passkeys"))]
    let _ = origin;
    builder
}

// ---- the layout ------------------------------------------------------------------------------

/// The navigation bar: what the signed-in person may reach (the pages check again).
#[derive(Clone, Debug, Default)]
pub struct Nav {
    /// Whether someone is signed in.
    pub signed_in: bool,
    /// Their login.
    pub login: String,
    /// Their role's name.
    pub role: String,
    /// The CSRF token for the sign-out form.
    pub csrf: String,
    /// Jobs: everyone.
    pub jobs: bool,
    /// Reports: Managers and above.
    pub reports: bool,
    /// Users and billing: Admins and Owners.
    pub admin: bool,
    /// The company profile: the Owner.
    pub owner: bool,
}

impl<B: Backend> App<B> {
    /// The navigation bar for a signed-in person.
    pub async fn nav(&self, session: &CurrentSession, csrf: &CsrfToken) -> Nav {
        let grant = session.grant();
        let role = grant.role();
        Nav {
            signed_in: true,
            login: self.login_of(grant.person()).await,
            role: role_name(role).to_owned(),
            csrf: csrf.value().to_owned(),
            jobs: true,
            reports: role >= Role::Manager,
            admin: role >= Role::Admin,
            owner: role == Role::Owner,
        }
    }

    /// A person's login (their e-mail address), for display.
    pub async fn login_of(&self, person: PersonId) -> String {
        match self.auth.backend().store().person(person).await {
            Ok(Some(record)) => record.login.as_str().to_owned(),
            _ => person.to_string(),
        }
    }

    /// Whether the signed-in person holds a passkey (always `false` without feature
    /// `passkeys`).
    pub async fn has_passkey(&self, session: &CurrentSession) -> bool {
        #[cfg(feature = "passkeys")]
        {
            self.auth
                .passkeys(session.grant())
                .await
                .is_ok_and(|p| !p.is_empty())
        }
        #[cfg(not(feature = "passkeys"))]
        {
            let _ = session;
            false
        }
    }

    /// The response for a service error: the crate's JSON answer, which [`html_errors`] turns
    /// into the error page.
    pub fn fail(&self, error: ServiceError) -> Response {
        self.web.respond(error).into_response()
    }
}

/// A role's name on the pages.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "User",
        Role::Manager => "Manager",
        Role::Admin => "Admin",
        Role::Owner => "Owner",
    }
}

/// Renders a page.
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be drawn",
        )
            .into_response(),
    }
}

/// `candidate` if it is a path of this site: a `/`, then only the characters of the app's own
/// paths and queries. Not `//` or `/\` (which a browser reads as another host), no control
/// characters, no scheme.
pub fn local_path(candidate: &str) -> Option<&str> {
    let rest = candidate.strip_prefix('/')?;
    let plain = |c: char| c.is_ascii_alphanumeric() || "/-_.~?=&%+".contains(c);
    (!rest.starts_with('/') && rest.chars().all(plain)).then_some(candidate)
}

/// The query of a settings page after Save changes (`?saved=1`), which shows "Saved".
#[derive(serde::Deserialize)]
pub struct Saved {
    pub saved: Option<String>,
}

/// A redirect after a form post (303: the browser follows with a GET).
pub fn see(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    nav: Nav,
}

async fn home(session: Option<CurrentSession>) -> Response {
    match session {
        Some(_) => see("/account"),
        None => render(&Home {
            nav: Nav::default(),
        }),
    }
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css")],
        include_str!("templates/style.css"),
    )
        .into_response()
}

/// The few lines of script passkeys need (WebAuthn is a browser API); no other page has any.
async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript")],
        include_str!("templates/passkeys.js"),
    )
        .into_response()
}

// ---- the error pages -------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    status: u16,
    title: &'static str,
    message: String,
    retry_after: Option<u64>,
    step_up: bool,
    /// Whether the step-up asks for a code too (not of a person with no second factor yet).
    step_up_code: bool,
    step_up_passkey: bool,
    csrf: String,
    back: String,
}

/// A refusal page the handlers draw themselves, with a clearer message than the generic one
/// for its class.
#[cfg_attr(not(feature = "passkeys"), allow(dead_code))]
pub fn refusal(nav: Nav, status: StatusCode, title: &'static str, message: &str) -> Response {
    let back = if nav.signed_in { "/account" } else { "/" };
    let page = ErrorPage {
        csrf: nav.csrf.clone(),
        nav,
        status: status.as_u16(),
        title,
        message: message.to_owned(),
        retry_after: None,
        step_up: false,
        step_up_code: false,
        step_up_passkey: false,
        back: back.to_owned(),
    };
    (status, render(&page)).into_response()
}

/// Signed out, or a login to start again: to the sign-in page, keeping the cookies the refusal
/// clears.
fn sign_in_again(mut parts: axum::http::response::Parts) -> Response {
    parts.status = StatusCode::SEE_OTHER;
    parts
        .headers
        .insert(header::LOCATION, HeaderValue::from_static("/login"));
    parts.headers.remove(header::CONTENT_TYPE);
    Response::from_parts(parts, Body::empty())
}

/// Turns the authcore layers' and handlers' JSON refusals (the table of `ErrorClass`, carried
/// by the body's `error` code) into pages: the sign-in page for an ended session or login, the
/// step-up form for `step_up_required`, and an error page with the status for the rest
/// (429 says when to try again, from `Retry-After`). The navigation offers "Sign out" only to
/// someone signed in (not during a login under way).
async fn html_errors<B: Backend + 'static>(
    axum::extract::State(app): AppState<B>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let csrf = CsrfToken::from_request_parts(&mut parts, &()).await.ok();
    // Where the step-up form returns: a page that asked for it (GET) is opened again; a form
    // post goes back to the page the form was on.
    // Only a page of this site: a `Referer` from anywhere else (or one that would read as
    // another host) goes back to the home page.
    let referer = parts
        .headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| {
            app.web
                .config()
                .origins()
                .iter()
                .find_map(|origin| r.strip_prefix(origin.as_str()))
        })
        .and_then(local_path)
        .unwrap_or("/")
        .to_owned();
    let own = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let is_get = parts.method == axum::http::Method::GET;
    // To look the session up again once the page turns out to be an error.
    let mut probe = Request::new(());
    *probe.headers_mut() = parts.headers.clone();
    *probe.extensions_mut() = parts.extensions.clone();
    let response = next.run(Request::from_parts(parts, body)).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !is_json || response.status().as_u16() < 400 {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let field = |name: &str| json.get(name).cloned().unwrap_or_default();
    let code = field("error").as_str().unwrap_or("internal").to_owned();
    let code = code.as_str();
    let message = field("message").as_str().unwrap_or_default().to_owned();
    let retry_after = field("retry_after").as_u64();
    if matches!(code, "signed_out" | "session_ended" | "login_expired") {
        return sign_in_again(parts);
    }
    let title = match code {
        "invalid_credentials" => "That did not match",
        "step_up_required" => "Confirm it is you",
        "forbidden" => "Not allowed",
        "locked" => "Account locked",
        "csrf" => "The form expired",
        "not_found" => "Not found",
        "conflict" => "Something changed",
        "password_refused" => "Choose another password",
        "throttled" => "Too many attempts",
        "bad_request" => "That did not work",
        "unavailable" => "Temporarily unavailable",
        _ => "Something went wrong",
    };
    let message = match code {
        "invalid_credentials" => {
            "The details you entered are not right. Check them and try again.".to_owned()
        }
        "forbidden" => "Your role does not give you access to this page.".to_owned(),
        "throttled" => "There were too many wrong attempts in a row.".to_owned(),
        "step_up_required" => {
            "This needs a fresh check: enter your password and a code from your authenticator app."
                .to_owned()
        }
        _ => message,
    };
    let step_up = code == "step_up_required";
    let (mut probe, ()) = probe.into_parts();
    let session = match &csrf {
        // A session (not a login under way) signs someone in.
        Some(_) => {
            <CurrentSession as axum::extract::OptionalFromRequestParts<()>>::from_request_parts(
                &mut probe,
                &(),
            )
            .await
            .ok()
            .flatten()
        }
        None => None,
    };
    if step_up && session.is_none() {
        // A login under way whose decision changed (the company's policy, say): the step-up
        // form is a session's, so the login starts again.
        return sign_in_again(parts);
    }
    let (nav, step_up_passkey) = match (&session, &csrf) {
        (Some(session), Some(csrf)) => (
            app.nav(session, csrf).await,
            step_up && app.has_passkey(session).await,
        ),
        _ => (Nav::default(), false),
    };
    // A person with a second factor holds an AAL2 session; one without re-enters the password
    // alone (the fresh check before binding a first factor).
    let step_up_code = session
        .as_ref()
        .is_some_and(|s| s.grant().aal() == authcore::policy::Aal::Aal2);
    let message = if step_up && !step_up_code {
        "This needs a fresh check: enter your password.".to_owned()
    } else if step_up_passkey {
        format!("{message} Or confirm with your passkey.")
    } else {
        message
    };
    let page = ErrorPage {
        nav,
        status: parts.status.as_u16(),
        title,
        message,
        retry_after,
        step_up,
        step_up_code,
        step_up_passkey,
        csrf: csrf.map(|t| t.value().to_owned()).unwrap_or_default(),
        back: if step_up && is_get { own } else { referer },
    };
    let html = match page.render() {
        Ok(html) => html,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(html))
}
