//! What each role sees: a User their own jobs, a Manager every job and the reports, an Admin
//! the users and the billing settings too. Every page is guarded by a permission (the
//! navigation only hides what the guard refuses anyway): a forbidden page answers 403.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use authcore::Backend;
use authcore::policy::{Permission, Resource};
use authcore::web::{Authorized, AuthorizedOwn, CsrfToken, ManageBilling, ViewJobs, ViewReports};

use super::{App, AppState, Nav, render};

pub fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
    Router::new()
        .route("/jobs", get(jobs::<B>))
        .route("/reports", get(reports::<B>))
        .route("/billing", get(billing::<B>))
}

/// A job as listed: made up for the example, two per member.
pub struct Job {
    pub title: String,
    pub owner: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    nav: Nav,
    all: bool,
    jobs: Vec<Job>,
}

/// Jobs: `AuthorizedOwn` lets in whoever may see at least their own; each member's jobs are
/// then listed only if `authorize` allows them for that owner.
async fn jobs<B: Backend + 'static>(
    State(app): AppState<B>,
    authorized: AuthorizedOwn<ViewJobs>,
    csrf: CsrfToken,
) -> Response {
    let session = &authorized.session;
    let grant = session.grant();
    let org = match app.auth.organisation(grant.org()).await {
        Ok(org) => org,
        Err(e) => return app.fail(e),
    };
    let mut jobs = Vec::new();
    let mut all = true;
    for member in org.members() {
        let resource = Resource::owned_by(grant.org(), member.person());
        if app
            .auth
            .authorize(grant, &Permission::ViewJobs, &resource)
            .await
            .is_err()
        {
            all = false;
            continue;
        }
        let owner = app.login_of(member.person()).await;
        for what in ["Spring newsletter", "Invoice run"] {
            jobs.push(Job {
                title: format!("{what} ({owner})"),
                owner: owner.clone(),
            });
        }
    }
    render(&JobsPage {
        nav: app.nav(session, &csrf).await,
        all,
        jobs,
    })
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    nav: Nav,
}

async fn reports<B: Backend + 'static>(
    State(app): AppState<B>,
    authorized: Authorized<ViewReports>,
    csrf: CsrfToken,
) -> Response {
    render(&ReportsPage {
        nav: app.nav(&authorized.session, &csrf).await,
    })
}

#[derive(Template)]
#[template(path = "billing.html")]
struct BillingPage {
    nav: Nav,
}

async fn billing<B: Backend + 'static>(
    State(app): AppState<B>,
    authorized: Authorized<ManageBilling>,
    csrf: CsrfToken,
) -> Response {
    render(&BillingPage {
        nav: app.nav(&authorized.session, &csrf).await,
    })
}
