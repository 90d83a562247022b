//! Passkeys and security keys (WebAuthn Level 3) as a phishing-resistant second factor, over
//! Kanidm's `webauthn-rs` (feature `passkeys`; no verification is written here by hand).
//!
//! | module | idea |
//! |---|---|
//! | `relying_party` | the relying party (RP id, name, allowed origins), checked once at configuration |
//! | `ceremony` | the registration and authentication ceremonies, with their server-side states |
//! | `options` | the creation options a browser gets, shaped for a passkey that may sign in alone |
//! | `error` | what a ceremony or the configuration can fail with |
//!
//! A ceremony's state ([`RegistrationState`], [`AuthenticationState`]) holds the challenge the
//! browser must sign; it is serialised only for the server-side store (the crate's one use of
//! `webauthn-rs`'s `danger-allow-state-serialisation` feature), never sent to the browser.

mod ceremony;
mod error;
mod options;
mod relying_party;

pub use ceremony::{
    AuthenticationState, Ceremonies, CredentialKey, PasskeyUse, RegisteredKey, RegistrationState,
    UserHandle, updated_key,
};
pub use error::{PasskeyConfigError, PasskeyError};
pub use relying_party::RelyingParty;
