//! What the SQLite and PostgreSQL stores share: the error type, the column encodings, the sealing
//! of the MFA state, and one implementation of the storage traits written once over both
//! databases (`sql_store!`). The statements use `$n` parameters, which both drivers accept, and
//! only SQL that both databases run the same way.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::credential::factor::ThrottledFactor;
use crate::credential::oob::OobSendLog;
use crate::credential::sealing::{Keyring, OpenError, SealContext};
use crate::otp::secret::SecretKey;
use crate::policy::enrollment::Mfa;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::PasswordState;
use crate::policy::server_side::ServerSideOnly;
use crate::store::records::{OobPurpose, PendingStep, RecoverySlot, ThrottleKey};

/// A fault of [`SqliteStore`](crate::store::sqlite::SqliteStore) or [`PostgresStore`](crate::store::postgres::PostgresStore).
#[derive(Debug)]
#[non_exhaustive]
pub enum SqlStoreError {
    /// The database failed (connection, constraint, I/O, migration); the driver's error is the
    /// [`source`](std::error::Error::source).
    Database(DatabaseError),
    /// A stored row does not decode (a corrupt or foreign value in `table`).
    Decode {
        /// The table the row came from.
        table: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A sealed value or a row's tag does not open: wrong or missing key, or the row was forged,
    /// altered or copied from another row (see "Integrity at rest" on
    /// [`SqliteStore`](crate::store::sqlite::SqliteStore)). Never treated as "no value".
    Open {
        /// The table the row came from.
        table: &'static str,
        /// Why it does not open.
        error: OpenError,
    },
    /// Sealing a value for storage failed (the operating system's random number generator).
    Seal(crate::error::Error),
    /// A number does not fit its column (the columns are signed 64-bit).
    OutOfRange(&'static str),
    /// A throttle counter or an out-of-band send log changed under every one of many
    /// compare-and-swap attempts.
    Contention,
}

/// A database driver's error, kept as the [`source`](std::error::Error::source) of
/// [`SqlStoreError::Database`].
pub struct DatabaseError(Box<sqlx::Error>);

impl fmt::Debug for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SqlStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Database(_) => f.write_str("the database failed"),
            Self::Decode { table, reason } => {
                write!(f, "a stored row of `{table}` does not decode: {reason}")
            }
            Self::Open { table, error } => {
                write!(f, "a sealed value in `{table}` does not open: {error}")
            }
            Self::Seal(error) => write!(f, "sealing a value for storage failed: {error}"),
            Self::OutOfRange(what) => write!(f, "{what} does not fit a signed 64-bit column"),
            Self::Contention => {
                f.write_str("a throttle counter or send log kept changing under concurrent updates")
            }
        }
    }
}

impl std::error::Error for SqlStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Database(DatabaseError(error)) => Some(&**error),
            Self::Open { error, .. } => Some(error),
            Self::Seal(error) => Some(error),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for SqlStoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(DatabaseError(Box::new(error)))
    }
}

/// How many times [`crate::store::UserStore::apply_throttle`] and
/// [`crate::store::SecretStore::record_oob_send`] retry their compare-and-swap. Each retry
/// means another caller's update applied, so this bounds only pathological contention.
pub(crate) const THROTTLE_ATTEMPTS: u32 = 10_000;

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
    }
}

/// The stored form of a throttle key: `login:` and the lower-case hex of a keyed digest of the
/// normalised login ([`login_key_text`]), or `person:`, the person's id in lower-case hex, `:`
/// and the factor (the form migration 0004 writes).
pub(crate) fn throttle_key_text(keyring: &Keyring, key: &ThrottleKey) -> String {
    match key {
        ThrottleKey::Login(login) => login_key_text(keyring, login.as_str()),
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
    }
}

pub(crate) fn step_from(name: &str) -> Result<PendingStep, SqlStoreError> {
    match name {
        "change_password" => Ok(PendingStep::ChangePassword),
        "enrol_mfa" => Ok(PendingStep::EnrollMfa),
        "second_factor" => Ok(PendingStep::SecondFactor),
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

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    table: &'static str,
) -> Result<T, SqlStoreError> {
    serde_json::from_str(text).map_err(|_| SqlStoreError::Decode {
        table,
        reason: "the stored JSON does not decode",
    })
}

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

/// Runs the embedded migrations not yet applied, each in its own transaction, recording them in
/// `authcore_schema`. `$lock` is a statement run first in each transaction that serialises
/// concurrent migrations. After a script, the store's `upgrade_rows` runs in the same
/// transaction: the upgrades SQL cannot do alone (those that need the keyring).
macro_rules! run_migrations {
    ($store:expr, $migrations:expr, $lock:expr) => {{
        use sqlx::Row as _;
        let store = $store;
        let pool = &store.pool;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS authcore_schema (version BIGINT PRIMARY KEY NOT NULL)",
        )
        .execute(pool)
        .await?;
        for (version, script) in $migrations {
            let mut tx = pool.begin().await?;
            sqlx::query($lock).execute(&mut *tx).await?;
            let applied = sqlx::query("SELECT count(*) FROM authcore_schema WHERE version = $1")
                .bind(version)
                .fetch_one(&mut *tx)
                .await?
                .try_get::<i64, _>(0)?;
            if applied == 0 {
                sqlx::raw_sql(script).execute(&mut *tx).await?;
                store.upgrade_rows(version, &mut tx).await?;
                sqlx::query("INSERT INTO authcore_schema (version) VALUES ($1)")
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }};
}

pub(crate) use run_migrations;

/// Implements [`UserStore`](crate::store::UserStore) and [`SecretStore`](crate::store::SecretStore) for a store
/// with fields `pool: sqlx::Pool<$db>` and `keyring: Arc<Keyring>`.
macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use alloc::string::String;
            use alloc::vec::Vec;

            use sqlx::Row as _;

            use $crate::store::integrity;
            use $crate::store::sql::{SqlStoreError, THROTTLE_ATTEMPTS, decode_u128, from_json, open_mfa, org_bytes, password_state_from, password_state_name, person_bytes, purpose_name, seal_mfa, send_log_bytes, send_log_from, slot_name, step_from, step_name, throttle_key_text, to_i64, to_json, to_u64};
            use $crate::policy::ids::{AuthenticatorId, OrgId, PersonId};
            use $crate::store::{CreateOutcome, OrganisationWrite, SecretStore, UserStore};
            use $crate::store::records::{Login, OobChallengeRecord, OobPurpose, PersonRecord, PruneReport, RecoverySlot, SetupTokenRecord, ThrottleKey, ThrottleOp, TicketRecord, Versioned};
            use $crate::credential::token::TokenDigest;
            use $crate::policy::enrollment::Mfa;
            use $crate::credential::oob::{OobChallenge, OobConfig, SendDecision};
            use $crate::policy::organisation::Organisation;
            use $crate::policy::login::PasswordState;
            use $crate::credential::phone::PhoneNumber;
            use $crate::credential::recovery::RecoveryCodeSet;
            use $crate::credential::throttle::{ThrottlePolicy, ThrottleReservation, ThrottleState, ThrottleUpdate};

            type Tx = sqlx::Transaction<'static, $db>;

            const PERSON_COLUMNS: &str = "id, login, password_hash, password_state, \
                password_expires_at, deactivated, phone, created_at, phone_tag";

            /// The tag of a person's phone number (a second factor): empty when there is none.
            fn phone_tag(
                keyring: &$crate::credential::sealing::Keyring,
                id: &[u8],
                phone: Option<&PhoneNumber>,
            ) -> Result<Vec<u8>, SqlStoreError> {
                match phone {
                    Some(phone) => {
                        integrity::tag(keyring, &integrity::phone(id, phone.e164()))
                    }
                    None => Ok(Vec::new()),
                }
            }

            fn person_from_row(
                keyring: &$crate::credential::sealing::Keyring,
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<PersonRecord, SqlStoreError> {
                let bad = |reason| SqlStoreError::Decode {
                    table: "people",
                    reason,
                };
                let id: Vec<u8> = row.try_get(0)?;
                let login: String = row.try_get(1)?;
                let state: String = row.try_get(3)?;
                let expires: Option<i64> = row.try_get(4)?;
                let phone: Option<String> = row.try_get(6)?;
                if let Some(phone) = &phone {
                    let tag: Vec<u8> = row.try_get(8)?;
                    integrity::check(keyring, "people", &tag, &integrity::phone(&id, phone))?;
                }
                Ok(PersonRecord {
                    id: PersonId::new(decode_u128(&id, "people")?),
                    login: Login::new(&login).ok_or(bad("invalid login"))?,
                    password_hash: row.try_get(2)?,
                    password_state: password_state_from(&state)?,
                    password_expires_at: expires.map(|t| to_u64(t, "people")).transpose()?,
                    deactivated: row.try_get(5)?,
                    phone: phone
                        .map(|p| PhoneNumber::parse(&p).map_err(|_| bad("invalid phone number")))
                        .transpose()?,
                    created_at: to_u64(row.try_get(7)?, "people")?,
                })
            }

            /// Rewrites the organisation's membership index inside `tx`.
            async fn write_memberships(
                tx: &mut Tx,
                organisation: &Organisation,
            ) -> Result<(), SqlStoreError> {
                let org = org_bytes(organisation.id());
                sqlx::query("DELETE FROM memberships WHERE org = $1")
                    .bind(&org)
                    .execute(&mut **tx)
                    .await?;
                for member in organisation.members() {
                    sqlx::query(
                        "INSERT INTO memberships (person, org) VALUES ($1, $2) \
                         ON CONFLICT (person, org) DO NOTHING",
                    )
                    .bind(person_bytes(member.person()))
                    .bind(&org)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            /// Inserts the organisation (`false` if the id exists) or replaces it at
            /// `expected_version` (`false` if it moved), and rewrites its memberships.
            async fn write_organisation(
                tx: &mut Tx,
                keyring: &$crate::credential::sealing::Keyring,
                organisation: &Organisation,
                expected_version: Option<u64>,
            ) -> Result<bool, SqlStoreError> {
                let state = to_json(organisation, "organisations")?;
                let id = org_bytes(organisation.id());
                let expected = expected_version
                    .map(|v| to_i64(v, "an organisation version"))
                    .transpose()?;
                let version = match expected {
                    None => 1,
                    Some(version) => version
                        .checked_add(1)
                        .ok_or(SqlStoreError::OutOfRange("an organisation version"))?,
                };
                let tag = integrity::tag(keyring, &integrity::organisation(&id, version, &state))?;
                let written = match expected {
                    None => sqlx::query(
                        "INSERT INTO organisations (id, state, version, tag) \
                         VALUES ($1, $2, 1, $3) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(&id)
                    .bind(&state)
                    .bind(&tag)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected(),
                    Some(expected) => sqlx::query(
                        "UPDATE organisations SET state = $1, version = $2, tag = $3 \
                         WHERE id = $4 AND version = $5",
                    )
                    .bind(&state)
                    .bind(version)
                    .bind(&tag)
                    .bind(&id)
                    .bind(expected)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected(),
                };
                if written != 1 {
                    return Ok(false);
                }
                write_memberships(tx, organisation).await?;
                Ok(true)
            }

            /// A stored throttle row: the state, and the raw columns it was read from (for the
            /// compare-and-swap).
            struct ThrottleRow {
                state: ThrottleState,
                raw: (i64, i64, bool, i64),
            }

            fn throttle_from_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> Result<ThrottleRow, SqlStoreError> {
                let failures: i64 = row.try_get(0)?;
                let not_before: i64 = row.try_get(1)?;
                let locked: bool = row.try_get(2)?;
                let forget_at: i64 = row.try_get(3)?;
                let state = ThrottleState::from_parts(
                    u8::try_from(failures).map_err(|_| SqlStoreError::Decode {
                        table: "throttle_keys",
                        reason: "failure count out of range",
                    })?,
                    to_u64(not_before, "throttle_keys")?,
                    locked,
                    to_u64(forget_at, "throttle_keys")?,
                );
                Ok(ThrottleRow {
                    state,
                    raw: (failures, not_before, locked, forget_at),
                })
            }

            impl $store {
                async fn read_throttle(
                    &self,
                    key: &str,
                ) -> Result<Option<ThrottleRow>, SqlStoreError> {
                    let row = sqlx::query(
                        "SELECT failures, not_before, locked, forget_at FROM throttle_keys \
                         WHERE key = $1",
                    )
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(throttle_from_row).transpose()
                }

                /// Replaces the throttle row `key` with `new` only if it still holds `stored`
                /// (absent: only if there is none); a fresh `new` deletes the row. `true` if it
                /// applied.
                async fn swap_throttle(
                    &self,
                    key: &str,
                    stored: Option<&ThrottleRow>,
                    new: ThrottleState,
                ) -> Result<bool, SqlStoreError> {
                    let failures = i64::from(new.failures());
                    let not_before = to_i64(new.not_before(), "a throttle time")?;
                    let forget_at = to_i64(new.forget_at(), "a throttle time")?;
                    let written = match stored {
                        Some(ThrottleRow {
                            raw: (old_failures, old_not_before, old_locked, old_forget_at),
                            ..
                        }) if new == ThrottleState::new() => sqlx::query(
                            "DELETE FROM throttle_keys WHERE key = $1 AND failures = $2 \
                             AND not_before = $3 AND locked = $4 AND forget_at = $5",
                        )
                        .bind(key)
                        .bind(old_failures)
                        .bind(old_not_before)
                        .bind(old_locked)
                        .bind(old_forget_at)
                        .execute(&self.pool)
                        .await?
                        .rows_affected(),
                        Some(ThrottleRow {
                            raw: (old_failures, old_not_before, old_locked, old_forget_at),
                            ..
                        }) => sqlx::query(
                            "UPDATE throttle_keys SET failures = $1, not_before = $2, \
                             locked = $3, forget_at = $4 WHERE key = $5 AND failures = $6 \
                             AND not_before = $7 AND locked = $8 AND forget_at = $9",
                        )
                        .bind(failures)
                        .bind(not_before)
                        .bind(new.is_locked())
                        .bind(forget_at)
                        .bind(key)
                        .bind(old_failures)
                        .bind(old_not_before)
                        .bind(old_locked)
                        .bind(old_forget_at)
                        .execute(&self.pool)
                        .await?
                        .rows_affected(),
                        None => sqlx::query(
                            "INSERT INTO throttle_keys (key, failures, not_before, locked, \
                             forget_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
                        )
                        .bind(key)
                        .bind(failures)
                        .bind(not_before)
                        .bind(new.is_locked())
                        .bind(forget_at)
                        .execute(&self.pool)
                        .await?
                        .rows_affected(),
                    };
                    Ok(written == 1)
                }
            }

            impl $store {
                /// The upgrades a migration script cannot do alone, run in its transaction right
                /// after it. Version 6 tags the rows present at the upgrade (they were trusted
                /// until now; from now on a row must carry its tag) and seals every MFA state
                /// again, bound to its version. A state that does not open under the keyring
                /// stops the migration: nothing is skipped silently.
                pub(crate) async fn upgrade_rows(
                    &self,
                    version: i64,
                    tx: &mut Tx,
                ) -> Result<(), SqlStoreError> {
                    if version != integrity::ROW_INTEGRITY_VERSION {
                        return Ok(());
                    }
                    let keyring = &*self.keyring;
                    let rows = sqlx::query("SELECT digest, step, progress, expires_at FROM tickets")
                        .fetch_all(&mut **tx)
                        .await?;
                    for row in &rows {
                        let digest: Vec<u8> = row.try_get(0)?;
                        let step: String = row.try_get(1)?;
                        let progress: String = row.try_get(2)?;
                        let expires_at: i64 = row.try_get(3)?;
                        let context = integrity::ticket(&digest, &step, &progress, expires_at);
                        sqlx::query("UPDATE tickets SET tag = $1 WHERE digest = $2")
                            .bind(integrity::tag(keyring, &context)?)
                            .bind(&digest)
                            .execute(&mut **tx)
                            .await?;
                    }
                    let rows =
                        sqlx::query("SELECT digest, person, org, expires_at FROM setup_tokens")
                            .fetch_all(&mut **tx)
                            .await?;
                    for row in &rows {
                        let digest: Vec<u8> = row.try_get(0)?;
                        let person: Vec<u8> = row.try_get(1)?;
                        let org: Vec<u8> = row.try_get(2)?;
                        let expires_at: i64 = row.try_get(3)?;
                        let context = integrity::setup_token(&digest, &person, &org, expires_at);
                        sqlx::query("UPDATE setup_tokens SET tag = $1 WHERE digest = $2")
                            .bind(integrity::tag(keyring, &context)?)
                            .bind(&digest)
                            .execute(&mut **tx)
                            .await?;
                    }
                    let rows =
                        sqlx::query("SELECT person, slot, set_id, codes, stored FROM recovery_sets")
                            .fetch_all(&mut **tx)
                            .await?;
                    for row in &rows {
                        let person: Vec<u8> = row.try_get(0)?;
                        let slot: String = row.try_get(1)?;
                        let set_id: Vec<u8> = row.try_get(2)?;
                        let codes: i64 = row.try_get(3)?;
                        let stored: Vec<u8> = row.try_get(4)?;
                        let context = integrity::recovery_set(&person, &set_id, codes, &stored);
                        sqlx::query(
                            "UPDATE recovery_sets SET tag = $1 WHERE person = $2 AND slot = $3",
                        )
                        .bind(integrity::tag(keyring, &context)?)
                        .bind(&person)
                        .bind(&slot)
                        .execute(&mut **tx)
                        .await?;
                    }
                    let rows = sqlx::query(
                        "SELECT person, authenticator, last_step FROM authenticator_watermarks",
                    )
                    .fetch_all(&mut **tx)
                    .await?;
                    for row in &rows {
                        let person: Vec<u8> = row.try_get(0)?;
                        let authenticator: i64 = row.try_get(1)?;
                        let last_step: i64 = row.try_get(2)?;
                        let context = integrity::watermark(&person, authenticator, last_step);
                        sqlx::query(
                            "UPDATE authenticator_watermarks SET tag = $1 \
                             WHERE person = $2 AND authenticator = $3",
                        )
                        .bind(integrity::tag(keyring, &context)?)
                        .bind(&person)
                        .bind(authenticator)
                        .execute(&mut **tx)
                        .await?;
                    }
                    let rows = sqlx::query(
                        "SELECT person, purpose, destination, challenge FROM oob_challenges",
                    )
                    .fetch_all(&mut **tx)
                    .await?;
                    for row in &rows {
                        let person: Vec<u8> = row.try_get(0)?;
                        let purpose: String = row.try_get(1)?;
                        let destination: String = row.try_get(2)?;
                        let challenge: Vec<u8> = row.try_get(3)?;
                        let context =
                            integrity::oob_challenge(&person, &purpose, &destination, &challenge);
                        sqlx::query(
                            "UPDATE oob_challenges SET tag = $1 WHERE person = $2 AND purpose = $3",
                        )
                        .bind(integrity::tag(keyring, &context)?)
                        .bind(&person)
                        .bind(&purpose)
                        .execute(&mut **tx)
                        .await?;
                    }
                    let rows =
                        sqlx::query("SELECT id, phone FROM people WHERE phone IS NOT NULL")
                            .fetch_all(&mut **tx)
                            .await?;
                    for row in &rows {
                        let id: Vec<u8> = row.try_get(0)?;
                        let phone: String = row.try_get(1)?;
                        sqlx::query("UPDATE people SET phone_tag = $1 WHERE id = $2")
                            .bind(integrity::tag(keyring, &integrity::phone(&id, &phone))?)
                            .bind(&id)
                            .execute(&mut **tx)
                            .await?;
                    }
                    let rows = sqlx::query("SELECT id, version, state FROM organisations")
                        .fetch_all(&mut **tx)
                        .await?;
                    for row in &rows {
                        let id: Vec<u8> = row.try_get(0)?;
                        let version: i64 = row.try_get(1)?;
                        let state: String = row.try_get(2)?;
                        let context = integrity::organisation(&id, version, &state);
                        sqlx::query("UPDATE organisations SET tag = $1 WHERE id = $2")
                            .bind(integrity::tag(keyring, &context)?)
                            .bind(&id)
                            .execute(&mut **tx)
                            .await?;
                    }
                    let rows = sqlx::query("SELECT person, state_key, state, version FROM mfa")
                        .fetch_all(&mut **tx)
                        .await?;
                    for row in &rows {
                        let id: Vec<u8> = row.try_get(0)?;
                        let state_key: Vec<u8> = row.try_get(1)?;
                        let state: Vec<u8> = row.try_get(2)?;
                        let version = to_u64(row.try_get(3)?, "mfa")?;
                        let person = PersonId::new(decode_u128(&id, "mfa")?);
                        let mfa = $crate::store::sql::open_mfa_in(
                            keyring,
                            &$crate::store::sql::legacy_mfa_context(person),
                            person,
                            &state_key,
                            &state,
                        )?;
                        let (state_key, state) = seal_mfa(keyring, person, version, &mfa)?;
                        sqlx::query("UPDATE mfa SET state_key = $1, state = $2 WHERE person = $3")
                            .bind(state_key)
                            .bind(state)
                            .bind(&id)
                            .execute(&mut **tx)
                            .await?;
                    }
                    // Login counters carried over by migration 0004 are keyed by the name itself:
                    // key them by its digest, as every later write does.
                    let rows = sqlx::query(
                        "SELECT key FROM throttle_keys WHERE key LIKE 'login:%'",
                    )
                    .fetch_all(&mut **tx)
                    .await?;
                    for row in &rows {
                        let key: String = row.try_get(0)?;
                        let name = key.strip_prefix("login:").unwrap_or(&key);
                        sqlx::query("UPDATE throttle_keys SET key = $1 WHERE key = $2")
                            .bind($crate::store::sql::login_key_text(keyring, name))
                            .bind(&key)
                            .execute(&mut **tx)
                            .await?;
                    }
                    Ok(())
                }
            }

            impl UserStore for $store {
                type Error = SqlStoreError;

                async fn create_person(
                    &self,
                    person: &PersonRecord,
                    organisation: OrganisationWrite<'_>,
                ) -> Result<CreateOutcome, SqlStoreError> {
                    let expires = person
                        .password_expires_at
                        .map(|t| to_i64(t, "a password expiry"))
                        .transpose()?;
                    let created_at = to_i64(person.created_at, "a creation time")?;
                    let mut tx = self.pool.begin().await?;
                    let inserted = sqlx::query(
                        "INSERT INTO people (id, login, password_hash, password_state, \
                         password_expires_at, deactivated, phone, created_at, phone_tag) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT (login) DO NOTHING",
                    )
                    .bind(person_bytes(person.id))
                    .bind(person.login.as_str())
                    .bind(person.password_hash.as_str())
                    .bind(password_state_name(person.password_state))
                    .bind(expires)
                    .bind(person.deactivated)
                    .bind(person.phone.as_ref().map(PhoneNumber::e164))
                    .bind(created_at)
                    .bind(phone_tag(
                        &self.keyring,
                        &person_bytes(person.id),
                        person.phone.as_ref(),
                    )?)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted != 1 {
                        tx.rollback().await?;
                        return Ok(CreateOutcome::LoginTaken);
                    }
                    let written = match organisation {
                        OrganisationWrite::Insert(organisation) => {
                            write_organisation(&mut tx, &self.keyring, organisation, None).await?
                        }
                        OrganisationWrite::Replace {
                            organisation,
                            expected_version,
                        } => {
                            write_organisation(
                                &mut tx,
                                &self.keyring,
                                organisation,
                                Some(expected_version),
                            )
                                .await?
                        }
                    };
                    if !written {
                        tx.rollback().await?;
                        return Ok(CreateOutcome::OrganisationConflict);
                    }
                    tx.commit().await?;
                    Ok(CreateOutcome::Created)
                }

                async fn person_by_login(
                    &self,
                    login: &str,
                ) -> Result<Option<PersonRecord>, SqlStoreError> {
                    let Some(login) = Login::new(login) else {
                        return Ok(None);
                    };
                    let sql = alloc::format!("SELECT {PERSON_COLUMNS} FROM people WHERE login = $1");
                    sqlx::query(&sql)
                        .bind(login.as_str())
                        .fetch_optional(&self.pool)
                        .await?
                        .as_ref()
                        .map(|row| person_from_row(&self.keyring, row))
                        .transpose()
                }

                async fn person(
                    &self,
                    id: PersonId,
                ) -> Result<Option<PersonRecord>, SqlStoreError> {
                    let sql = alloc::format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = $1");
                    sqlx::query(&sql)
                        .bind(person_bytes(id))
                        .fetch_optional(&self.pool)
                        .await?
                        .as_ref()
                        .map(|row| person_from_row(&self.keyring, row))
                        .transpose()
                }

                async fn set_password(
                    &self,
                    id: PersonId,
                    password_hash: &str,
                    state: PasswordState,
                    expires_at: Option<u64>,
                ) -> Result<bool, SqlStoreError> {
                    let expires = expires_at
                        .map(|t| to_i64(t, "a password expiry"))
                        .transpose()?;
                    let done = sqlx::query(
                        "UPDATE people SET password_hash = $1, password_state = $2, \
                         password_expires_at = $3 WHERE id = $4",
                    )
                    .bind(password_hash)
                    .bind(password_state_name(state))
                    .bind(expires)
                    .bind(person_bytes(id))
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn upgrade_password_hash(
                    &self,
                    id: PersonId,
                    expected_hash: &str,
                    new_hash: &str,
                ) -> Result<bool, SqlStoreError> {
                    let done = sqlx::query(
                        "UPDATE people SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
                    )
                    .bind(new_hash)
                    .bind(person_bytes(id))
                    .bind(expected_hash)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn set_phone(
                    &self,
                    id: PersonId,
                    phone: Option<&PhoneNumber>,
                ) -> Result<bool, SqlStoreError> {
                    let id = person_bytes(id);
                    let tag = phone_tag(&self.keyring, &id, phone)?;
                    let done =
                        sqlx::query("UPDATE people SET phone = $1, phone_tag = $2 WHERE id = $3")
                            .bind(phone.map(PhoneNumber::e164))
                            .bind(tag)
                            .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn set_deactivated(
                    &self,
                    id: PersonId,
                    deactivated: bool,
                ) -> Result<bool, SqlStoreError> {
                    let done = sqlx::query("UPDATE people SET deactivated = $1 WHERE id = $2")
                        .bind(deactivated)
                        .bind(person_bytes(id))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn throttle(&self, key: &ThrottleKey) -> Result<ThrottleState, SqlStoreError> {
                    let key = throttle_key_text(&self.keyring, key);
                    Ok(self
                        .read_throttle(&key)
                        .await?
                        .map(|row| row.state)
                        .unwrap_or_default())
                }

                async fn reserve_attempt(
                    &self,
                    key: &ThrottleKey,
                    policy: &ThrottlePolicy,
                    now: u64,
                ) -> Result<ThrottleReservation, SqlStoreError> {
                    let key = throttle_key_text(&self.keyring, key);
                    for _ in 0..THROTTLE_ATTEMPTS {
                        let stored = self.read_throttle(&key).await?;
                        let state = stored.as_ref().map(|row| row.state).unwrap_or_default();
                        let reservation = policy.reserve(state, now);
                        if !reservation.changed_state()
                            || self
                                .swap_throttle(&key, stored.as_ref(), reservation.state())
                                .await?
                        {
                            return Ok(reservation);
                        }
                    }
                    Err(SqlStoreError::Contention)
                }

                async fn apply_throttle(
                    &self,
                    key: &ThrottleKey,
                    op: ThrottleOp,
                    policy: &ThrottlePolicy,
                    _now: u64,
                ) -> Result<ThrottleUpdate, SqlStoreError> {
                    let key = throttle_key_text(&self.keyring, key);
                    for _ in 0..THROTTLE_ATTEMPTS {
                        let stored = self.read_throttle(&key).await?;
                        let state = stored.as_ref().map(|row| row.state).unwrap_or_default();
                        let update = match op {
                            ThrottleOp::Success => policy.record_success(state),
                            ThrottleOp::Reset => policy.reset(state),
                        };
                        if !update.changed_state()
                            || self.swap_throttle(&key, stored.as_ref(), update.state()).await?
                        {
                            return Ok(update);
                        }
                    }
                    Err(SqlStoreError::Contention)
                }

                async fn prune_throttles(&self, now: u64) -> Result<u64, SqlStoreError> {
                    Ok(sqlx::query("DELETE FROM throttle_keys WHERE forget_at <= $1")
                        .bind(to_i64(now, "the time")?)
                        .execute(&self.pool)
                        .await?
                        .rows_affected())
                }

                async fn organisation(
                    &self,
                    id: OrgId,
                ) -> Result<Option<Versioned<Organisation>>, SqlStoreError> {
                    let key = org_bytes(id);
                    let row = sqlx::query(
                        "SELECT state, version, tag FROM organisations WHERE id = $1",
                    )
                    .bind(&key)
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let state: String = row.try_get(0)?;
                    let version: i64 = row.try_get(1)?;
                    let tag: Vec<u8> = row.try_get(2)?;
                    integrity::check(
                        &self.keyring,
                        "organisations",
                        &tag,
                        &integrity::organisation(&key, version, &state),
                    )?;
                    let value: Organisation = from_json(&state, "organisations")?;
                    if value.id() != id {
                        return Err(SqlStoreError::Decode {
                            table: "organisations",
                            reason: "the stored organisation has another id",
                        });
                    }
                    Ok(Some(Versioned {
                        value,
                        version: to_u64(version, "organisations")?,
                    }))
                }

                async fn replace_organisation(
                    &self,
                    organisation: &Organisation,
                    expected_version: u64,
                ) -> Result<bool, SqlStoreError> {
                    let mut tx = self.pool.begin().await?;
                    if write_organisation(
                                &mut tx,
                                &self.keyring,
                                organisation,
                                Some(expected_version),
                            ).await? {
                        tx.commit().await?;
                        Ok(true)
                    } else {
                        tx.rollback().await?;
                        Ok(false)
                    }
                }

                async fn organisations_of(&self, id: PersonId) -> Result<Vec<OrgId>, SqlStoreError> {
                    let rows =
                        sqlx::query("SELECT org FROM memberships WHERE person = $1 ORDER BY org")
                            .bind(person_bytes(id))
                            .fetch_all(&self.pool)
                            .await?;
                    rows.iter()
                        .map(|row| {
                            let org: Vec<u8> = row.try_get(0)?;
                            Ok(OrgId::new(decode_u128(&org, "memberships")?))
                        })
                        .collect()
                }
            }

            impl SecretStore for $store {
                type Error = SqlStoreError;

                async fn mfa(&self, person: PersonId) -> Result<Option<Versioned<Mfa>>, SqlStoreError> {
                    let id = person_bytes(person);
                    let row =
                        sqlx::query("SELECT state_key, state, version FROM mfa WHERE person = $1")
                            .bind(&id)
                            .fetch_optional(&self.pool)
                            .await?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let state_key: Vec<u8> = row.try_get(0)?;
                    let state: Vec<u8> = row.try_get(1)?;
                    let version = to_u64(row.try_get(2)?, "mfa")?;
                    let mut mfa = open_mfa(&self.keyring, person, version, &state_key, &state)?;
                    let watermarks = sqlx::query(
                        "SELECT authenticator, last_step, tag FROM authenticator_watermarks \
                         WHERE person = $1",
                    )
                    .bind(&id)
                    .fetch_all(&self.pool)
                    .await?;
                    let mut marked = Vec::with_capacity(watermarks.len());
                    for row in &watermarks {
                        let authenticator: i64 = row.try_get(0)?;
                        let last_step: i64 = row.try_get(1)?;
                        let tag: Vec<u8> = row.try_get(2)?;
                        integrity::check(
                            &self.keyring,
                            "authenticator_watermarks",
                            &tag,
                            &integrity::watermark(&id, authenticator, last_step),
                        )?;
                        marked.push(authenticator);
                        let step = to_u64(last_step, "authenticator_watermarks")?;
                        let authenticator = u32::try_from(authenticator).map_err(|_| {
                            SqlStoreError::Decode {
                                table: "authenticator_watermarks",
                                reason: "authenticator id out of range",
                            }
                        })?;
                        let _raised =
                            mfa.restore_watermark(AuthenticatorId::new(authenticator), step);
                    }
                    // Every authenticator's watermark row is written with the state and never
                    // deleted while the authenticator is in it: a missing one means rows were
                    // deleted, or the state was put back from an older copy, and the replay
                    // watermark might be lower than the one last accepted.
                    if mfa
                        .authenticators()
                        .iter()
                        .any(|a| !marked.contains(&i64::from(a.id().get())))
                    {
                        return Err(SqlStoreError::Decode {
                            table: "authenticator_watermarks",
                            reason: "an authenticator of the MFA state has no watermark row",
                        });
                    }
                    Ok(Some(Versioned {
                        value: mfa,
                        version,
                    }))
                }

                async fn replace_mfa(
                    &self,
                    person: PersonId,
                    mfa: &Mfa,
                    expected_version: Option<u64>,
                ) -> Result<bool, SqlStoreError> {
                    let version = match expected_version {
                        None => 1,
                        Some(version) => version
                            .checked_add(1)
                            .ok_or(SqlStoreError::OutOfRange("an MFA version"))?,
                    };
                    let (state_key, state) = seal_mfa(&self.keyring, person, version, mfa)?;
                    let id = person_bytes(person);
                    let marks = mfa
                        .authenticators()
                        .iter()
                        .map(|a| {
                            let authenticator = i64::from(a.id().get());
                            let step = to_i64(a.last_accepted_step(), "a watermark")?;
                            let tag = integrity::tag(
                                &self.keyring,
                                &integrity::watermark(&id, authenticator, step),
                            )?;
                            Ok((authenticator, step, tag))
                        })
                        .collect::<Result<Vec<_>, SqlStoreError>>()?;
                    let mut tx = self.pool.begin().await?;
                    let written = match expected_version {
                        None => sqlx::query(
                            "INSERT INTO mfa (person, state_key, state, version) \
                             VALUES ($1, $2, $3, 1) ON CONFLICT (person) DO NOTHING",
                        )
                        .bind(&id)
                        .bind(&state_key)
                        .bind(&state)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                        Some(version) => sqlx::query(
                            "UPDATE mfa SET state_key = $1, state = $2, version = version + 1 \
                             WHERE person = $3 AND version = $4",
                        )
                        .bind(&state_key)
                        .bind(&state)
                        .bind(&id)
                        .bind(to_i64(version, "an MFA version")?)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                    };
                    if written != 1 {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    // Watermarks only move up; removed authenticators lose theirs.
                    let stored = sqlx::query(
                        "SELECT authenticator FROM authenticator_watermarks WHERE person = $1",
                    )
                    .bind(&id)
                    .fetch_all(&mut *tx)
                    .await?;
                    for row in &stored {
                        let authenticator: i64 = row.try_get(0)?;
                        if !marks.iter().any(|(a, ..)| *a == authenticator) {
                            sqlx::query(
                                "DELETE FROM authenticator_watermarks \
                                 WHERE person = $1 AND authenticator = $2",
                            )
                            .bind(&id)
                            .bind(authenticator)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    for (authenticator, step, tag) in marks {
                        sqlx::query(
                            "INSERT INTO authenticator_watermarks (person, authenticator, \
                             last_step, tag) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (person, authenticator) DO UPDATE \
                             SET last_step = excluded.last_step, tag = excluded.tag \
                             WHERE authenticator_watermarks.last_step < excluded.last_step",
                        )
                        .bind(&id)
                        .bind(authenticator)
                        .bind(step)
                        .bind(tag)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(true)
                }

                async fn advance_watermark(
                    &self,
                    person: PersonId,
                    authenticator: AuthenticatorId,
                    step: u64,
                ) -> Result<bool, SqlStoreError> {
                    let id = person_bytes(person);
                    let step = to_i64(step, "a time step")?;
                    let authenticator = i64::from(authenticator.get());
                    let tag = integrity::tag(
                        &self.keyring,
                        &integrity::watermark(&id, authenticator, step),
                    )?;
                    let done = sqlx::query(
                        "UPDATE authenticator_watermarks SET last_step = $1, tag = $4 \
                         WHERE person = $2 AND authenticator = $3 AND last_step < $1",
                    )
                    .bind(step)
                    .bind(&id)
                    .bind(authenticator)
                    .bind(tag)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn recovery_codes(
                    &self,
                    person: PersonId,
                    slot: RecoverySlot,
                ) -> Result<Option<RecoveryCodeSet>, SqlStoreError> {
                    let id = person_bytes(person);
                    let row = sqlx::query(
                        "SELECT stored, spent, set_id, codes, tag FROM recovery_sets \
                         WHERE person = $1 AND slot = $2",
                    )
                    .bind(&id)
                    .bind(slot_name(slot))
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let bad = |reason| SqlStoreError::Decode {
                        table: "recovery_sets",
                        reason,
                    };
                    let stored: Vec<u8> = row.try_get(0)?;
                    let spent: i64 = row.try_get(1)?;
                    let set_id: Vec<u8> = row.try_get(2)?;
                    let codes: i64 = row.try_get(3)?;
                    let tag: Vec<u8> = row.try_get(4)?;
                    integrity::check(
                        &self.keyring,
                        "recovery_sets",
                        &tag,
                        &integrity::recovery_set(&id, &set_id, codes, &stored),
                    )?;
                    let mut set = RecoveryCodeSet::from_stored_bytes(&stored)
                        .map_err(|_| bad("the stored set does not decode"))?;
                    if set.set_id().as_slice() != set_id.as_slice() || i64::from(set.len()) != codes {
                        return Err(bad("the set's columns disagree with its stored bytes"));
                    }
                    let spent = u16::try_from(spent).map_err(|_| bad("spent mask out of range"))?;
                    set.merge_spent_mask(spent)
                        .map_err(|_| bad("spent mask outside the set"))?;
                    Ok(Some(set))
                }

                async fn replace_recovery_codes(
                    &self,
                    person: PersonId,
                    slot: RecoverySlot,
                    set: Option<&RecoveryCodeSet>,
                ) -> Result<(), SqlStoreError> {
                    match set {
                        Some(set) => {
                            let id = person_bytes(person);
                            let set_id = set.set_id().to_vec();
                            let codes = i64::from(set.len());
                            let stored = set.to_stored_bytes();
                            let tag = integrity::tag(
                                &self.keyring,
                                &integrity::recovery_set(&id, &set_id, codes, &stored),
                            )?;
                            sqlx::query(
                                "INSERT INTO recovery_sets \
                                 (person, slot, set_id, codes, spent, stored, tag) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                                 ON CONFLICT (person, slot) DO UPDATE \
                                 SET set_id = excluded.set_id, codes = excluded.codes, \
                                 spent = excluded.spent, stored = excluded.stored, \
                                 tag = excluded.tag",
                            )
                            .bind(&id)
                            .bind(slot_name(slot))
                            .bind(set_id)
                            .bind(codes)
                            .bind(i64::from(set.spent_mask()))
                            .bind(stored)
                            .bind(tag)
                            .execute(&self.pool)
                            .await?;
                        }
                        None => {
                            sqlx::query(
                                "DELETE FROM recovery_sets WHERE person = $1 AND slot = $2",
                            )
                            .bind(person_bytes(person))
                            .bind(slot_name(slot))
                            .execute(&self.pool)
                            .await?;
                        }
                    }
                    Ok(())
                }

                async fn activate_pending_recovery_codes(
                    &self,
                    person: PersonId,
                ) -> Result<bool, SqlStoreError> {
                    let id = person_bytes(person);
                    let mut tx = self.pool.begin().await?;
                    sqlx::query("DELETE FROM recovery_sets WHERE person = $1 AND slot = 'active'")
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    let moved = sqlx::query(
                        "UPDATE recovery_sets SET slot = 'active' \
                         WHERE person = $1 AND slot = 'pending'",
                    )
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if moved == 1 {
                        tx.commit().await?;
                        Ok(true)
                    } else {
                        tx.rollback().await?;
                        Ok(false)
                    }
                }

                async fn spend_recovery_code(
                    &self,
                    person: PersonId,
                    set_id: [u8; 16],
                    index: u8,
                ) -> Result<bool, SqlStoreError> {
                    let Some(bit) = 1u16.checked_shl(u32::from(index)) else {
                        return Ok(false);
                    };
                    let bit = i64::from(bit);
                    let done = sqlx::query(
                        "UPDATE recovery_sets SET spent = spent | $1 \
                         WHERE person = $2 AND set_id = $3 AND slot = 'active' \
                         AND (spent & $1) = 0 AND $4 < codes",
                    )
                    .bind(bit)
                    .bind(person_bytes(person))
                    .bind(set_id.to_vec())
                    .bind(i64::from(index))
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn oob_challenge(
                    &self,
                    person: PersonId,
                    purpose: OobPurpose,
                ) -> Result<Option<OobChallengeRecord>, SqlStoreError> {
                    let id = person_bytes(person);
                    let row = sqlx::query(
                        "SELECT destination, challenge, tag FROM oob_challenges \
                         WHERE person = $1 AND purpose = $2",
                    )
                    .bind(&id)
                    .bind(purpose_name(purpose))
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let bad = |reason| SqlStoreError::Decode {
                        table: "oob_challenges",
                        reason,
                    };
                    let destination: String = row.try_get(0)?;
                    let bytes: Vec<u8> = row.try_get(1)?;
                    let tag: Vec<u8> = row.try_get(2)?;
                    integrity::check(
                        &self.keyring,
                        "oob_challenges",
                        &tag,
                        &integrity::oob_challenge(
                            &id,
                            purpose_name(purpose),
                            &destination,
                            &bytes,
                        ),
                    )?;
                    Ok(Some(OobChallengeRecord {
                        destination: PhoneNumber::parse(&destination)
                            .map_err(|_| bad("invalid destination phone number"))?,
                        challenge: OobChallenge::from_stored_bytes(&bytes)
                            .map_err(|_| bad("the stored challenge does not decode"))?,
                    }))
                }

                async fn replace_oob_challenge(
                    &self,
                    person: PersonId,
                    purpose: OobPurpose,
                    expected: Option<&OobChallenge>,
                    new: Option<&OobChallengeRecord>,
                ) -> Result<bool, SqlStoreError> {
                    let id = person_bytes(person);
                    let purpose = purpose_name(purpose);
                    let expected = expected.map(|c| c.to_stored_bytes().to_vec());
                    let tag = match new {
                        Some(new) => integrity::tag(
                            &self.keyring,
                            &integrity::oob_challenge(
                                &id,
                                purpose,
                                new.destination.e164(),
                                &new.challenge.to_stored_bytes(),
                            ),
                        )?,
                        None => Vec::new(),
                    };
                    let affected = match (expected, new) {
                        (None, None) => {
                            let row = sqlx::query(
                                "SELECT count(*) FROM oob_challenges \
                                 WHERE person = $1 AND purpose = $2",
                            )
                            .bind(&id)
                            .bind(purpose)
                            .fetch_one(&self.pool)
                            .await?;
                            let count: i64 = row.try_get(0)?;
                            return Ok(count == 0);
                        }
                        (None, Some(new)) => sqlx::query(
                            "INSERT INTO oob_challenges \
                             (person, purpose, destination, challenge, expires_at, tag) \
                             VALUES ($1, $2, $3, $4, $5, $6) \
                             ON CONFLICT (person, purpose) DO NOTHING",
                        )
                        .bind(&id)
                        .bind(purpose)
                        .bind(new.destination.e164())
                        .bind(new.challenge.to_stored_bytes().to_vec())
                        .bind(to_i64(new.challenge.expires_at(), "a challenge expiry")?)
                        .bind(&tag)
                        .execute(&self.pool)
                        .await?
                        .rows_affected(),
                        (Some(expected), Some(new)) => sqlx::query(
                            "UPDATE oob_challenges \
                             SET destination = $1, challenge = $2, expires_at = $6, tag = $7 \
                             WHERE person = $3 AND purpose = $4 AND challenge = $5",
                        )
                        .bind(new.destination.e164())
                        .bind(new.challenge.to_stored_bytes().to_vec())
                        .bind(&id)
                        .bind(purpose)
                        .bind(expected)
                        .bind(to_i64(new.challenge.expires_at(), "a challenge expiry")?)
                        .bind(&tag)
                        .execute(&self.pool)
                        .await?
                        .rows_affected(),
                        (Some(expected), None) => sqlx::query(
                            "DELETE FROM oob_challenges \
                             WHERE person = $1 AND purpose = $2 AND challenge = $3",
                        )
                        .bind(&id)
                        .bind(purpose)
                        .bind(expected)
                        .execute(&self.pool)
                        .await?
                        .rows_affected(),
                    };
                    Ok(affected == 1)
                }

                async fn record_oob_send(
                    &self,
                    person: PersonId,
                    purpose: OobPurpose,
                    config: &OobConfig,
                    now: u64,
                ) -> Result<SendDecision, SqlStoreError> {
                    let who = person_bytes(person);
                    let what = purpose_name(purpose);
                    for _ in 0..THROTTLE_ATTEMPTS {
                        let row = sqlx::query(
                            "SELECT sends, day_start, day_sends FROM oob_send_budgets \
                             WHERE person = $1 AND purpose = $2",
                        )
                        .bind(&who)
                        .bind(what)
                        .fetch_optional(&self.pool)
                        .await?;
                        let stored: Option<(Vec<u8>, i64, i64)> = row
                            .as_ref()
                            .map(|row| Ok::<_, sqlx::Error>((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
                            .transpose()?;
                        let log = match &stored {
                            Some((bytes, day_start, day_sends)) => {
                                send_log_from(bytes, *day_start, *day_sends)?
                            }
                            None => Default::default(),
                        };
                        let decision = purpose.check_send(config, &log, now);
                        if decision != SendDecision::Allowed {
                            return Ok(decision);
                        }
                        let next = purpose.record_send(&log, now);
                        let expires_at = to_i64(
                            next.expires_at().unwrap_or(now),
                            "a send log expiry",
                        )?;
                        let day_start = to_i64(next.day_start(), "a send log day")?;
                        let day_sends = i64::from(next.day_sends());
                        let new = send_log_bytes(&next);
                        // Compare-and-swap on the log read above.
                        let written = match stored {
                            Some((old, old_start, old_sends)) => sqlx::query(
                                "UPDATE oob_send_budgets \
                                 SET sends = $1, day_start = $2, day_sends = $3, expires_at = $4 \
                                 WHERE person = $5 AND purpose = $6 AND sends = $7 \
                                 AND day_start = $8 AND day_sends = $9",
                            )
                            .bind(new)
                            .bind(day_start)
                            .bind(day_sends)
                            .bind(expires_at)
                            .bind(&who)
                            .bind(what)
                            .bind(old)
                            .bind(old_start)
                            .bind(old_sends)
                            .execute(&self.pool)
                            .await?
                            .rows_affected(),
                            None => sqlx::query(
                                "INSERT INTO oob_send_budgets \
                                 (person, purpose, sends, day_start, day_sends, expires_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6) \
                                 ON CONFLICT (person, purpose) DO NOTHING",
                            )
                            .bind(&who)
                            .bind(what)
                            .bind(new)
                            .bind(day_start)
                            .bind(day_sends)
                            .bind(expires_at)
                            .execute(&self.pool)
                            .await?
                            .rows_affected(),
                        };
                        if written == 1 {
                            return Ok(decision);
                        }
                    }
                    Err(SqlStoreError::Contention)
                }

                async fn insert_setup_token(
                    &self,
                    token: &SetupTokenRecord,
                ) -> Result<(), SqlStoreError> {
                    let person = person_bytes(token.person);
                    let org = org_bytes(token.org);
                    let expires_at = to_i64(token.expires_at, "a token expiry")?;
                    let tag = integrity::tag(
                        &self.keyring,
                        &integrity::setup_token(&token.digest.0, &person, &org, expires_at),
                    )?;
                    sqlx::query(
                        "INSERT INTO setup_tokens (digest, person, org, expires_at, tag) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(token.digest.0.to_vec())
                    .bind(person)
                    .bind(org)
                    .bind(expires_at)
                    .bind(tag)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn take_setup_token(
                    &self,
                    digest: &TokenDigest,
                    now: u64,
                ) -> Result<Option<SetupTokenRecord>, SqlStoreError> {
                    let row = sqlx::query(
                        "DELETE FROM setup_tokens WHERE digest = $1 AND expires_at > $2 \
                         RETURNING person, org, expires_at, tag",
                    )
                    .bind(digest.0.to_vec())
                    .bind(to_i64(now, "the time")?)
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let person: Vec<u8> = row.try_get(0)?;
                    let org: Vec<u8> = row.try_get(1)?;
                    let expires_at: i64 = row.try_get(2)?;
                    let tag: Vec<u8> = row.try_get(3)?;
                    // The row is spent either way: a forged one is gone, and an error.
                    integrity::check(
                        &self.keyring,
                        "setup_tokens",
                        &tag,
                        &integrity::setup_token(&digest.0, &person, &org, expires_at),
                    )?;
                    Ok(Some(SetupTokenRecord {
                        digest: *digest,
                        person: PersonId::new(decode_u128(&person, "setup_tokens")?),
                        org: OrgId::new(decode_u128(&org, "setup_tokens")?),
                        expires_at: to_u64(expires_at, "setup_tokens")?,
                    }))
                }

                async fn insert_ticket(&self, ticket: &TicketRecord) -> Result<(), SqlStoreError> {
                    let step = step_name(ticket.step);
                    let progress = to_json(&ticket.progress, "tickets")?;
                    let expires_at = to_i64(ticket.expires_at, "a ticket expiry")?;
                    let tag = integrity::tag(
                        &self.keyring,
                        &integrity::ticket(&ticket.digest.0, step, &progress, expires_at),
                    )?;
                    sqlx::query(
                        "INSERT INTO tickets (digest, step, progress, expires_at, tag) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(ticket.digest.0.to_vec())
                    .bind(step)
                    .bind(progress)
                    .bind(expires_at)
                    .bind(tag)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn take_ticket(
                    &self,
                    digest: &TokenDigest,
                    now: u64,
                ) -> Result<Option<TicketRecord>, SqlStoreError> {
                    let row = sqlx::query(
                        "DELETE FROM tickets WHERE digest = $1 AND expires_at > $2 \
                         RETURNING step, progress, expires_at, tag",
                    )
                    .bind(digest.0.to_vec())
                    .bind(to_i64(now, "the time")?)
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let step: String = row.try_get(0)?;
                    let progress: String = row.try_get(1)?;
                    let expires_at: i64 = row.try_get(2)?;
                    let tag: Vec<u8> = row.try_get(3)?;
                    // The row is spent either way: a forged one is gone, and an error.
                    integrity::check(
                        &self.keyring,
                        "tickets",
                        &tag,
                        &integrity::ticket(&digest.0, &step, &progress, expires_at),
                    )?;
                    Ok(Some(TicketRecord {
                        digest: *digest,
                        step: step_from(&step)?,
                        progress: from_json(&progress, "tickets")?,
                        expires_at: to_u64(expires_at, "tickets")?,
                    }))
                }

                async fn prune_expired(&self, now: u64) -> Result<PruneReport, SqlStoreError> {
                    let now = to_i64(now, "the time")?;
                    let mut counts = [0u64; 4];
                    // One guarded statement per kind; each deletes only rows no verb would use.
                    for (count, statement) in counts.iter_mut().zip([
                        "DELETE FROM tickets WHERE expires_at <= $1",
                        "DELETE FROM setup_tokens WHERE expires_at <= $1",
                        "DELETE FROM oob_challenges WHERE expires_at <= $1",
                        "DELETE FROM oob_send_budgets WHERE expires_at <= $1",
                    ]) {
                        *count = sqlx::query(statement)
                            .bind(now)
                            .execute(&self.pool)
                            .await?
                            .rows_affected();
                    }
                    let [tickets, setup_tokens, oob_challenges, oob_send_logs] = counts;
                    Ok(PruneReport {
                        tickets,
                        setup_tokens,
                        oob_challenges,
                        oob_send_logs,
                        throttles: 0,
                    })
                }
            }
        };
    };
}

pub(crate) use sql_store;
