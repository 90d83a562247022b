//! Manage Users (Admins and Owners): the members with their roles, and Add User with a
//! temporary password and a role; the setup e-mail goes to the outbox.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use authcore::Backend;
use authcore::policy::Role;
use authcore::web::{Authorized, CsrfForm, CsrfToken, ManageMembers};

use super::{App, AppState, Nav, render, role_name};

pub fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
    Router::new().route("/users", get(page::<B>).post(add::<B>))
}

/// A member as listed.
pub struct Row {
    pub login: String,
    pub role: &'static str,
    pub active: bool,
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
                login: app.login_of(member.person()).await,
                role: role_name(member.role()),
                active: member.is_active(),
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
