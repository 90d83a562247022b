//! [`Ceremonies`]: registration and authentication of a security key or passkey as a second
//! factor, with the states the server keeps between a ceremony's start and its finish.
//!
//! As a second factor the ceremonies ask for user verification *preferred* (WebAuthn Level 3
//! §5.8.6; `webauthn-rs`'s security-key ceremonies): the password already is the
//! first factor, and refusing keys without a PIN would lock out most security keys. Whether the
//! authenticator verified the user is reported ([`PasskeyUse::user_verified`]) for the audit.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PublicKeyCredential, RegisterPublicKeyCredential, SecurityKey,
    SecurityKeyAuthentication, SecurityKeyRegistration, Uuid, WebauthnBuilder, WebauthnError,
};

use super::error::{PasskeyConfigError, PasskeyError};
use super::{options::passkey_options, relying_party::RelyingParty};

/// The longest browser response a ceremony parses (a registration with attestation is a few
/// kilobytes; anything longer is refused unread).
const MAX_RESPONSE: usize = 64 * 1024;

/// A person's WebAuthn user handle (§5.4.3 `user.id`): 16 random bytes made once per person,
/// never derived from their login or id, so an authenticator's stored handle tells a stranger
/// nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserHandle([u8; 16]);

impl UserHandle {
    /// A new random handle.
    pub fn generate() -> Result<Self, PasskeyError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| PasskeyError::Random)?;
        Ok(Self(bytes))
    }

    /// A stored handle.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The handle's bytes, for storage.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for UserHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserHandle(..)")
    }
}

macro_rules! server_side_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Server-side only: it is stored between the ceremony's start and finish (or with the
        /// credential) and never sent to the browser. Its `Debug` prints a redaction.
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// The stored form.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A state read back from the store; checked when it is used.
            pub const fn from_stored(text: String) -> Self {
                Self(text)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }
    };
}

server_side_text!(
    /// The state of a started registration: the challenge, the user handle, the credentials to
    /// exclude and the policy.
    RegistrationState
);
server_side_text!(
    /// The state of a started authentication: the challenge and the credentials allowed.
    AuthenticationState
);
server_side_text!(
    /// A registered credential as the relying party keeps it: its id, public key, signature
    /// counter and backup flags (`webauthn-rs`'s `SecurityKey`, as JSON).
    CredentialKey
);

/// A credential that finished registration.
#[derive(Clone, Debug)]
pub struct RegisteredKey {
    /// The credential id (unique across people: the store refuses a second owner).
    pub credential_id: Vec<u8>,
    /// The credential, to store.
    pub key: CredentialKey,
    /// The signature counter at registration (0 for most passkeys, which keep none).
    pub counter: u32,
    /// Whether the credential may be backed up (synced) (§6.1 flag BE).
    pub backup_eligible: bool,
    /// Whether it is backed up now (§6.1 flag BS).
    pub backup_state: bool,
}

/// What a verified assertion reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasskeyUse {
    /// The signature counter the authenticator reported.
    pub counter: u32,
    /// Whether the authenticator verified the user (PIN or biometrics, §6.1 flag UV).
    pub user_verified: bool,
    /// Whether the credential may be backed up (flag BE).
    pub backup_eligible: bool,
    /// Whether it is backed up now (flag BS).
    pub backup_state: bool,
}

impl PasskeyUse {
    /// Whether this use may be recorded over a stored counter (§7.2 step 22): the counter moved
    /// forward, or the credential keeps no counter at all (both zero). Anything else is a
    /// possible clone.
    pub const fn advances(&self, stored: u32) -> bool {
        self.counter > stored || (self.counter == 0 && stored == 0)
    }
}

/// The relying party's ceremonies. Built once from a checked [`RelyingParty`].
#[derive(Clone)]
pub struct Ceremonies {
    relying_party: RelyingParty,
    webauthn: Webauthn,
}

impl fmt::Debug for Ceremonies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ceremonies")
            .field("relying_party", &self.relying_party)
            .finish_non_exhaustive()
    }
}

impl Ceremonies {
    /// The ceremonies of `relying_party`.
    pub fn new(relying_party: RelyingParty) -> Result<Self, PasskeyConfigError> {
        let (first, rest) = relying_party
            .origin_urls()
            .split_first()
            .ok_or(PasskeyConfigError::NoOrigin)?;
        let mut builder = WebauthnBuilder::new(relying_party.id(), first)
            .map_err(|_| PasskeyConfigError::OriginOutsideRpId)?
            .rp_name(relying_party.name());
        for origin in rest {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder
            .build()
            .map_err(|_| PasskeyConfigError::OriginOutsideRpId)?;
        Ok(Self {
            relying_party,
            webauthn,
        })
    }

    /// The relying party.
    pub fn relying_party(&self) -> &RelyingParty {
        &self.relying_party
    }

    /// Starts a registration for the person with `user`: the creation options for the browser's
    /// `navigator.credentials.create()` (JSON), and the state to keep server-side. `exclude`
    /// lists the person's registered credential ids, so the same authenticator is not
    /// registered twice (§5.4 `excludeCredentials`).
    pub fn start_registration(
        &self,
        user: UserHandle,
        login: &str,
        display_name: &str,
        exclude: Vec<Vec<u8>>,
    ) -> Result<(String, RegistrationState), PasskeyError> {
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let (options, state) = self
            .webauthn
            .start_securitykey_registration(
                Uuid::from_bytes(user.0),
                login,
                display_name,
                exclude,
                None,
                None,
            )
            .map_err(|_| PasskeyError::Random)?;
        let options =
            serde_json::to_string(&passkey_options(options)).map_err(|_| PasskeyError::Random)?;
        let state = serde_json::to_string(&state).map_err(|_| PasskeyError::Random)?;
        Ok((options, RegistrationState(state)))
    }

    /// Verifies the browser's registration response (`PublicKeyCredential` as JSON) against
    /// `state` (§7.1).
    pub fn finish_registration(
        &self,
        state: &RegistrationState,
        response: &str,
    ) -> Result<RegisteredKey, PasskeyError> {
        let state: SecurityKeyRegistration =
            serde_json::from_str(&state.0).map_err(|_| PasskeyError::Stored)?;
        let response: RegisterPublicKeyCredential = parse(response)?;
        let key = self
            .webauthn
            .finish_securitykey_registration(&response, &state)
            .map_err(|_| PasskeyError::Rejected)?;
        registered(&key)
    }

    /// Starts an authentication with the person's credentials: the request options for
    /// `navigator.credentials.get()` (JSON), and the state to keep server-side.
    pub fn start_authentication(
        &self,
        keys: &[CredentialKey],
    ) -> Result<(String, AuthenticationState), PasskeyError> {
        let keys = keys.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self
            .webauthn
            .start_securitykey_authentication(&keys)
            .map_err(|_| PasskeyError::Random)?;
        let options = serde_json::to_string(&options).map_err(|_| PasskeyError::Random)?;
        let state = serde_json::to_string(&state).map_err(|_| PasskeyError::Random)?;
        Ok((options, AuthenticationState(state)))
    }

    /// Verifies the browser's assertion (JSON) against `state` (§7.2): the challenge, origin,
    /// RP id hash, flags, the signature with one of the allowed credentials, and the counter as
    /// the state saw it. Returns the credential id used and what it reported.
    pub fn finish_authentication(
        &self,
        state: &AuthenticationState,
        response: &str,
    ) -> Result<(Vec<u8>, PasskeyUse), PasskeyError> {
        let state: SecurityKeyAuthentication =
            serde_json::from_str(&state.0).map_err(|_| PasskeyError::Stored)?;
        let response: PublicKeyCredential = parse(response)?;
        let result = self
            .webauthn
            .finish_securitykey_authentication(&response, &state)
            .map_err(|e| match e {
                WebauthnError::CredentialPossibleCompromise => PasskeyError::CounterRegression,
                _ => PasskeyError::Rejected,
            })?;
        let used = PasskeyUse {
            counter: result.counter(),
            user_verified: result.user_verified(),
            backup_eligible: result.backup_eligible(),
            backup_state: result.backup_state(),
        };
        Ok((result.cred_id().to_vec(), used))
    }
}

impl Ceremonies {
    /// Starts a passwordless sign-in with a discoverable credential (WebAuthn Level 3 §7.2 with
    /// an empty `allowCredentials`): the request options for `navigator.credentials.get()`
    /// (JSON, user verification *required*, conditional mediation) and the state to keep
    /// server-side. Nobody is named: the authenticator picks the credential, and its user
    /// handle says whose it is.
    pub fn start_passwordless(&self) -> Result<(String, AuthenticationState), PasskeyError> {
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|_| PasskeyError::Random)?;
        let options = serde_json::to_string(&options).map_err(|_| PasskeyError::Random)?;
        let state = serde_json::to_string(&state).map_err(|_| PasskeyError::Random)?;
        Ok((options, AuthenticationState(state)))
    }

    /// The user handle and credential id a passwordless assertion claims, read before it is
    /// verified (to find the credential to verify it with).
    pub fn identify_passwordless(
        &self,
        response: &str,
    ) -> Result<(UserHandle, Vec<u8>), PasskeyError> {
        let response: PublicKeyCredential = parse(response)?;
        let (handle, id) = self
            .webauthn
            .identify_discoverable_authentication(&response)
            .map_err(|_| PasskeyError::Rejected)?;
        Ok((UserHandle(*handle.as_bytes()), id.to_vec()))
    }

    /// Verifies a passwordless assertion against `state` and the credential `key` it claims:
    /// the challenge, origin, RP id, the signature, and user verification (required).
    pub fn finish_passwordless(
        &self,
        state: &AuthenticationState,
        response: &str,
        key: &CredentialKey,
    ) -> Result<(Vec<u8>, PasskeyUse), PasskeyError> {
        let state: DiscoverableAuthentication =
            serde_json::from_str(&state.0).map_err(|_| PasskeyError::Stored)?;
        let response: PublicKeyCredential = parse(response)?;
        let key = decode(key)?;
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&response, state, &key)
            .map_err(|e| match e {
                WebauthnError::CredentialPossibleCompromise => PasskeyError::CounterRegression,
                _ => PasskeyError::Rejected,
            })?;
        if !result.user_verified() {
            return Err(PasskeyError::Rejected);
        }
        let used = PasskeyUse {
            counter: result.counter(),
            user_verified: true,
            backup_eligible: result.backup_eligible(),
            backup_state: result.backup_state(),
        };
        Ok((result.cred_id().to_vec(), used))
    }
}

/// `key` with the counter and backup flags of `used` recorded (the counter only moves forward).
pub fn updated_key(key: &CredentialKey, used: &PasskeyUse) -> Result<CredentialKey, PasskeyError> {
    let mut value: serde_json::Value =
        serde_json::from_str(&key.0).map_err(|_| PasskeyError::Stored)?;
    let cred = value
        .get_mut("cred")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or(PasskeyError::Stored)?;
    let stored = cred
        .get("counter")
        .and_then(serde_json::Value::as_u64)
        .ok_or(PasskeyError::Stored)?;
    let counter = stored.max(u64::from(used.counter));
    cred.insert("counter".into(), counter.into());
    cred.insert("backup_state".into(), used.backup_state.into());
    if used.backup_eligible {
        cred.insert("backup_eligible".into(), true.into());
    }
    let text = serde_json::to_string(&value).map_err(|_| PasskeyError::Stored)?;
    // Decoding it back checks the result is still a credential.
    let key = CredentialKey(text);
    decode(&key)?;
    Ok(key)
}

/// Parses a browser response, bounded in size.
fn parse<T: serde::de::DeserializeOwned>(response: &str) -> Result<T, PasskeyError> {
    if response.len() > MAX_RESPONSE {
        return Err(PasskeyError::Malformed);
    }
    serde_json::from_str(response).map_err(|_| PasskeyError::Malformed)
}

fn decode(key: &CredentialKey) -> Result<SecurityKey, PasskeyError> {
    serde_json::from_str(&key.0).map_err(|_| PasskeyError::Stored)
}

/// The stored form of a new credential, with the counter and flags read from it.
fn registered(key: &SecurityKey) -> Result<RegisteredKey, PasskeyError> {
    let value = serde_json::to_value(key).map_err(|_| PasskeyError::Stored)?;
    let cred = value.get("cred").ok_or(PasskeyError::Stored)?;
    let flag = |name: &str| cred.get(name).and_then(serde_json::Value::as_bool);
    let counter = cred
        .get("counter")
        .and_then(serde_json::Value::as_u64)
        .and_then(|c| u32::try_from(c).ok())
        .ok_or(PasskeyError::Stored)?;
    let text = serde_json::to_string(&value).map_err(|_| PasskeyError::Stored)?;
    Ok(RegisteredKey {
        credential_id: key.cred_id().to_vec(),
        key: CredentialKey(text),
        counter,
        backup_eligible: flag("backup_eligible").ok_or(PasskeyError::Stored)?,
        backup_state: flag("backup_state").ok_or(PasskeyError::Stored)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn used(counter: u32) -> PasskeyUse {
        PasskeyUse {
            counter,
            user_verified: false,
            backup_eligible: false,
            backup_state: false,
        }
    }

    #[test]
    fn a_use_advances_a_counter_only_forwards_or_when_neither_counts() {
        assert!(used(5).advances(4));
        assert!(used(5).advances(0));
        assert!(used(1).advances(0));
        assert!(used(0).advances(0));
        assert!(!used(5).advances(5));
        assert!(!used(4).advances(5));
        assert!(!used(0).advances(5));
        assert!(!used(0).advances(1));
        assert!(used(u32::MAX).advances(u32::MAX - 1));
    }

    #[test]
    fn server_side_values_read_back_and_print_redacted() {
        let handle = UserHandle::from_bytes([7; 16]);
        assert_eq!(handle.as_bytes(), &[7; 16]);
        assert_eq!(format!("{handle:?}"), "UserHandle(..)");
        assert_ne!(
            UserHandle::generate().unwrap(),
            UserHandle::generate().unwrap()
        );
        let state = RegistrationState::from_stored(String::from("{\"a\":1}"));
        assert_eq!(state.as_str(), "{\"a\":1}");
        assert_eq!(format!("{state:?}"), "RegistrationState([REDACTED])");
        let state = AuthenticationState::from_stored(String::from("{}"));
        assert_eq!(state.as_str(), "{}");
        assert_eq!(format!("{state:?}"), "AuthenticationState([REDACTED])");
        let key = CredentialKey::from_stored(String::from("k"));
        assert_eq!(key.as_str(), "k");
        assert_eq!(format!("{key:?}"), "CredentialKey([REDACTED])");
    }

    #[test]
    fn ceremonies_show_their_relying_party() {
        let rp = RelyingParty::new("example.com", "Example", &["https://example.com"]).unwrap();
        let ceremonies = Ceremonies::new(rp.clone()).unwrap();
        assert_eq!(ceremonies.relying_party(), &rp);
        let shown = format!("{ceremonies:?}");
        assert!(
            shown.starts_with("Ceremonies { relying_party: RelyingParty { id: \"example.com\""),
            "{shown}"
        );
        assert!(shown.ends_with(", .. }"), "{shown}");
    }

    #[test]
    fn a_response_is_read_up_to_its_limit() {
        // Whitespace around JSON is allowed: a value padded to the limit parses, one byte more
        // is refused unread.
        let at = |len: usize| format!("{{}}{}", " ".repeat(len - 2));
        let value: serde_json::Value = parse(&at(MAX_RESPONSE)).unwrap();
        assert_eq!(value, serde_json::json!({}));
        assert_eq!(
            parse::<serde_json::Value>(&at(MAX_RESPONSE + 1)).unwrap_err(),
            PasskeyError::Malformed
        );
        assert_eq!(MAX_RESPONSE, 65_536);
    }

    #[test]
    fn stored_keys_that_do_not_decode_are_refused() {
        let bad = CredentialKey::from_stored(String::from("{}"));
        assert_eq!(decode(&bad).unwrap_err(), PasskeyError::Stored);
        assert_eq!(
            updated_key(&bad, &used(1)).unwrap_err(),
            PasskeyError::Stored
        );
        let no_counter = CredentialKey::from_stored(String::from("{\"cred\":{}}"));
        assert_eq!(
            updated_key(&no_counter, &used(1)).unwrap_err(),
            PasskeyError::Stored
        );
    }
}
