//! [`PendingLogin`]: a login under way, carried between its pages in a short-lived cookie of
//! its own — the opaque ticket, the organisation and the step, signed with the server's
//! [`WebKey`](super::WebKey) and expiring with the ticket.

use alloc::format;
use alloc::string::String;
use core::fmt;
use core::str::FromStr;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::credential::token::BearerToken;
use crate::policy::ids::OrgId;
use crate::service::LoginStep;
use crate::web::auth::WebAuth;
use crate::web::config::WebConfig;
use crate::web::cookies::{self, SetCookies};
use crate::web::error::WebRejection;

/// The step a pending login is at (what page to show).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PendingStep {
    /// A second factor ([`LoginStep::SecondFactor`]).
    SecondFactor,
    /// A new password ([`LoginStep::ChangePassword`]).
    ChangePassword,
    /// "Company account verification" ([`LoginStep::EnrollMfa`]).
    EnrollMfa,
    /// The organisation to sign in to ([`LoginStep::ChooseOrganisation`]).
    ChooseOrganisation,
}

impl PendingStep {
    const fn tag(self) -> char {
        match self {
            Self::SecondFactor => 's',
            Self::ChangePassword => 'p',
            Self::EnrollMfa => 'e',
            Self::ChooseOrganisation => 'o',
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        Some(match tag {
            "s" => Self::SecondFactor,
            "p" => Self::ChangePassword,
            "e" => Self::EnrollMfa,
            "o" => Self::ChooseOrganisation,
            _ => return None,
        })
    }

    /// The step of a pending [`LoginStep`] (`None` once granted).
    pub const fn of(step: &LoginStep) -> Option<Self> {
        match step {
            LoginStep::Granted(_) => None,
            LoginStep::SecondFactor { .. } => Some(Self::SecondFactor),
            LoginStep::ChangePassword { .. } => Some(Self::ChangePassword),
            LoginStep::EnrollMfa { .. } => Some(Self::EnrollMfa),
            LoginStep::ChooseOrganisation { .. } => Some(Self::ChooseOrganisation),
        }
    }
}

/// The login under way: its ticket, organisation (`None` while the person has to choose one)
/// and step, from the pending-login cookie. Refused with [`WebRejection::NoPendingLogin`]
/// when there is none, or it is forged, altered or expired.
///
/// The cookie's value is `v1.<ticket>.<org or ->.<step>.<expires>.<mac>`: the ticket is the
/// only secret in it (256 random bits, useless without the step it allows, and single-use);
/// the organisation and step are not secret but are bound to it by HMAC-SHA256 under the key,
/// so a client cannot move a ticket to another organisation's page or step, or keep a cookie
/// past its time. The service checks the ticket anyway: it is stored with its organisation and
/// step, and a misdirected one is refused.
pub struct PendingLogin {
    ticket: BearerToken,
    org: Option<OrgId>,
    step: PendingStep,
}

impl PendingLogin {
    /// The ticket, for the next step's verb.
    pub fn ticket(&self) -> &BearerToken {
        &self.ticket
    }

    /// The organisation the login is for.
    pub fn org(&self) -> Option<OrgId> {
        self.org
    }

    /// The organisation, for the steps that need it (all but choosing one): a pending login
    /// without one is [`WebRejection::NoPendingLogin`].
    pub fn require_org(&self) -> Result<OrgId, WebRejection> {
        self.org.ok_or(WebRejection::NoPendingLogin)
    }

    /// The step it is at.
    pub fn step(&self) -> PendingStep {
        self.step
    }

    /// The pending login if it is at `step`, else [`WebRejection::NoPendingLogin`] (a page
    /// for another step: start again).
    pub fn at(self, step: PendingStep) -> Result<Self, WebRejection> {
        if self.step == step {
            Ok(self)
        } else {
            Err(WebRejection::NoPendingLogin)
        }
    }

    pub(crate) fn extract(parts: &Parts) -> Result<Self, WebRejection> {
        let web = WebAuth::from_parts(parts)?;
        let value = cookies::read(&parts.headers, web.config().login_cookie())
            .ok_or(WebRejection::NoPendingLogin)?;
        decode(web.config(), &value, web.now()).ok_or(WebRejection::NoPendingLogin)
    }
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("ticket", &self.ticket)
            .field("org", &self.org)
            .field("step", &self.step)
            .finish()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PendingLogin {
    type Rejection = WebRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::extract(parts)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for PendingLogin {
    type Rejection = WebRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match Self::extract(parts) {
            Ok(pending) => Ok(Some(pending)),
            Err(WebRejection::NoPendingLogin) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

const DOMAIN: &[u8] = b"authcore/web/pending-login/v1\0";

fn mac(config: &WebConfig, payload: &str) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(config.key.expose()).ok()?;
    mac.update(DOMAIN);
    mac.update(payload.as_bytes());
    Some(mac)
}

fn encode(
    config: &WebConfig,
    kind: PendingStep,
    org: Option<OrgId>,
    ticket: &BearerToken,
    expires: u64,
) -> Option<String> {
    let org = org.map_or_else(|| String::from("-"), |org| format!("{org}"));
    let payload = Zeroizing::new(format!(
        "v1.{}.{org}.{}.{expires}",
        &*ticket.expose_secret(),
        kind.tag()
    ));
    let tag = mac(config, &payload)?.finalize().into_bytes();
    Some(format!(
        "{}.{}",
        &*payload,
        data_encoding::HEXLOWER.encode(&tag)
    ))
}

fn decode(config: &WebConfig, value: &str, now: u64) -> Option<PendingLogin> {
    let (payload, tag) = value.rsplit_once('.')?;
    let tag = data_encoding::HEXLOWER.decode(tag.as_bytes()).ok()?;
    mac(config, payload)?.verify_slice(&tag).ok()?;
    let mut fields = payload.split('.');
    let (Some("v1"), Some(ticket), Some(org), Some(step), Some(expires), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return None;
    };
    let expires = u64::from_str(expires).ok()?;
    if now >= expires {
        return None;
    }
    let org = match org {
        "-" => None,
        id => Some(OrgId::from_str(id).ok()?),
    };
    Some(PendingLogin {
        ticket: BearerToken::parse(ticket).ok()?,
        org,
        step: PendingStep::from_tag(step)?,
    })
}

impl WebAuth {
    /// The cookies for where a login step led: for a pending step, the pending-login cookie
    /// (its ticket, organisation and step, signed, for as long as the ticket lives); for a
    /// completed login, the session cookie, the pending-login cookie cleared
    /// ([`Self::signed_in`]).
    pub fn login_cookies(&self, step: &LoginStep) -> SetCookies {
        if let Some(opened) = step.session() {
            return self.signed_in(opened);
        }
        let ttl = self.ticket_ttl();
        let expires = self.now().saturating_add(ttl);
        let value = step
            .ticket()
            .zip(PendingStep::of(step))
            .and_then(|(ticket, kind)| encode(self.config(), kind, step.org(), ticket, expires));
        match value {
            Some(value) => {
                let value = Zeroizing::new(value);
                cookies::set(
                    self.config(),
                    self.config().login_cookie(),
                    &value,
                    Some(ttl),
                )
            }
            None => self.clear_login_cookie(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec::Vec;

    use proptest::prelude::*;

    use super::*;
    use crate::web::config::WebKey;

    const NOW: u64 = 1_700_000_000;

    fn config(key: u8) -> WebConfig {
        WebConfig::builder(WebKey::from_bytes(&[key; 32]).unwrap(), "https://a.example")
            .build()
            .unwrap()
    }

    fn ticket() -> BearerToken {
        BearerToken::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap()
    }

    fn valid(org: Option<OrgId>) -> String {
        encode(
            &config(1),
            PendingStep::EnrollMfa,
            org,
            &ticket(),
            NOW + 600,
        )
        .unwrap()
    }

    #[test]
    fn step_tags_round_trip() {
        for step in [
            PendingStep::SecondFactor,
            PendingStep::ChangePassword,
            PendingStep::EnrollMfa,
            PendingStep::ChooseOrganisation,
        ] {
            let tag = step.tag().to_string();
            assert_eq!(PendingStep::from_tag(&tag), Some(step));
        }
        assert_eq!(PendingStep::from_tag("x"), None);
    }

    #[test]
    fn a_signed_value_decodes_until_it_expires_and_only_under_its_key() {
        for org in [None, Some(OrgId::new(0xfeed))] {
            let value = valid(org);
            let got = decode(&config(1), &value, NOW).unwrap();
            assert_eq!(got.org(), org);
            assert_eq!(got.step(), PendingStep::EnrollMfa);
            assert_eq!(got.ticket().digest(), ticket().digest());
            assert!(decode(&config(1), &value, NOW + 599).is_some());
            assert!(decode(&config(1), &value, NOW + 600).is_none(), "expired");
            assert!(decode(&config(2), &value, NOW).is_none(), "another key");
        }
    }

    proptest! {
        /// Whatever a client sends, decoding never panics and never yields a pending login
        /// without the key's signature.
        #[test]
        fn arbitrary_values_never_decode(value in ".{0,300}") {
            prop_assert!(decode(&config(1), &value, NOW).is_none());
        }

        /// Any one character of a signed value changed: refused.
        #[test]
        fn every_altered_character_is_refused(index in 0usize..200, with in proptest::char::range('!', '~')) {
            let value = valid(Some(OrgId::new(7)));
            let mut chars: Vec<char> = value.chars().collect();
            let index = index % chars.len();
            prop_assume!(chars[index] != with);
            chars[index] = with;
            let altered: String = chars.into_iter().collect();
            prop_assert!(decode(&config(1), &altered, NOW).is_none(), "{}", altered);
        }

        /// Cut short or extended: refused.
        #[test]
        fn truncated_or_extended_values_are_refused(cut in 1usize..200, tail in "[a-z0-9.]{1,8}") {
            let value = valid(None);
            let cut = cut % value.len();
            prop_assert!(decode(&config(1), &value[..cut], NOW).is_none());
            let longer = alloc::format!("{value}{tail}");
            prop_assert!(decode(&config(1), &longer, NOW).is_none());
        }
    }
}
