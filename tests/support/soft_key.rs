//! A software authenticator behind a WebAuthn client (1Password's `passkey` crate), speaking the
//! JSON a browser would: creation or request options in, a `PublicKeyCredential` out.

use passkey::authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey::client::{Client, DefaultClientData};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey::types::Passkey;
use passkey::types::ctap2::{Aaguid, Ctap2Error};
use passkey::types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
use url::Url;

/// A person who always touches the key and, on a key that verifies users, enters its PIN.
pub struct Willing {
    /// Whether the key verifies the user at all (a PIN or biometrics); a key that does not is
    /// only ever touched (user presence).
    verifies: bool,
}

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
            verification: self.verifies,
        })
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(self.verifies)
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }
}

/// One authenticator holding at most one credential.
pub struct SoftKey {
    verifies: bool,
    client:
        Client<Option<Passkey>, Willing, RustCryptoBackend, public_suffix::PublicSuffixList, ()>,
}

impl Default for SoftKey {
    fn default() -> Self {
        Self::with(true)
    }
}

impl SoftKey {
    /// A key that never verifies the user (no PIN, no biometrics): every assertion it makes
    /// carries user presence only.
    #[allow(dead_code)] // Only the step-up tests hold one.
    pub fn touch_only() -> Self {
        Self::with(false)
    }

    fn with(verifies: bool) -> Self {
        let authenticator = Authenticator::new(
            Aaguid::new_empty(),
            None,
            Willing { verifies },
            RustCryptoBackend,
        );
        Self {
            verifies,
            // The client asks a key that verifies users to do so when the relying party
            // prefers it, and never asks one that cannot.
            client: Client::new(authenticator).user_verification_when_preferred(verifies),
        }
    }

    /// `navigator.credentials.create()` at `origin` with the relying party's options.
    pub async fn create(&mut self, origin: &str, options: &str) -> Result<String, String> {
        let options: CredentialCreationOptions =
            serde_json::from_str(options).map_err(|e| format!("options: {e}"))?;
        let origin = Url::parse(origin).unwrap();
        let created = self
            .client
            .register(&origin, options, DefaultClientData)
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(serde_json::to_string(&created).unwrap())
    }

    /// `navigator.credentials.get()` at `origin` with the relying party's options.
    pub async fn get(&mut self, origin: &str, options: &str) -> Result<String, String> {
        let options: CredentialRequestOptions =
            serde_json::from_str(options).map_err(|e| format!("options: {e}"))?;
        let origin = Url::parse(origin).unwrap();
        let asserted = self
            .client
            .authenticate(&origin, options, DefaultClientData)
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(serde_json::to_string(&asserted).unwrap())
    }

    /// Sets the credential's signature counter (a fresh credential keeps none).
    pub fn set_counter(&mut self, counter: u32) {
        let store = self.client.authenticator_mut().store_mut();
        if let Some(passkey) = store.as_mut() {
            passkey.counter = Some(counter);
        }
    }

    /// A copy of this authenticator, credential included (a cloned key).
    pub fn clone_key(&self) -> Self {
        let copy = self.client.authenticator().store().clone();
        let verifies = self.verifies;
        let authenticator = Authenticator::new(
            Aaguid::new_empty(),
            copy,
            Willing { verifies },
            RustCryptoBackend,
        );
        Self {
            verifies,
            // The client asks a key that verifies users to do so when the relying party
            // prefers it, and never asks one that cannot.
            client: Client::new(authenticator).user_verification_when_preferred(verifies),
        }
    }
}
