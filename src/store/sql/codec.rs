//! The stored forms of values: ids as 16 big-endian bytes, numbers as signed 64-bit columns,
//! enumerations as their names, throttle keys and send logs, and JSON text (ids in it as their text
//! form; the number form of earlier versions is still read, see `legacy.rs`).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::credential::factor::ThrottledFactor;
use crate::credential::oob::OobSendLog;
use crate::credential::sealing::Keyring;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::PasswordState;
use crate::store::records::{
    AccountTokenPurpose, OobPurpose, PendingStep, RecoverySlot, ThrottleKey,
};
use crate::store::sql::error::SqlStoreError;
use crate::store::sql::legacy::StoredJson;

pub(crate) fn person_bytes(id: PersonId) -> Vec<u8> {
    id.get().to_be_bytes().to_vec()
}

pub(crate) fn org_bytes(id: OrgId) -> Vec<u8> {
    id.get().to_be_bytes().to_vec()
}

pub(crate) fn decode_u128(bytes: &[u8], table: &'static str) -> Result<u128, SqlStoreError> {
    let bytes: [u8; 16] = bytes.try_into().map_err(|_| SqlStoreError::Decode {
        table,
        reason: "an id is not 16 bytes",
    })?;
    Ok(u128::from_be_bytes(bytes))
}

/// The stored form of an out-of-band send log's times (the `sends` column): oldest first, as
/// big-endian `u64`s (8 bytes each). Equal logs encode to equal bytes, so the column can be
/// compared; the day window has its own two columns.
pub(crate) fn send_log_bytes(log: &OobSendLog) -> Vec<u8> {
    log.sends().iter().flat_map(|t| t.to_be_bytes()).collect()
}

pub(crate) fn send_log_from(
    bytes: &[u8],
    day_start: i64,
    day_sends: i64,
) -> Result<OobSendLog, SqlStoreError> {
    let bad = |reason| SqlStoreError::Decode {
        table: "oob_send_budgets",
        reason,
    };
    let day_start = u64::try_from(day_start).map_err(|_| bad("a negative day start"))?;
    let day_sends = u32::try_from(day_sends).map_err(|_| bad("a day count out of range"))?;
    let (chunks, rest) = bytes.as_chunks::<8>();
    if !rest.is_empty() {
        return Err(bad("the send times are not 8 bytes each"));
    }
    let times: Vec<u64> = chunks.iter().map(|c| u64::from_be_bytes(*c)).collect();
    OobSendLog::from_parts(&times, day_start, day_sends).map_err(|_| bad("too many send times"))
}

pub(crate) fn to_i64(value: u64, what: &'static str) -> Result<i64, SqlStoreError> {
    i64::try_from(value).map_err(|_| SqlStoreError::OutOfRange(what))
}

pub(crate) fn to_u64(value: i64, table: &'static str) -> Result<u64, SqlStoreError> {
    u64::try_from(value).map_err(|_| SqlStoreError::Decode {
        table,
        reason: "a negative number",
    })
}

pub(crate) fn factor_name(factor: ThrottledFactor) -> &'static str {
    match factor {
        ThrottledFactor::Password => "password",
        ThrottledFactor::Totp => "totp",
        ThrottledFactor::RecoveryCode => "recovery_code",
        ThrottledFactor::OutOfBand => "out_of_band",
        #[cfg(feature = "passkeys")]
        ThrottledFactor::Passkey => "passkey",
    }
}

/// The stored form of a throttle key: `login:` and the lower-case hex of a keyed digest of the
/// normalised login ([`login_key_text`]), or `person:`, the person's id in lower-case hex, `:`
/// and the factor (the form migration 0004 writes).
pub(crate) fn throttle_key_text(keyring: &Keyring, key: &ThrottleKey) -> String {
    match key {
        ThrottleKey::Login(login) => login_key_text(keyring, login.as_str()),
        ThrottleKey::ResetLogin(login) => {
            keyed_key_text(keyring, "reset:", RESET_THROTTLE_LABEL, login.as_str())
        }
        ThrottleKey::Requester(requester) => {
            keyed_key_text(keyring, "requester:", REQUESTER_THROTTLE_LABEL, requester)
        }
        ThrottleKey::Factor(person, factor) => {
            alloc::format!("person:{:032x}:{}", person.get(), factor_name(*factor))
        }
    }
}

/// The stored key of a login name's password counter. The name is never stored: counters are
/// kept for names nobody holds too (a mistyped login, a password typed into the login field),
/// so the key is `login:` and a keyed digest of the name under the current sealing key. A key
/// rotation therefore starts every login counter afresh (the old rows are pruned once forgotten).
pub(crate) fn login_key_text(keyring: &Keyring, login: &str) -> String {
    let digest = keyring.keyed_digest(LOGIN_THROTTLE_LABEL, login.as_bytes());
    let mut text = String::with_capacity(6 + 64);
    text.push_str("login:");
    for byte in digest {
        let _ = fmt::Write::write_fmt(&mut text, format_args!("{byte:02x}"));
    }
    text
}

/// The label of the key that digests login names for their throttle counters.
const LOGIN_THROTTLE_LABEL: &str = "authcore/throttle-login/v1";

/// The label of the key that digests login names for their password-reset counters.
const RESET_THROTTLE_LABEL: &str = "authcore/throttle-reset/v1";

/// The label of the key that digests requesters (the host's client keys, IP addresses say) for
/// their password-reset counters.
const REQUESTER_THROTTLE_LABEL: &str = "authcore/throttle-requester/v1";

/// `prefix` and the lower-case hex of a keyed digest of `value` under `label`: a counter key
/// that never stores the value.
fn keyed_key_text(keyring: &Keyring, prefix: &str, label: &str, value: &str) -> String {
    let digest = keyring.keyed_digest(label, value.as_bytes());
    let mut text = String::with_capacity(prefix.len().saturating_add(64));
    text.push_str(prefix);
    for byte in digest {
        let _ = fmt::Write::write_fmt(&mut text, format_args!("{byte:02x}"));
    }
    text
}

pub(crate) fn account_purpose_name(purpose: AccountTokenPurpose) -> &'static str {
    match purpose {
        AccountTokenPurpose::PasswordReset => "password_reset",
        AccountTokenPurpose::VerifyAddress => "verify_address",
        AccountTokenPurpose::ChangeAddress => "change_address",
    }
}

pub(crate) fn account_purpose_from(name: &str) -> Result<AccountTokenPurpose, SqlStoreError> {
    match name {
        "password_reset" => Ok(AccountTokenPurpose::PasswordReset),
        "verify_address" => Ok(AccountTokenPurpose::VerifyAddress),
        "change_address" => Ok(AccountTokenPurpose::ChangeAddress),
        _ => Err(SqlStoreError::Decode {
            table: "account_tokens",
            reason: "unknown token purpose",
        }),
    }
}

pub(crate) fn slot_name(slot: RecoverySlot) -> &'static str {
    match slot {
        RecoverySlot::Active => "active",
        RecoverySlot::Pending => "pending",
    }
}

pub(crate) fn purpose_name(purpose: OobPurpose) -> &'static str {
    match purpose {
        OobPurpose::SignIn => "sign_in",
        OobPurpose::VerifyPhone => "verify_phone",
    }
}

pub(crate) fn password_state_name(state: PasswordState) -> &'static str {
    match state {
        PasswordState::Current => "current",
        PasswordState::Temporary => "temporary",
        PasswordState::Compromised => "compromised",
    }
}

pub(crate) fn password_state_from(name: &str) -> Result<PasswordState, SqlStoreError> {
    match name {
        "current" => Ok(PasswordState::Current),
        "temporary" => Ok(PasswordState::Temporary),
        "compromised" => Ok(PasswordState::Compromised),
        _ => Err(SqlStoreError::Decode {
            table: "people",
            reason: "unknown password state",
        }),
    }
}

pub(crate) fn step_name(step: PendingStep) -> &'static str {
    match step {
        PendingStep::ChangePassword => "change_password",
        PendingStep::EnrollMfa => "enrol_mfa",
        PendingStep::SecondFactor => "second_factor",
        PendingStep::ChooseOrganisation => "choose_organisation",
    }
}

pub(crate) fn step_from(name: &str) -> Result<PendingStep, SqlStoreError> {
    match name {
        "change_password" => Ok(PendingStep::ChangePassword),
        "enrol_mfa" => Ok(PendingStep::EnrollMfa),
        "second_factor" => Ok(PendingStep::SecondFactor),
        "choose_organisation" => Ok(PendingStep::ChooseOrganisation),
        _ => Err(SqlStoreError::Decode {
            table: "tickets",
            reason: "unknown pending step",
        }),
    }
}

pub(crate) fn to_json<T: serde::Serialize>(
    value: &T,
    table: &'static str,
) -> Result<String, SqlStoreError> {
    serde_json::to_string(value).map_err(|_| SqlStoreError::Decode {
        table,
        reason: "the value does not serialise",
    })
}

/// Decodes a stored JSON state: its current form, or else a form an earlier version wrote (ids as
/// numbers, see `legacy.rs`).
pub(crate) fn from_json<T: StoredJson>(
    text: &str,
    table: &'static str,
) -> Result<T, SqlStoreError> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| T::from_earlier_form(text))
        .ok_or(SqlStoreError::Decode {
            table,
            reason: "the stored JSON does not decode",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pending_step_round_trips_by_a_name_of_its_own() {
        let steps = [
            PendingStep::ChangePassword,
            PendingStep::EnrollMfa,
            PendingStep::SecondFactor,
            PendingStep::ChooseOrganisation,
        ];
        for step in steps {
            assert_eq!(step_from(step_name(step)).unwrap(), step);
        }
        let mut names: Vec<&str> = steps.iter().map(|s| step_name(*s)).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), steps.len());
        assert!(step_from("choose_org").is_err());
    }
}
