//! The development outbox: a notifier that keeps every e-mail and SMS the application would
//! have sent, and the `/dev/outbox` page that shows them. A real host delivers them instead.

use std::sync::{Arc, Mutex};

use askama::Template;
use axum::Router;
use axum::response::Response;
use axum::routing::get;

use authcore::store::{Notification, OobPurpose, SecurityNotice};
use authcore::{Backend, Notifier, PersonId};

use super::{App, AppState, Nav, render};

/// One message as the person would have received it.
#[derive(Clone, Debug)]
pub struct Message {
    /// "E-mail" or "SMS".
    pub channel: &'static str,
    /// The person it was for.
    pub person: PersonId,
    /// The phone number, for an SMS (an e-mail goes to the person's login).
    pub phone: Option<String>,
    /// The subject line.
    pub subject: String,
    /// The text.
    pub body: String,
}

/// The recording notifier (cheap to clone: the clones share the messages).
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    messages: Arc<Mutex<Vec<Message>>>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message so far, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn push(&self, message: Message) {
        if let Ok(mut messages) = self.messages.lock() {
            messages.push(message);
        }
    }
}

fn email(person: PersonId, subject: &str, body: String) -> Message {
    Message {
        channel: "E-mail",
        person,
        phone: None,
        subject: subject.to_owned(),
        body,
    }
}

fn notice_text(notice: &SecurityNotice) -> &'static str {
    match notice {
        SecurityNotice::AuthenticatorAdded => {
            "A second factor (an authenticator app or a passkey) was added to your account."
        }
        #[cfg(feature = "passkeys")]
        SecurityNotice::PasskeyRemoved => "A passkey was removed from your account.",
        #[cfg(feature = "passkeys")]
        SecurityNotice::PasskeyCloneSuspected => {
            "A passkey of yours answered as a copy of itself would: the sign-in was refused and you were signed out everywhere. Remove any passkey you do not trust."
        }
        SecurityNotice::MfaTurnedOff => "Multi-factor authentication was turned off.",
        SecurityNotice::Locked => "Your account was locked after repeated failed attempts.",
        SecurityNotice::Unlocked => "An administrator unlocked your account.",
        SecurityNotice::MfaReset => {
            "An administrator removed your second factors: set up MFA again at your next sign-in."
        }
        SecurityNotice::PhoneRemoved => "The phone number for sign-in codes was removed.",
        SecurityNotice::RecoveryCodeUsed => "A recovery code was used to sign in.",
        SecurityNotice::RecoveryCodesLow => "Few recovery codes remain: make new ones.",
        _ => "A security setting of your account changed.",
    }
}

impl Notifier for Outbox {
    type Error = std::convert::Infallible;

    async fn deliver(&self, message: Notification<'_>) -> Result<(), Self::Error> {
        let message = match message {
            Notification::OobCode {
                person,
                purpose,
                to,
                code,
            } => {
                let body = match purpose {
                    OobPurpose::SignIn => format!("Your sign-in code is {}", code.expose_secret()),
                    _ => format!(
                        "Your code to confirm this phone number is {}",
                        code.expose_secret()
                    ),
                };
                Message {
                    channel: "SMS",
                    person,
                    phone: Some(to.e164().to_owned()),
                    subject: String::new(),
                    body,
                }
            }
            Notification::SetupLink { person, token, .. } => email(
                person,
                "Your new account: finish setting it up",
                format!(
                    "An administrator added you. Sign in with the temporary password they gave \
                     you, or set your password at /setup?token={}",
                    &*token.expose_secret()
                ),
            ),
            Notification::PasswordReset { person, .. } => email(
                person,
                "Reset your password",
                "Someone asked to reset your password.".to_owned(),
            ),
            Notification::AddressVerification { person, .. } => email(
                person,
                "Confirm your e-mail address",
                "Welcome! Please confirm this is your address.".to_owned(),
            ),
            Notification::Security { person, notice } => {
                email(person, "Security notice", notice_text(&notice).to_owned())
            }
            Notification::Invitation { person, .. } => email(
                person,
                "You are invited",
                "You were invited to join a company account.".to_owned(),
            ),
            Notification::MfaReminder { person, .. } => email(
                person,
                "Set up multi-factor authentication",
                "Your company requires MFA: set it up before your deadline.".to_owned(),
            ),
            Notification::AddressChanged { person, .. } => email(
                person,
                "Your login changed",
                "The e-mail address of your account changed.".to_owned(),
            ),
            // Messages of kinds added later: none are sent by this application.
            _ => return Ok(()),
        };
        self.push(message);
        Ok(())
    }
}

pub fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
    Router::new().route("/dev/outbox", get(page::<B>))
}

/// A message with its recipient resolved, for the page.
struct Shown {
    channel: &'static str,
    to: String,
    subject: String,
    body: String,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    nav: Nav,
    messages: Vec<Shown>,
}

async fn page<B: Backend + 'static>(axum::extract::State(app): AppState<B>) -> Response {
    let mut messages = Vec::new();
    for m in app.outbox.messages().into_iter().rev() {
        let to = match &m.phone {
            Some(phone) => phone.clone(),
            None => app.login_of(m.person).await,
        };
        messages.push(Shown {
            channel: m.channel,
            to,
            subject: m.subject,
            body: m.body,
        });
    }
    render(&OutboxPage {
        nav: Nav::default(),
        messages,
    })
}
