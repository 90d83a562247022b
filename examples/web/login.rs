//! The steps of a login after the password, each carried by the pending-login cookie
//! (`PendingLogin`): the second factor (authenticator app, recovery code or SMS), the forced
//! password change, and the "Company Account Verification" (MFA set up at login).

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use authcore::credential::FactorKind;
use authcore::policy::SecondFactors;
use authcore::web::{CsrfForm, CsrfToken, PendingLogin, PendingStep, WebAuth, WebRejection};
use authcore::{Backend, LoginStep, Password};

use super::account::{APP_NAME, Acknowledge, Code, Empty, EnrollPage, RecoveryPage};
use super::{App, AppState, Nav, render, see};

pub fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
    Router::new()
        .route("/login/verify", get(verify_page).post(verify_totp::<B>))
        .route(
            "/login/recovery",
            get(recovery_page).post(verify_recovery::<B>),
        )
        .route("/login/sms", get(sms_page).post(verify_sms::<B>))
        .route("/login/sms/send", post(send_sms::<B>))
        .route(
            "/login/password",
            get(password_page).post(change_password::<B>),
        )
        .route(
            "/login/verification",
            get(verification_page).post(skip::<B>),
        )
        .route("/login/enroll", get(enroll::<B>))
        .route("/login/enroll/restart", post(enroll_restart::<B>))
        .route("/login/enroll/confirm", post(enroll_confirm::<B>))
        .route("/login/enroll/acknowledge", post(enroll_acknowledge::<B>))
}

/// Where a login step leads: its cookies (the session, or the next step's ticket) and the
/// page for the next step.
pub fn after_step(web: &WebAuth, step: &LoginStep) -> Response {
    let to = match step {
        LoginStep::Granted(_) => "/account".to_owned(),
        // The ways this person can answer (known only once their password was right).
        LoginStep::SecondFactor { factors, .. } => {
            format!("/login/verify?with={}", offered(*factors))
        }
        LoginStep::ChangePassword { .. } => "/login/password".to_owned(),
        LoginStep::EnrollMfa { .. } => "/login/verification".to_owned(),
        // One organisation per person in this application.
        _ => "/login".to_owned(),
    };
    (web.login_cookies(step), see(&to)).into_response()
}

/// The second factors a login asks for, as the code pages' `with` parameter: `a` the app, `s`
/// a text message, `p` a passkey, `r` a recovery code. It only chooses which buttons the page
/// shows; the service decides what it accepts.
fn offered(factors: SecondFactors) -> String {
    let mut with = String::new();
    for (kind, letter) in [
        (FactorKind::Totp, 'a'),
        (FactorKind::OutOfBandSms, 's'),
        #[cfg(feature = "passkeys")]
        (FactorKind::Passkey, 'p'),
        (FactorKind::RecoveryCode, 'r'),
    ] {
        if factors.contains(kind) {
            with.push(letter);
        }
    }
    with
}

/// The code pages' `with` parameter; without it, the app and recovery codes.
#[derive(Deserialize)]
struct Offered {
    with: Option<String>,
}

impl Offered {
    fn letters(&self) -> String {
        let with = self.with.as_deref().unwrap_or("ar");
        with.chars()
            .filter(|c| "asrp".contains(*c))
            .take(5)
            .collect()
    }
}

/// The pending login at `step`, with its organisation; otherwise the refusal (which the error
/// pages turn into the sign-in page).
fn at(
    pending: Result<PendingLogin, WebRejection>,
    step: PendingStep,
) -> Result<(PendingLogin, authcore::OrgId), Box<Response>> {
    let refused = |r: WebRejection| Box::new(r.into_response());
    let pending = pending.and_then(|p| p.at(step)).map_err(refused)?;
    let org = pending.require_org().map_err(refused)?;
    Ok((pending, org))
}

/// What sets one code page apart from the others.
struct CodeText {
    title: &'static str,
    intro: &'static str,
    action: &'static str,
    label: &'static str,
    /// Whether the code form is drawn even for a person without an app (every page but the
    /// app's).
    form: bool,
    /// Which page this is: `a` the app's, `r` the recovery code's, `s` the text message's.
    page: char,
}

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage {
    nav: Nav,
    text: CodeText,
    /// Whether this page's code form is drawn (the app's page, only for a person with an app).
    form: bool,
    /// The `with` parameter, kept on the links between the pages.
    with: String,
    app: bool,
    sms: bool,
    passkey: bool,
    recovery: bool,
    csrf: String,
}

/// A second-factor page with `text`, linking to the other methods the login offers.
fn code_page(
    pending: Result<PendingLogin, WebRejection>,
    csrf: Result<CsrfToken, WebRejection>,
    offered: &Offered,
    text: CodeText,
) -> Response {
    if let Err(r) = at(pending, PendingStep::SecondFactor) {
        return *r;
    }
    let with = offered.letters();
    let app = with.contains('a');
    match csrf {
        Ok(csrf) => render(&CodePage {
            nav: Nav::default(),
            csrf: csrf.value().to_owned(),
            form: text.form || app,
            text,
            app,
            sms: with.contains('s'),
            passkey: super::PASSKEYS && with.contains('p'),
            recovery: with.contains('r'),
            with,
        }),
        Err(r) => r.into_response(),
    }
}

async fn verify_page(
    pending: Result<PendingLogin, WebRejection>,
    csrf: Result<CsrfToken, WebRejection>,
    Query(offered): Query<Offered>,
) -> Response {
    let app = offered.letters().contains('a');
    code_page(
        pending,
        csrf,
        &offered,
        CodeText {
            title: "Two-step verification",
            intro: if app {
                "Open your authenticator app and type the six-digit code it shows for this account."
            } else {
                "Confirm it is you with your second factor."
            },
            action: "/login/verify",
            label: "Code from your app",
            form: false,
            page: 'a',
        },
    )
}

async fn recovery_page(
    pending: Result<PendingLogin, WebRejection>,
    csrf: Result<CsrfToken, WebRejection>,
    Query(offered): Query<Offered>,
) -> Response {
    code_page(
        pending,
        csrf,
        &offered,
        CodeText {
            title: "Use a recovery code",
            intro: "Type one of the recovery codes you saved when you turned MFA on. Each works once.",
            action: "/login/recovery",
            label: "Recovery code",
            form: true,
            page: 'r',
        },
    )
}

async fn sms_page(
    pending: Result<PendingLogin, WebRejection>,
    csrf: Result<CsrfToken, WebRejection>,
    Query(offered): Query<Offered>,
) -> Response {
    code_page(
        pending,
        csrf,
        &offered,
        CodeText {
            title: "Code by text message",
            intro: "We sent a code to your phone. Type it here.",
            action: "/login/sms",
            label: "Code from the text message",
            form: true,
            page: 's',
        },
    )
}

/// The second factors whose code a person types.
#[derive(Clone, Copy)]
enum CodeFactor {
    App,
    Recovery,
    Sms,
}

/// A typed code for the login's second factor, on to the step it leads to.
async fn verify_code<B: Backend + 'static>(
    app: &App<B>,
    pending: Result<PendingLogin, WebRejection>,
    code: &str,
    factor: CodeFactor,
) -> Response {
    let (pending, org) = match at(pending, PendingStep::SecondFactor) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let ticket = pending.ticket();
    let step = match factor {
        CodeFactor::App => app.auth.verify_totp(org, ticket, code).await,
        CodeFactor::Recovery => app.auth.verify_recovery_code(org, ticket, code).await,
        CodeFactor::Sms => app.auth.verify_sms_code(org, ticket, code).await,
    };
    match step {
        Ok(step) => after_step(&app.web, &step),
        Err(e) => app.fail(e),
    }
}

async fn verify_totp<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    CsrfForm(form): CsrfForm<Code>,
) -> Response {
    verify_code(&app, pending, form.code.trim(), CodeFactor::App).await
}

async fn verify_recovery<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    CsrfForm(form): CsrfForm<Code>,
) -> Response {
    verify_code(&app, pending, form.code.trim(), CodeFactor::Recovery).await
}

#[derive(Deserialize)]
struct SendSms {
    with: Option<String>,
}

async fn send_sms<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    CsrfForm(form): CsrfForm<SendSms>,
) -> Response {
    let (pending, org) = match at(pending, PendingStep::SecondFactor) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let with = Offered { with: form.with }.letters();
    match app.auth.send_sms_code(org, pending.ticket()).await {
        Ok(()) => see(&format!("/login/sms?with={with}")),
        Err(e) => app.fail(e),
    }
}

async fn verify_sms<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    CsrfForm(form): CsrfForm<Code>,
) -> Response {
    verify_code(&app, pending, form.code.trim(), CodeFactor::Sms).await
}

// ---- the forced password change --------------------------------------------------------------

#[derive(Template)]
#[template(path = "login_password.html")]
struct PasswordPage {
    nav: Nav,
    csrf: String,
}

/// The page of a login at `step` whose only content is its form: refused unless the login is
/// at that step, drawn by `page` with the form's CSRF token otherwise.
fn step_form<T: Template>(
    pending: Result<PendingLogin, WebRejection>,
    csrf: Result<CsrfToken, WebRejection>,
    step: PendingStep,
    page: impl FnOnce(String) -> T,
) -> Response {
    if let Err(r) = at(pending, step) {
        return *r;
    }
    match csrf {
        Ok(csrf) => render(&page(csrf.value().to_owned())),
        Err(r) => r.into_response(),
    }
}

async fn password_page(
    pending: Result<PendingLogin, WebRejection>,
    csrf: Result<CsrfToken, WebRejection>,
) -> Response {
    step_form(pending, csrf, PendingStep::ChangePassword, |csrf| {
        PasswordPage {
            nav: Nav::default(),
            csrf,
        }
    })
}

#[derive(Deserialize)]
struct NewPassword {
    password: String,
}

async fn change_password<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    CsrfForm(form): CsrfForm<NewPassword>,
) -> Response {
    let (pending, org) = match at(pending, PendingStep::ChangePassword) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match app
        .auth
        .change_password_at_login(
            org,
            pending.ticket(),
            Password::from(form.password.as_str()),
        )
        .await
    {
        Ok(step) => after_step(&app.web, &step),
        Err(e) => app.fail(e),
    }
}

// ---- "Company Account Verification": MFA set up at login -------------------------------------

#[derive(Template)]
#[template(path = "login_verification.html")]
struct VerificationPage {
    nav: Nav,
    csrf: String,
}

async fn verification_page(
    pending: Result<PendingLogin, WebRejection>,
    csrf: Result<CsrfToken, WebRejection>,
) -> Response {
    step_form(pending, csrf, PendingStep::EnrollMfa, |csrf| {
        VerificationPage {
            nav: Nav::default(),
            csrf,
        }
    })
}

/// "Not now", where the organisation still allows it.
async fn skip<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let (pending, org) = match at(pending, PendingStep::EnrollMfa) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match app.auth.skip_enrollment(org, pending.ticket()).await {
        Ok(step) => after_step(&app.web, &step),
        Err(e) => app.fail(e),
    }
}

async fn enroll<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    csrf: Result<CsrfToken, WebRejection>,
) -> Response {
    let (pending, org) = match at(pending, PendingStep::EnrollMfa) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let csrf = match csrf {
        Ok(csrf) => csrf,
        Err(r) => return r.into_response(),
    };
    match app
        .auth
        .start_login_enrollment(org, pending.ticket(), APP_NAME)
        .await
    {
        Ok(setup) => render(&EnrollPage::new(
            Nav::default(),
            &setup,
            "/login/enroll/confirm",
            "/login/enroll/restart",
            &csrf,
        )),
        Err(e) => app.fail(e),
    }
}

async fn enroll_restart<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let (pending, org) = match at(pending, PendingStep::EnrollMfa) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match app
        .auth
        .restart_login_enrollment(org, pending.ticket(), APP_NAME)
        .await
    {
        Ok(_) => see("/login/enroll"),
        Err(e) => app.fail(e),
    }
}

async fn enroll_confirm<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    csrf: Result<CsrfToken, WebRejection>,
    CsrfForm(form): CsrfForm<Code>,
) -> Response {
    let (pending, org) = match at(pending, PendingStep::EnrollMfa) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let csrf = match csrf {
        Ok(csrf) => csrf,
        Err(r) => return r.into_response(),
    };
    match app
        .auth
        .confirm_login_enrollment(org, pending.ticket(), form.code.trim())
        .await
    {
        Ok(codes) => render(&RecoveryPage::new(
            Nav::default(),
            &codes,
            "/login/enroll/acknowledge",
            &csrf,
        )),
        Err(e) => app.fail(e),
    }
}

async fn enroll_acknowledge<B: Backend + 'static>(
    State(app): AppState<B>,
    pending: Result<PendingLogin, WebRejection>,
    CsrfForm(form): CsrfForm<Acknowledge>,
) -> Response {
    let (pending, org) = match at(pending, PendingStep::EnrollMfa) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if form.recorded.is_none() {
        return see("/login/enroll");
    }
    match app
        .auth
        .acknowledge_login_enrollment(org, pending.ticket())
        .await
    {
        Ok(step) => after_step(&app.web, &step),
        Err(e) => app.fail(e),
    }
}
