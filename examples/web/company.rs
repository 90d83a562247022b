//! The company profile: company MFA, turned on by the Owner once their own MFA is on, and the
//! "force every user" setting, saved with Save changes.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use authcore::Backend;
use authcore::credential::FactorKind;
use authcore::policy::{Aal, MfaPolicy, MfaSettings};
use authcore::web::{Authorized, CsrfForm, CsrfToken, CurrentSession, ManageSecurityPolicy};

use super::{App, AppState, Nav, Saved, render, see};

pub fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
    Router::new().route("/company", get(page::<B>).post(save::<B>))
}

#[derive(Template)]
#[template(path = "company.html")]
struct CompanyPage {
    nav: Nav,
    owner_mfa: bool,
    active: bool,
    forced: bool,
    saved: bool,
    csrf: String,
}

/// The profile is the Owner's: anyone else gets the 403 page.
async fn page<B: Backend + 'static>(
    State(app): AppState<B>,
    session: CurrentSession,
    csrf: CsrfToken,
    axum::extract::Query(query): axum::extract::Query<Saved>,
) -> Response {
    let grant = session.grant();
    if let Err(e) = app
        .auth
        .authorize(
            grant,
            &authcore::policy::Permission::ManageSecurityPolicy,
            &authcore::policy::Resource::of_org(grant.org()),
        )
        .await
    {
        // Below AAL2 the Owner is asked to turn on their own MFA first (the page says so);
        // anyone else is refused.
        if grant.role() != authcore::policy::Role::Owner {
            return app.fail(e);
        }
    }
    let org = match app.auth.organisation(grant.org()).await {
        Ok(org) => org,
        Err(e) => return app.fail(e),
    };
    let (active, forced) = match org.policy() {
        MfaPolicy::On(settings) => (true, settings.enforce()),
        _ => (false, false),
    };
    render(&CompanyPage {
        nav: app.nav(&session, &csrf).await,
        owner_mfa: grant.aal() == Aal::Aal2,
        active,
        forced,
        saved: query.saved.is_some(),
        csrf: csrf.value().to_owned(),
    })
}

#[derive(Deserialize)]
struct Settings {
    activate: Option<String>,
    force: Option<String>,
}

async fn save<B: Backend + 'static>(
    State(app): AppState<B>,
    authorized: Authorized<ManageSecurityPolicy>,
    CsrfForm(form): CsrfForm<Settings>,
) -> Response {
    let grant = authorized.session.grant();
    // The authenticator app, recovery codes, passkeys where built in, and codes by text
    // message for whoever confirmed a phone on My Profile.
    let factors = MfaSettings::DEFAULT_FACTORS.with(FactorKind::OutOfBandSms);
    let result = if form.activate.is_some() {
        let settings = if form.force.is_some() {
            MfaSettings::enforced(factors, 0)
        } else {
            MfaSettings::optional(factors)
        };
        match settings {
            Ok(settings) => app.auth.set_mfa_policy(grant, settings).await,
            Err(e) => Err(e.into()),
        }
    } else {
        app.auth.turn_off_mfa_policy(grant).await
    };
    match result {
        Ok(()) => see("/company?saved=1"),
        Err(e) => app.fail(e),
    }
}
