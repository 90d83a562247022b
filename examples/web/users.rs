//! Manage Users (Admins and Owners): the members with their roles, and Add User with a
//! temporary password and a role; the setup e-mail goes to the outbox.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use authcore::policy::Role;
use authcore::web::{Authorized, CsrfForm, CsrfToken, ManageMembers};
use authcore::{Backend, BearerToken, Password, PersonId};

use super::{App, AppState, Nav, render, role_name, see};

pub fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
    Router::new()
        .route("/users", get(page::<B>).post(add::<B>))
        .route("/setup", get(setup_page).post(setup::<B>))
        .route("/users/backup", post(backup::<B>))
        .route("/users/reset-mfa", post(reset_mfa::<B>))
}

#[derive(Deserialize)]
struct Target {
    person: String,
}

/// A week, the backup's cover.
const WEEK: u64 = 7 * 24 * 60 * 60;

/// "Backup person": the member covers as an Admin for a week (a delegation that lapses by
/// itself), for example while the actor is away.
async fn backup<B: Backend + 'static>(
    State(app): AppState<B>,
    authorized: Authorized<ManageMembers>,
    CsrfForm(form): CsrfForm<Target>,
) -> Response {
    let Ok(person) = form.person.parse::<PersonId>() else {
        return app.fail(authcore::ServiceError::Conflict);
    };
    let until = app.web.now() + WEEK;
    match app
        .auth
        .delegate(authorized.session.grant(), person, Role::Admin, until)
        .await
    {
        Ok(()) => see("/users"),
        Err(e) => app.fail(e),
    }
}

/// An administrator's MFA reset for a member who lost their phone: every second factor goes,
/// and the member sets MFA up again at their next sign-in.
async fn reset_mfa<B: Backend + 'static>(
    State(app): AppState<B>,
    authorized: Authorized<ManageMembers>,
    CsrfForm(form): CsrfForm<Target>,
) -> Response {
    let Ok(person) = form.person.parse::<PersonId>() else {
        return app.fail(authcore::ServiceError::Conflict);
    };
    match app
        .auth
        .reset_member_mfa(authorized.session.grant(), person)
        .await
    {
        Ok(()) => see("/users"),
        Err(e) => app.fail(e),
    }
}

#[derive(Deserialize)]
struct SetupQuery {
    token: String,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    nav: Nav,
    token: String,
}

/// The setup e-mail's link: choose a password instead of the temporary one. The form has no
/// session; the single-use token in it and the origin check (`CsrfLayer`) protect it.
async fn setup_page(Query(query): Query<SetupQuery>) -> Response {
    render(&SetupPage {
        nav: Nav::default(),
        token: query.token,
    })
}

#[derive(Deserialize)]
struct SetupForm {
    token: String,
    password: String,
}

async fn setup<B: Backend + 'static>(
    State(app): AppState<B>,
    Form(form): Form<SetupForm>,
) -> Response {
    let Ok(token) = BearerToken::parse(form.token.trim()) else {
        return app.fail(authcore::ServiceError::InvalidCredentials);
    };
    match app
        .auth
        .complete_setup(&token, Password::from(form.password.as_str()))
        .await
    {
        Ok(_) => see("/login"),
        Err(e) => app.fail(e),
    }
}

/// A member as listed.
pub struct Row {
    pub id: String,
    pub login: String,
    pub role: &'static str,
    pub active: bool,
    /// The role this member holds as someone's backup, if any.
    pub backup: Option<&'static str>,
    /// Whether the page offers the actions on this member (not on Owners).
    pub actions: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Nav,
    rows: Vec<Row>,
    added: Option<(String, String)>,
    csrf: String,
}

async fn rows<B: Backend + 'static>(app: &App<B>, org: authcore::OrgId) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Ok(org) = app.auth.organisation(org).await {
        for member in org.members() {
            rows.push(Row {
                id: member.person().to_string(),
                login: app.login_of(member.person()).await,
                role: role_name(member.role()),
                active: member.is_active(),
                backup: member.delegation().map(|d| role_name(d.role())),
                actions: member.role() < Role::Admin,
            });
        }
    }
    rows
}

async fn page<B: Backend + 'static>(
    State(app): AppState<B>,
    authorized: Authorized<ManageMembers>,
    csrf: CsrfToken,
) -> Response {
    let session = &authorized.session;
    render(&UsersPage {
        nav: app.nav(session, &csrf).await,
        rows: rows(&app, session.grant().org()).await,
        added: None,
        csrf: csrf.value().to_owned(),
    })
}

#[derive(Deserialize)]
struct NewUser {
    login: String,
    role: String,
}

async fn add<B: Backend + 'static>(
    State(app): AppState<B>,
    authorized: Authorized<ManageMembers>,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<NewUser>,
) -> Response {
    let session = &authorized.session;
    let role = match form.role.as_str() {
        "Manager" => Role::Manager,
        "Admin" => Role::Admin,
        _ => Role::User,
    };
    match app
        .auth
        .add_member(session.grant(), form.login.trim(), role)
        .await
    {
        // The temporary password is shown once, here.
        Ok(new) => render(&UsersPage {
            nav: app.nav(session, &csrf).await,
            rows: rows(&app, session.grant().org()).await,
            added: Some((
                form.login.trim().to_owned(),
                new.temporary_password.expose_secret().to_owned(),
            )),
            csrf: csrf.value().to_owned(),
        }),
        Err(e) => app.fail(e),
    }
}
