//! Sign up, sign in, sign out, the account page and turning MFA on from it (the QR code, the
//! one-time code, the recovery codes and their acknowledgement).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use authcore::credential::RecoveryCodes;
use authcore::policy::{Aal, AuthenticatorName, EnrollmentPurpose};
use authcore::service::EnrollmentSetup;
use authcore::service::OpenedSession;
use authcore::web::{CsrfForm, CsrfToken, CurrentSession};
use authcore::{Backend, Password, ServiceError};

use super::login::after_step;
use super::{App, AppState, Nav, local_path, render, see};

pub fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
    Router::new()
        .route("/signup", get(signup_page).post(signup::<B>))
        .route("/login", get(login_page).post(login::<B>))
        .route("/logout", post(logout::<B>))
        .route("/account", get(account::<B>))
        .route("/account/mfa", get(mfa_setup::<B>))
        .route("/account/mfa/restart", post(mfa_restart::<B>))
        .route("/account/mfa/confirm", post(mfa_confirm::<B>))
        .route("/account/mfa/acknowledge", post(mfa_acknowledge::<B>))
        .route("/step-up", post(step_up::<B>))
}

#[derive(Deserialize)]
struct StepUp {
    password: String,
    code: String,
    back: String,
}

/// "Confirm it is you": the password and a fresh code raise the session (a new token), then
/// back to the page that asked. The step-up form is on the 401 `step_up_required` page.
async fn step_up<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    CsrfForm(form): CsrfForm<StepUp>,
) -> Response {
    match app
        .auth
        .reauthenticate_session(
            session.expose_token(),
            Password::from(form.password.as_str()),
            form.code.trim(),
        )
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

/// The name the first authenticator app gets.
pub const APP_NAME: &str = "Authenticator app";

#[derive(Deserialize)]
pub struct Credentials {
    login: String,
    password: String,
}

/// A form with no field but the CSRF token.
#[derive(Deserialize)]
pub struct Empty {}

#[derive(Deserialize)]
pub struct Code {
    pub code: String,
}

#[derive(Deserialize)]
pub struct Acknowledge {
    pub recorded: Option<String>,
}

impl Acknowledge {
    /// The answer to "I have safely recorded this number": without the tick, back to Account
    /// info; with it, `acknowledge` turns the new factor on, and the session, raised to AAL2,
    /// goes on under the new token it opened.
    pub async fn answer<B: Backend + 'static, X>(
        &self,
        app: &App<B>,
        acknowledge: impl Future<Output = Result<(X, OpenedSession), ServiceError>>,
    ) -> Response {
        if self.recorded.is_none() {
            return see("/account");
        }
        match acknowledge.await {
            Ok((_, opened)) => (app.web.signed_in(&opened), see("/account")).into_response(),
            Err(e) => app.fail(e),
        }
    }
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    nav: Nav,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    /// "Sign in with a passkey" (feature `passkeys`).
    passkeys: bool,
}

async fn signup_page() -> Response {
    render(&SignupPage {
        nav: Nav::default(),
    })
}

async fn login_page() -> Response {
    render(&LoginPage {
        nav: Nav::default(),
        passkeys: super::PASSKEYS,
    })
}

/// Sign-up: the form has no session yet, so it relies on the origin check (`CsrfLayer`).
async fn signup<B: Backend + 'static>(
    State(app): AppState<B>,
    earlier: Option<CurrentSession>,
    Form(form): Form<Credentials>,
) -> Response {
    let password = Password::from(form.password.as_str());
    if let Err(e) = app.auth.sign_up(&form.login, password).await {
        return app.fail(e);
    }
    sign_in(&app, earlier, &form).await
}

async fn login<B: Backend + 'static>(
    State(app): AppState<B>,
    earlier: Option<CurrentSession>,
    Form(form): Form<Credentials>,
) -> Response {
    sign_in(&app, earlier, &form).await
}

/// The password step of a login, on to the step it leads to. A session this browser still
/// holds (someone else's, perhaps, on a shared computer) ends first: its cookie is about to be
/// replaced, and a session nobody can sign out of must not stay alive.
async fn sign_in<B: Backend + 'static>(
    app: &App<B>,
    earlier: Option<CurrentSession>,
    form: &Credentials,
) -> Response {
    if let Some(earlier) = earlier
        && let Err(e) = app.auth.sign_out(earlier.expose_token()).await
    {
        return app.fail(e);
    }
    match app
        .auth
        .login(&form.login, Password::from(form.password.as_str()))
        .await
    {
        Ok(step) => after_step(&app.web, &step),
        Err(e) => app.fail(e),
    }
}

async fn logout<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    match app.auth.sign_out(session.expose_token()).await {
        Ok(()) => (app.web.signed_out(), see("/login")).into_response(),
        Err(e) => app.fail(e),
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Nav,
    login: String,
    role: String,
    mfa_on: bool,
    /// Whether the example has passkeys (feature `passkeys`).
    passkeys_built: bool,
    passkeys: Vec<PasskeyRow>,
}

/// A passkey as the Passkeys section lists it.
#[cfg(feature = "passkeys")]
use super::passkeys::PasskeyRow;

/// Without feature `passkeys`, the section is not drawn.
#[cfg(not(feature = "passkeys"))]
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
    pub backed_up: &'static str,
}

async fn account<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    csrf: CsrfToken,
) -> Response {
    let nav = app.nav(&session, &csrf).await;
    #[cfg(feature = "passkeys")]
    let passkeys = super::passkeys::rows(&app, &session).await;
    #[cfg(not(feature = "passkeys"))]
    let passkeys = Vec::new();
    render(&AccountPage {
        login: nav.login.clone(),
        role: nav.role.clone(),
        nav,
        // A person who holds a second factor signs in at AAL2, and turning MFA on in the
        // session raises it there.
        mfa_on: session.grant().aal() == Aal::Aal2,
        passkeys_built: super::PASSKEYS,
        passkeys,
    })
}

/// The enrolment page, shared by the account page and the login's "Company Account
/// Verification" step (their forms post to different places).
#[derive(Template)]
#[template(path = "enroll.html")]
pub struct EnrollPage {
    pub nav: Nav,
    pub qr_svg: String,
    pub manual_key: String,
    pub confirm: &'static str,
    pub restart: &'static str,
    pub csrf: String,
}

impl EnrollPage {
    /// The page for an enrollment started (or shown again).
    pub fn new(
        nav: Nav,
        setup: &EnrollmentSetup,
        confirm: &'static str,
        restart: &'static str,
        csrf: &CsrfToken,
    ) -> Self {
        Self {
            nav,
            qr_svg: qr_svg(setup),
            manual_key: setup.manual_key().to_string(),
            confirm,
            restart,
            csrf: csrf.value().to_owned(),
        }
    }
}

/// The QR code, drawn locally (feature `qr`); without it the page shows the manual key only.
fn qr_svg(setup: &EnrollmentSetup) -> String {
    #[cfg(feature = "qr")]
    {
        setup
            .uri()
            .qr_svg()
            .map(|svg| svg.to_string())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "qr"))]
    {
        let _ = setup;
        String::new()
    }
}

/// The recovery codes, shown once, with the "I have safely recorded" checkbox.
#[derive(Template)]
#[template(path = "recovery.html")]
pub struct RecoveryPage {
    pub nav: Nav,
    pub codes: Vec<String>,
    pub acknowledge: &'static str,
    pub csrf: String,
}

impl RecoveryPage {
    /// The page that shows `codes` once; its checkbox posts to `acknowledge`.
    pub fn new(
        nav: Nav,
        codes: &RecoveryCodes,
        acknowledge: &'static str,
        csrf: &CsrfToken,
    ) -> Self {
        Self {
            nav,
            codes: codes.iter().map(|c| c.expose_secret().to_owned()).collect(),
            acknowledge,
            csrf: csrf.value().to_owned(),
        }
    }
}

fn purpose() -> EnrollmentPurpose {
    EnrollmentPurpose::Add(AuthenticatorName::new(APP_NAME).expect("a valid name"))
}

async fn mfa_setup<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    csrf: CsrfToken,
) -> Response {
    // Shown again on a reload: the same secret until it is confirmed or expires.
    match app.auth.start_enrollment(session.grant(), purpose()).await {
        Ok(setup) => render(&EnrollPage::new(
            app.nav(&session, &csrf).await,
            &setup,
            "/account/mfa/confirm",
            "/account/mfa/restart",
            &csrf,
        )),
        Err(e) => app.fail(e),
    }
}

async fn mfa_restart<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    match app
        .auth
        .restart_enrollment(session.grant(), purpose())
        .await
    {
        Ok(_) => see("/account/mfa"),
        Err(e) => app.fail(e),
    }
}

async fn mfa_confirm<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<Code>,
) -> Response {
    match app
        .auth
        .confirm_enrollment(session.grant(), form.code.trim())
        .await
    {
        Ok(codes) => render(&RecoveryPage::new(
            app.nav(&session, &csrf).await,
            &codes,
            "/account/mfa/acknowledge",
            &csrf,
        )),
        Err(e) => app.fail(e),
    }
}

async fn mfa_acknowledge<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    CsrfForm(form): CsrfForm<Acknowledge>,
) -> Response {
    let acknowledge = app
        .auth
        .acknowledge_enrollment_in_session(session.expose_token());
    form.answer(&app, acknowledge).await
}
