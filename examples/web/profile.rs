//! My Profile → Two-Factor Authentication: a phone number (with its country code) for sign-in
//! codes by text message, proven by a code sent to it first.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use authcore::credential::PhoneNumber;
use authcore::policy::Aal;
use authcore::web::{CsrfForm, CsrfToken, CurrentSession};
use authcore::{Backend, ServiceError, UserStore};

use super::account::Code;
use super::{App, AppState, Nav, Saved, render, see};

pub fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
    Router::new()
        .route("/profile", get(page::<B>))
        .route("/profile/phone", post(start::<B>))
        .route(
            "/profile/phone/confirm",
            get(confirm_page::<B>).post(confirm::<B>),
        )
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    nav: Nav,
    mfa_on: bool,
    phone: Option<String>,
    saved: bool,
    csrf: String,
}

async fn page<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    csrf: CsrfToken,
    Query(query): Query<Saved>,
) -> Response {
    let person = match app
        .auth
        .backend()
        .store()
        .person(session.grant().person())
        .await
    {
        Ok(Some(person)) => person,
        _ => return app.fail(ServiceError::Conflict),
    };
    render(&ProfilePage {
        nav: app.nav(&session, &csrf).await,
        mfa_on: session.grant().aal() == Aal::Aal2,
        phone: person.phone.map(|p| p.e164().to_owned()),
        saved: query.saved.is_some(),
        csrf: csrf.value().to_owned(),
    })
}

#[derive(Deserialize)]
struct Phone {
    phone: String,
}

async fn start<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    CsrfForm(form): CsrfForm<Phone>,
) -> Response {
    let phone = match PhoneNumber::parse(form.phone.trim()) {
        Ok(phone) => phone,
        Err(e) => return app.fail(authcore::Error::Phone(e).into()),
    };
    match app
        .auth
        .start_phone_verification(session.grant(), &phone)
        .await
    {
        Ok(()) => see("/profile/phone/confirm"),
        Err(e) => app.fail(e),
    }
}

#[derive(Template)]
#[template(path = "profile_phone.html")]
struct ConfirmPage {
    nav: Nav,
    csrf: String,
}

async fn confirm_page<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    csrf: CsrfToken,
) -> Response {
    render(&ConfirmPage {
        nav: app.nav(&session, &csrf).await,
        csrf: csrf.value().to_owned(),
    })
}

async fn confirm<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    CsrfForm(form): CsrfForm<Code>,
) -> Response {
    match app
        .auth
        .confirm_phone(session.grant(), form.code.trim())
        .await
    {
        Ok(()) => see("/profile?saved=1"),
        Err(e) => app.fail(e),
    }
}
