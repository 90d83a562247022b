//! Passkeys (feature `passkeys`): the Passkeys section of Account info (add one, with the
//! recovery codes for a first factor; remove one), "Sign in with a passkey" (passwordless, a
//! discoverable credential with user verification), a passkey as the second factor after the
//! password, and a passkey as the step-up.
//!
//! The browser's part is `templates/passkeys.js`: the options come from these handlers as JSON
//! (a page attribute, or a `POST` the script makes), and the browser's answer comes back as the
//! `response` field of an ordinary form post, so every outcome is a page. WebAuthn needs a
//! secure context: open the example at `http://localhost:PORT`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use authcore::policy::PolicyError;
use authcore::service::{PasskeyInfo, PasskeyRegistration};
use authcore::web::{
    CsrfForm, CsrfHeader, CsrfToken, CurrentSession, PendingLogin, PendingStep, WebRejection,
};
use authcore::{Backend, BearerToken, ServiceError};

use super::account::{Acknowledge, RecoveryPage};
use super::login::after_step;
use super::sessions::ago;
use super::{App, AppState, Nav, local_path, refusal, render, see};

pub fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
    Router::new()
        .route("/account/passkeys/new", get(new_page::<B>))
        .route("/account/passkeys/finish", post(finish::<B>))
        .route("/account/passkeys/acknowledge", post(acknowledge::<B>))
        .route("/account/passkeys/remove", post(remove::<B>))
        .route("/step-up/passkey/options", post(step_up_options::<B>))
        .route("/step-up/passkey", post(step_up::<B>))
        .route("/login/passkey/options", post(passwordless_options::<B>))
        .route("/login/passkey", post(passwordless::<B>))
        .route("/login/passkey/second/options", post(second_options::<B>))
        .route("/login/passkey/second", post(second::<B>))
}

/// The cookie that holds a passwordless attempt's token between its two requests.
const ATTEMPT_COOKIE: &str = "__Host-passkey-login";

/// A passkey as the Passkeys section lists it.
pub struct PasskeyRow {
    /// The credential id, in hex (for the Remove form).
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
    pub backed_up: &'static str,
}

/// The signed-in person's passkeys, for Account info.
pub async fn rows<B: Backend>(app: &App<B>, session: &CurrentSession) -> Vec<PasskeyRow> {
    let now = app.web.now();
    let listed = app.auth.passkeys(session.grant()).await.unwrap_or_default();
    listed
        .iter()
        .map(|p: &PasskeyInfo| PasskeyRow {
            id: hex(&p.credential_id),
            name: p.name.clone(),
            created: ago(now, p.created_at),
            last_used: p.last_used_at.map_or("never".to_owned(), |t| ago(now, t)),
            backed_up: match (p.backup_eligible, p.backup_state) {
                (_, true) => "yes",
                (true, false) => "not yet",
                (false, false) => "no (this device only)",
            },
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The browser's answer, posted by the script.
#[derive(Deserialize)]
struct Answer {
    response: String,
}

#[derive(Deserialize)]
struct Answered {
    response: String,
    back: String,
}

/// The JSON options for the script, as the service made them.
fn options(json: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

// ---- Account info → Passkeys → Add a passkey -----------------------------------------------

#[derive(Deserialize)]
struct NewPasskey {
    name: Option<String>,
}

#[derive(Template)]
#[template(path = "passkey_new.html")]
struct NewPage {
    nav: Nav,
    name: String,
    options: String,
    csrf: String,
}

/// The page that creates the passkey: the registration starts here (once the person has any
/// second factor, only in a fresh session: the step-up form comes first, then this page again).
async fn new_page<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    csrf: CsrfToken,
    Query(query): Query<NewPasskey>,
) -> Response {
    let name = query
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Passkey".to_owned());
    match app
        .auth
        .start_passkey_registration(session.grant(), &name)
        .await
    {
        Ok(options) => render(&NewPage {
            nav: app.nav(&session, &csrf).await,
            name,
            options,
            csrf: csrf.value().to_owned(),
        }),
        Err(e) => app.fail(e),
    }
}

async fn finish<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<Answer>,
) -> Response {
    match app
        .auth
        .finish_passkey_registration(session.grant(), &form.response)
        .await
    {
        Ok(PasskeyRegistration::Registered(_)) => see("/account"),
        // The first factor: its recovery codes, shown once, as for the first app.
        Ok(PasskeyRegistration::AwaitingAcknowledgement { recovery_codes, .. }) => {
            render(&RecoveryPage::new(
                app.nav(&session, &csrf).await,
                &recovery_codes,
                "/account/passkeys/acknowledge",
                &csrf,
            ))
        }
        Err(e) => app.fail(e),
    }
}

async fn acknowledge<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    CsrfForm(form): CsrfForm<Acknowledge>,
) -> Response {
    let acknowledge = app
        .auth
        .acknowledge_passkey_in_session(session.expose_token());
    form.answer(&app, acknowledge).await
}

#[derive(Deserialize)]
struct Remove {
    id: String,
}

/// Remove: needs a fresh session (the step-up form first); the last factor of a member of a
/// company that forces MFA stays, and the page says why.
async fn remove<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<Remove>,
) -> Response {
    let Some(id) = unhex(&form.id) else {
        return app.fail(PolicyError::UnknownAuthenticator.into());
    };
    match app.auth.remove_passkey(session.grant(), &id).await {
        Ok(()) => see("/account"),
        Err(ServiceError::Policy(
            PolicyError::RequiredByOrganisation { .. }
            | PolicyError::SoleOwnerOfEnforcingOrganisation { .. },
        )) => refusal(
            app.nav(&session, &csrf).await,
            StatusCode::FORBIDDEN,
            "Keep at least one second factor",
            "Your company requires MFA for every user, and this passkey is the last second \
             factor on your account. Add another passkey or an authenticator app first.",
        ),
        Err(e) => app.fail(e),
    }
}

// ---- the step-up with a passkey --------------------------------------------------------------

async fn step_up_options<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    _: CsrfHeader,
) -> Response {
    match app
        .auth
        .start_passkey_reauthentication(session.expose_token())
        .await
    {
        Ok(json) => options(json),
        Err(e) => app.fail(e),
    }
}

/// "Confirm with a passkey": a passkey that verified the person (PIN or biometrics) stands
/// for the password and the code; the session becomes fresh under a new token.
async fn step_up<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    CsrfForm(form): CsrfForm<Answered>,
) -> Response {
    match app
        .auth
        .reauthenticate_session_with_verified_passkey(session.expose_token(), &form.response)
        .await
    {
        Ok(opened) => {
            // Only a path on this site.
            let back = local_path(&form.back).unwrap_or("/account");
            (app.web.signed_in(&opened), see(back)).into_response()
        }
        Err(e) => app.fail(e),
    }
}

// ---- Sign in with a passkey ------------------------------------------------------------------

fn attempt_cookie(value: &str, max_age: u64) -> String {
    format!(
        "{ATTEMPT_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    )
}

fn attempt_from(headers: &HeaderMap) -> Option<BearerToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == ATTEMPT_COOKIE)
        .and_then(|(_, value)| BearerToken::parse(value).ok())
}

/// Part 1: the request options, and the attempt's token in a short-lived cookie. Nothing about
/// anyone is read: the form has no session yet, so it relies on the origin check.
async fn passwordless_options<B: Backend + 'static>(State(app): AppState<B>) -> Response {
    match app.auth.start_passwordless_login().await {
        Ok((json, attempt)) => {
            let cookie = attempt_cookie(
                &attempt.expose_secret(),
                authcore::service::PASSKEY_CEREMONY_TTL,
            );
            (AppendHeaders([(header::SET_COOKIE, cookie)]), options(json)).into_response()
        }
        Err(e) => app.fail(e),
    }
}

/// Part 2: the assertion. The login then goes on as after a password and a second factor.
async fn passwordless<B: Backend + 'static>(
    State(app): AppState<B>,
    headers: HeaderMap,
    Form(form): Form<Answer>,
) -> Response {
    let clear = AppendHeaders([(header::SET_COOKIE, attempt_cookie("", 0))]);
    let Some(attempt) = attempt_from(&headers) else {
        return (clear, app.fail(ServiceError::InvalidCredentials)).into_response();
    };
    match app
        .auth
        .finish_passwordless_login(&attempt, &form.response)
        .await
    {
        Ok(step) => (clear, after_step(&app.web, &step)).into_response(),
        Err(e) => (clear, app.fail(e)).into_response(),
    }
}

// ---- a passkey as the second factor ----------------------------------------------------------

fn second_factor(
    pending: Result<PendingLogin, WebRejection>,
) -> Result<(PendingLogin, authcore::OrgId), Box<Response>> {
    let refused = |r: WebRejection| Box::new(r.into_response());
    let pending = pending
        .and_then(|p| p.at(PendingStep::SecondFactor))
        .map_err(refused)?;
    let org = pending.require_org().map_err(refused)?;
    Ok((pending, org))
}

async fn second_options<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    _: CsrfHeader,
) -> Response {
    let (pending, org) = match second_factor(pending) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match app.auth.start_passkey_login(org, pending.ticket()).await {
        Ok(json) => options(json),
        Err(e) => app.fail(e),
    }
}

async fn second<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    CsrfForm(form): CsrfForm<Answer>,
) -> Response {
    let (pending, org) = match second_factor(pending) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match app
        .auth
        .finish_passkey_login(org, pending.ticket(), &form.response)
        .await
    {
        Ok(step) => after_step(&app.web, &step),
        Err(e) => app.fail(e),
    }
}
