//! Passkeys end to end on the memory store, against a software authenticator (1Password's
//! `passkey` crate standing in for the browser and the person's device):
//! `cargo run --example passkeys --features passkeys`.
//!
//! Ada registers a passkey (her first factor, so it comes with recovery codes to acknowledge),
//! signs in with her password and the passkey, then without a password at all, steps up with it
//! for a sensitive change, and removes it. In a web application the JSON strings below travel
//! between the server and `navigator.credentials.create()` / `.get()` in the browser.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::exit;
use std::sync::Arc;

use passkey::authenticator::{
    Authenticator as SoftAuthenticator, UiHint, UserCheck, UserValidationMethod,
};
use passkey::client::{Client, DefaultClientData};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey::types::Passkey;
use passkey::types::ctap2::{Aaguid, Ctap2Error};
use passkey::types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};

use authcore::credential::FactorKind;
use authcore::otp::{Clock, ManualClock, SystemClock};
use authcore::policy::{Aal, Factor};
use authcore::service::PasskeyRegistration;
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{
    Authenticator, BearerToken, LoginStep, MemoryStore, Password, ServiceConfig, Services,
};

const ORIGIN: &str = "https://example.com";
const PW: &str = "correct horse battery staple 42";

type Service =
    Authenticator<Services<MemoryStore, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>>>;

fn check(ok: bool, what: &str) {
    if ok {
        println!("   ✓ {what}");
    } else {
        eprintln!("   ✗ {what}: not as narrated");
        exit(1);
    }
}

/// The person at the device: touches it and enters its PIN whenever asked.
struct Willing;

#[async_trait::async_trait]
impl UserValidationMethod for Willing {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Self::PasskeyItem>,
        _presence: bool,
        _verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence: true,
            verification: true,
        })
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }
}

/// The browser and Ada's device: a WebAuthn client over a software authenticator.
struct Device {
    client:
        Client<Option<Passkey>, Willing, RustCryptoBackend, public_suffix::PublicSuffixList, ()>,
}

impl Device {
    fn new() -> Self {
        let authenticator =
            SoftAuthenticator::new(Aaguid::new_empty(), None, Willing, RustCryptoBackend);
        Self {
            client: Client::new(authenticator),
        }
    }

    /// `navigator.credentials.create(options)`.
    async fn create(&mut self, options: &str) -> String {
        let options: CredentialCreationOptions = serde_json::from_str(options).unwrap();
        let origin = url::Url::parse(ORIGIN).unwrap();
        let created = self
            .client
            .register(&origin, options, DefaultClientData)
            .await
            .unwrap();
        serde_json::to_string(&created).unwrap()
    }

    /// `navigator.credentials.get(options)`.
    async fn get(&mut self, options: &str) -> String {
        let options: CredentialRequestOptions = serde_json::from_str(options).unwrap();
        let origin = url::Url::parse(ORIGIN).unwrap();
        let asserted = self
            .client
            .authenticate(&origin, options, DefaultClientData)
            .await
            .unwrap();
        serde_json::to_string(&asserted).unwrap()
    }
}

fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().expect("a pending step").expose_secret()).unwrap()
}

#[tokio::main]
async fn main() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    // The relying party: the site's domain, its name, and the origins its pages run on. A wrong
    // origin or RP id is refused here, at build().
    let config = ServiceConfig::builder("Example Co")
        .passkeys("example.com", "Example Co", &[ORIGIN])
        .build()
        .unwrap();
    let backend = Services::new(
        MemoryStore::new(),
        MemoryAuditLog::new(),
        RecordingNotifier::new(),
    )
    .unwrap()
    .with_clock(Arc::clone(&clock));
    let auth: Service = Authenticator::new(backend, config);
    let mut device = Device::new();

    println!("1. Ada signs up and signs in with her password.");
    let up = auth
        .sign_up("ada@example.com", Password::from(PW))
        .await
        .unwrap();
    let org = up.org;
    let step = auth
        .login_to(org, "ada@example.com", Password::from(PW))
        .await
        .unwrap();
    let session = step.into_session().expect("no second factor yet");
    check(
        session.grant.aal() == Aal::Aal1,
        "a password-only session (AAL1)",
    );

    println!("2. She registers a passkey: her first factor, so recovery codes come with it.");
    let options = auth
        .start_passkey_registration(&session.grant, "Laptop")
        .await
        .unwrap();
    let response = device.create(&options).await;
    let registered = auth
        .finish_passkey_registration(&session.grant, &response)
        .await
        .unwrap();
    let PasskeyRegistration::AwaitingAcknowledgement { recovery_codes, .. } = registered else {
        eprintln!("expected recovery codes with the first passkey");
        exit(1);
    };
    println!("   {} recovery codes, shown once:", recovery_codes.len());
    for code in recovery_codes.iter() {
        println!("     {}", code.expose_secret());
    }
    let token = session.token.expose_secret().to_string();
    let (info, session) = auth.acknowledge_passkey_in_session(&token).await.unwrap();
    check(
        session.grant.aal() == Aal::Aal2,
        &format!(
            "\"I have safely recorded them\": the passkey \"{}\" counts, the session is AAL2",
            info.name
        ),
    );

    println!("3. Next sign-in: the password, then the passkey as the second factor.");
    clock.advance(60);
    let step = auth
        .login_to(org, "ada@example.com", Password::from(PW))
        .await
        .unwrap();
    let offered = matches!(&step, LoginStep::SecondFactor { factors, .. }
        if factors.contains(FactorKind::Passkey) && factors.contains(FactorKind::RecoveryCode));
    check(offered, "the passkey (or a recovery code) is asked for");
    let t = ticket(&step);
    let options = auth.start_passkey_login(org, &t).await.unwrap();
    let assertion = device.get(&options).await;
    let step = auth
        .finish_passkey_login(org, &t, &assertion)
        .await
        .unwrap();
    check(
        step.grant().is_some_and(|g| g.aal() == Aal::Aal2),
        "signed in at AAL2",
    );

    println!("4. Passwordless: the device picks the passkey and asks for its PIN.");
    clock.advance(60);
    let (options, attempt) = auth.start_passwordless_login().await.unwrap();
    let assertion = device.get(&options).await;
    let step = auth
        .finish_passwordless_login_to(org, &attempt, &assertion)
        .await
        .unwrap();
    let session = step.into_session().expect("signed in");
    check(
        session.grant.aal() == Aal::Aal2
            && session.grant.factors().contains(Factor::UserVerified)
            && !session.grant.factors().contains(Factor::Password),
        "signed in at AAL2 with no password: the passkey verified her",
    );
    check(
        auth.finish_passwordless_login_to(org, &attempt, &assertion)
            .await
            .is_err(),
        "the same assertion replayed is refused",
    );

    println!("5. Ten minutes later she removes the passkey: a sensitive change, so she steps up.");
    clock.advance(10 * 60);
    let id = auth
        .passkeys(&session.grant)
        .await
        .unwrap()
        .first()
        .expect("her passkey")
        .credential_id
        .clone();
    check(
        auth.remove_passkey(&session.grant, &id).await.is_err(),
        "refused on a session verified ten minutes ago",
    );
    let token = session.token.expose_secret().to_string();
    let options = auth.start_passkey_reauthentication(&token).await.unwrap();
    let assertion = device.get(&options).await;
    let fresh = auth
        .reauthenticate_session_with_passkey(&token, Password::from(PW), &assertion)
        .await
        .unwrap();
    check(
        auth.authenticate(&token).await.is_err(),
        "the step-up rotated the session's token",
    );
    auth.remove_passkey(&fresh.grant, &id).await.unwrap();
    check(
        auth.passkeys(&fresh.grant).await.unwrap().is_empty(),
        "the passkey is gone, with the recovery codes issued with it",
    );
    let step = auth
        .login_to(org, "ada@example.com", Password::from(PW))
        .await
        .unwrap();
    check(
        step.grant().is_some(),
        "her next sign-in is the password alone",
    );
    println!("All steps behaved as narrated.");
}
