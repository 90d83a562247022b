//! The sealing of a person's MFA state (which holds the authenticator secrets) for storage.

use alloc::vec::Vec;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::credential::sealing::{Keyring, OpenError, SealContext};
use crate::otp::secret::SecretKey;
use crate::policy::enrollment::Mfa;
use crate::policy::ids::PersonId;
use crate::policy::server_side::ServerSideOnly;
use crate::store::sql::error::SqlStoreError;

/// The label of the context the MFA state was sealed under before schema version 6: bound to the
/// person only. Read once, by the migration to version 6, which seals every state again under
/// [`MFA_STATE_LABEL`].
pub(crate) const LEGACY_MFA_STATE_LABEL: &str = "authcore/mfa-state/v1";

/// The label of the context the MFA state is sealed under: bound to the person and the row's
/// version.
pub(crate) const MFA_STATE_LABEL: &str = "authcore/mfa-state/v2";

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const DATA_KEY_LEN: usize = 32;

/// The context of a person's MFA state stored at `version`.
pub(crate) fn mfa_context(person: PersonId, version: u64) -> SealContext {
    SealContext::new(MFA_STATE_LABEL)
        .with(b"person", &person.get().to_be_bytes())
        .with(b"version", &version.to_be_bytes())
}

/// The context a state was sealed under before schema version 6 (see [`LEGACY_MFA_STATE_LABEL`]).
pub(crate) fn legacy_mfa_context(person: PersonId) -> SealContext {
    SealContext::new(LEGACY_MFA_STATE_LABEL).with(b"person", &person.get().to_be_bytes())
}

fn random(out: &mut [u8]) -> Result<(), SqlStoreError> {
    getrandom::fill(out).map_err(|_| SqlStoreError::Seal(crate::error::Error::Random))
}

/// The sealed form of a person's MFA state: `(state_key, state)`.
///
/// The serialised state holds the authenticator secrets, and is longer than the keyring seals in
/// one value, so it is sealed in two layers: a fresh 256-bit data key seals the serialised state
/// (XChaCha20-Poly1305, `state` = nonce ‖ ciphertext ‖ tag), and the keyring seals the data key
/// (`state_key`, a [`crate::credential::sealing::SealedSecret`] naming the key id for rotation). Both layers are bound
/// to the person and to the row's `version` as associated data, so a row copied to another
/// person does not open, nor does a sealed state put back beside another version number.
pub(crate) fn seal_mfa(
    keyring: &Keyring,
    person: PersonId,
    version: u64,
    mfa: &Mfa,
) -> Result<(Vec<u8>, Vec<u8>), SqlStoreError> {
    seal_mfa_in(keyring, &mfa_context(person, version), mfa)
}

/// Seals an MFA state under `context` (see [`seal_mfa`]).
pub(crate) fn seal_mfa_in(
    keyring: &Keyring,
    context: &SealContext,
    mfa: &Mfa,
) -> Result<(Vec<u8>, Vec<u8>), SqlStoreError> {
    let mut json = Zeroizing::new(Vec::with_capacity(2048));
    serde_json::to_writer(&mut *json, &ServerSideOnly::new(mfa)).map_err(|_| {
        SqlStoreError::Decode {
            table: "mfa",
            reason: "the MFA state does not serialise",
        }
    })?;
    let mut key_bytes = Zeroizing::new([0u8; DATA_KEY_LEN]);
    random(&mut *key_bytes)?;
    let data_key = SecretKey::from_bytes(&*key_bytes).map_err(|e| SqlStoreError::Seal(e.into()))?;
    let state_key = keyring
        .seal_with_os_rng(&data_key, context)
        .map_err(|e| SqlStoreError::Seal(e.into()))?
        .into_bytes();
    let mut nonce = [0u8; NONCE_LEN];
    random(&mut nonce)?;
    let mut ciphertext = alloc::vec![0u8; json.len()];
    let cipher = XChaCha20Poly1305::new((&*key_bytes).into());
    let buffer = InOutBuf::new(&json, &mut ciphertext)
        .map_err(|_| SqlStoreError::Seal(crate::error::Error::Random))?;
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(nonce), context.associated_data(), buffer)
        .map_err(|_| SqlStoreError::Seal(crate::error::Error::Random))?;
    let mut state = Vec::with_capacity(ciphertext.len().saturating_add(NONCE_LEN + TAG_LEN));
    state.extend_from_slice(&nonce);
    state.extend_from_slice(&ciphertext);
    state.extend_from_slice(&tag);
    Ok((state_key, state))
}

/// Opens what [`seal_mfa`] wrote for `person` at `version`. A value that does not open is
/// [`SqlStoreError::Open`].
pub(crate) fn open_mfa(
    keyring: &Keyring,
    person: PersonId,
    version: u64,
    state_key: &[u8],
    state: &[u8],
) -> Result<Mfa, SqlStoreError> {
    open_mfa_in(
        keyring,
        &mfa_context(person, version),
        person,
        state_key,
        state,
    )
}

/// Opens a sealed MFA state of `person` under `context`.
pub(crate) fn open_mfa_in(
    keyring: &Keyring,
    context: &SealContext,
    person: PersonId,
    state_key: &[u8],
    state: &[u8],
) -> Result<Mfa, SqlStoreError> {
    let open_error = |error| SqlStoreError::Open {
        table: "mfa",
        error,
    };
    let data_key = keyring.open(state_key, context).map_err(open_error)?;
    let (nonce, rest) = state
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(open_error(OpenError::Malformed))?;
    let (ciphertext, tag) = rest
        .split_last_chunk::<TAG_LEN>()
        .ok_or(open_error(OpenError::Malformed))?;
    let key: &[u8; DATA_KEY_LEN] = data_key
        .expose_bytes()
        .try_into()
        .map_err(|_| open_error(OpenError::Malformed))?;
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut json = Zeroizing::new(alloc::vec![0u8; ciphertext.len()]);
    let buffer =
        InOutBuf::new(ciphertext, &mut json).map_err(|_| open_error(OpenError::Malformed))?;
    cipher
        .decrypt_inout_detached(
            &XNonce::from(*nonce),
            context.associated_data(),
            buffer,
            &Tag::from(*tag),
        )
        .map_err(|_| open_error(OpenError::Forged))?;
    let mfa = serde_json::from_slice::<ServerSideOnly<Mfa>>(&json)
        .map_err(|_| SqlStoreError::Decode {
            table: "mfa",
            reason: "the MFA state does not decode",
        })?
        .into_inner();
    if mfa.person() != person {
        return Err(SqlStoreError::Decode {
            table: "mfa",
            reason: "the MFA state belongs to another person",
        });
    }
    Ok(mfa)
}
