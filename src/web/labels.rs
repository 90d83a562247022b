//! [`ClientLabels`]: where a request comes from, for the "where you're signed in" list
//! ([`Authenticator::label_session`](crate::service::Authenticator::label_session) after a
//! login): the `User-Agent`, and the client's address from a header the host's proxy sets, if
//! the host says it trusts one. The labels are shown to the person and decide nothing.

use core::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use crate::policy::session::SessionLabels;
use crate::web::auth::WebAuth;
use crate::web::error::WebRejection;

/// The request's [`SessionLabels`]: its `User-Agent`, and the address in the trusted header
/// ([`WebConfigBuilder::trust_client_ip_header`](super::WebConfigBuilder::trust_client_ip_header);
/// its last comma-separated entry, the one the nearest proxy added, if it is an IP address).
/// Without a trusted header the address is left out: add the socket's
/// (`SessionLabels::with_ip`) if the host has it.
#[derive(Debug)]
pub struct ClientLabels(pub SessionLabels);

impl<S: Send + Sync> FromRequestParts<S> for ClientLabels {
    type Rejection = WebRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let web = WebAuth::from_parts(parts)?;
        let mut labels = SessionLabels::new();
        if let Some(agent) = parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok()) {
            labels = labels.with_user_agent(agent);
        }
        let ip = web
            .config()
            .client_ip_header
            .as_ref()
            .and_then(|name| parts.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| std::net::IpAddr::from_str(v.trim()).ok());
        if let Some(ip) = ip {
            labels = labels.with_ip(&alloc::string::ToString::to_string(&ip));
        }
        Ok(Self(labels))
    }
}
