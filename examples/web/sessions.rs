//! "Where you're signed in": the person's sessions with where they were opened, signing one
//! out, and "sign out everywhere".

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use authcore::Backend;
use authcore::web::{ClientLabels, CsrfForm, CsrfToken, CurrentSession};

use super::account::Empty;
use super::{App, AppState, Nav, render, see};

pub fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
    Router::new()
        .route("/sessions", get(page::<B>))
        .route("/sessions/revoke", post(revoke::<B>))
        .route("/sessions/everywhere", post(everywhere::<B>))
}

/// A session as listed.
pub struct Row {
    pub id: String,
    pub device: String,
    pub signed_in: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    nav: Nav,
    rows: Vec<Row>,
    csrf: String,
}

pub fn ago(now: u64, then: u64) -> String {
    let s = now.saturating_sub(then);
    match s {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

async fn page<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    csrf: CsrfToken,
    ClientLabels(labels): ClientLabels,
) -> Response {
    // This browser's session carries its own labels (shown to the person; they decide nothing).
    if let Err(e) = app
        .auth
        .label_session(session.expose_token(), &labels)
        .await
    {
        return app.fail(e);
    }
    let listed = match app.auth.sessions(session.expose_token()).await {
        Ok(listed) => listed,
        Err(e) => return app.fail(e),
    };
    let now = app.web.now();
    let current = session.grant().session();
    let rows = listed
        .into_iter()
        .map(|s| Row {
            id: s.record.id.get().to_string(),
            device: s
                .labels
                .user_agent()
                .map(browser_name)
                .unwrap_or("Unknown device")
                .to_owned(),
            signed_in: ago(now, s.record.authenticated_at),
            current: Some(s.record.id) == current,
        })
        .collect();
    render(&SessionsPage {
        nav: app.nav(&session, &csrf).await,
        rows,
        csrf: csrf.value().to_owned(),
    })
}

/// A short name for a `User-Agent`.
fn browser_name(agent: &str) -> &'static str {
    if agent.contains("HeadlessChrome") {
        "Headless Chrome"
    } else if agent.contains("Chrome") || agent.contains("Chromium") {
        "Chrome"
    } else if agent.contains("Firefox") {
        "Firefox"
    } else if agent.contains("Safari") {
        "Safari"
    } else {
        "Browser"
    }
}

#[derive(Deserialize)]
struct Revoke {
    id: String,
}

async fn revoke<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    CsrfForm(form): CsrfForm<Revoke>,
) -> Response {
    let Ok(id) = form.id.parse::<u128>() else {
        return app.fail(authcore::ServiceError::Conflict);
    };
    let id = authcore::policy::SessionId::new(id);
    match app.auth.revoke_session(session.expose_token(), id).await {
        Ok(_) => see("/sessions"),
        Err(e) => app.fail(e),
    }
}

async fn everywhere<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    match app
        .auth
        .sign_out_everywhere(session.expose_token(), false)
        .await
    {
        Ok(_) => (app.web.signed_out(), see("/login")).into_response(),
        Err(e) => app.fail(e),
    }
}
