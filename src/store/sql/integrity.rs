//! Row integrity in the SQL stores: the rows that decide a login, besides the sealed MFA state,
//! carry a tag made with the host's [`Keyring`], so that someone who can write the database but
//! holds no sealing key cannot forge one, alter one, or copy one from another row.
//!
//! A tag is a value sealed by [`Keyring::seal`] (so it names its key id and takes part in key
//! rotation) whose plaintext is a fixed marker and whose associated data is the row's table, its
//! identity and every column the stores read back to make a decision. The tag proves nothing
//! secret: it only authenticates the row. Which columns each table binds, and what a tag cannot
//! prevent, is written on the SQL stores (see `SqliteStore`, "Integrity at rest").

use alloc::vec::Vec;

use crate::credential::sealing::{Keyring, OpenError, SealContext};
use crate::otp::secret::SecretKey;
use crate::store::sql::error::SqlStoreError;

/// The plaintext of every tag: not secret, checked after opening.
const MARK: &[u8; 16] = b"authcore-row-tag";

/// The schema version whose migration adds the tags (and binds the MFA state to its version).
pub(crate) const ROW_INTEGRITY_VERSION: i64 = 6;

/// The associated data of a tag: `authcore/row/v1`, the table, then the named columns.
pub(crate) struct RowContext(SealContext);

impl RowContext {
    /// The context of a row of `table`.
    pub(crate) fn new(table: &'static str) -> Self {
        Self(SealContext::new("authcore/row/v1").with(b"table", table.as_bytes()))
    }

    /// Adds a column holding bytes or text.
    #[must_use]
    pub(crate) fn bytes(self, name: &str, value: &[u8]) -> Self {
        Self(self.0.with(name.as_bytes(), value))
    }

    /// Adds a column holding a number.
    #[must_use]
    pub(crate) fn int(self, name: &str, value: i64) -> Self {
        Self(self.0.with(name.as_bytes(), &value.to_be_bytes()))
    }
}

/// A tag for a row with `context`, under the keyring's current key.
pub(crate) fn tag(keyring: &Keyring, context: &RowContext) -> Result<Vec<u8>, SqlStoreError> {
    let mark = SecretKey::from_bytes(MARK).map_err(|e| SqlStoreError::Seal(e.into()))?;
    Ok(keyring
        .seal_with_os_rng(&mark, &context.0)
        .map_err(|e| SqlStoreError::Seal(e.into()))?
        .into_bytes())
}

/// Checks the tag of a row of `table`: [`SqlStoreError::Open`] unless it was made by
/// [`tag`] for exactly this context under a key in the keyring. An empty tag (a row written before
/// the migration that added tags, or by someone without the keys) is [`OpenError::Malformed`].
pub(crate) fn check(
    keyring: &Keyring,
    table: &'static str,
    tag: &[u8],
    context: &RowContext,
) -> Result<(), SqlStoreError> {
    let open_error = |error| SqlStoreError::Open { table, error };
    let opened = keyring.open(tag, &context.0).map_err(open_error)?;
    if opened.expose_bytes() == MARK {
        Ok(())
    } else {
        Err(open_error(OpenError::Forged))
    }
}

/// Checks a row's tag and makes it again under the current key (a key rotation).
pub(crate) fn retag(
    keyring: &Keyring,
    table: &'static str,
    old: &[u8],
    context: &RowContext,
) -> Result<Vec<u8>, SqlStoreError> {
    check(keyring, table, old, context)?;
    tag(keyring, context)
}

/// A pending-login ticket: its digest, step, progress (JSON text) and expiry.
pub(crate) fn ticket(digest: &[u8], step: &str, progress: &str, expires_at: i64) -> RowContext {
    RowContext::new("tickets")
        .bytes("digest", digest)
        .bytes("step", step.as_bytes())
        .bytes("progress", progress.as_bytes())
        .int("expires_at", expires_at)
}

/// An invitation: its digest, person, organisation, the invitation itself and its expiry.
pub(crate) fn invitation(
    digest: &[u8],
    person: &[u8],
    org: &[u8],
    invitation: &str,
    expires_at: i64,
) -> RowContext {
    RowContext::new("invitations")
        .bytes("digest", digest)
        .bytes("person", person)
        .bytes("org", org)
        .bytes("invitation", invitation.as_bytes())
        .int("expires_at", expires_at)
}

/// A setup token: its digest, person, organisation and expiry.
pub(crate) fn setup_token(digest: &[u8], person: &[u8], org: &[u8], expires_at: i64) -> RowContext {
    RowContext::new("setup_tokens")
        .bytes("digest", digest)
        .bytes("person", person)
        .bytes("org", org)
        .int("expires_at", expires_at)
}

/// The columns of an account token a tag binds.
pub(crate) struct AccountTokenColumns<'a> {
    pub(crate) digest: &'a [u8],
    pub(crate) person: &'a [u8],
    pub(crate) purpose: &'a str,
    pub(crate) login: &'a str,
    pub(crate) address: &'a str,
    pub(crate) epoch: i64,
    pub(crate) expires_at: i64,
}

/// An account token (password reset, address verification): every column.
pub(crate) fn account_token(columns: &AccountTokenColumns<'_>) -> RowContext {
    RowContext::new("account_tokens")
        .bytes("digest", columns.digest)
        .bytes("person", columns.person)
        .bytes("purpose", columns.purpose.as_bytes())
        .bytes("login", columns.login.as_bytes())
        .bytes("address", columns.address.as_bytes())
        .int("epoch", columns.epoch)
        .int("expires_at", columns.expires_at)
}

/// A recovery-code set: its person, set id, size and stored hashes. Not the slot (a set moves
/// from pending to active with one guarded `UPDATE`) and not the spent mask (spending is one
/// guarded `UPDATE … SET spent = spent | bit`).
pub(crate) fn recovery_set(person: &[u8], set_id: &[u8], codes: i64, stored: &[u8]) -> RowContext {
    RowContext::new("recovery_sets")
        .bytes("person", person)
        .bytes("set_id", set_id)
        .int("codes", codes)
        .bytes("stored", stored)
}

/// An authenticator's replay watermark: its person, authenticator and last accepted step.
pub(crate) fn watermark(person: &[u8], authenticator: i64, last_step: i64) -> RowContext {
    RowContext::new("authenticator_watermarks")
        .bytes("person", person)
        .int("authenticator", authenticator)
        .int("last_step", last_step)
}

/// An out-of-band challenge: its person, purpose, destination and stored challenge.
pub(crate) fn oob_challenge(
    person: &[u8],
    purpose: &str,
    destination: &str,
    challenge: &[u8],
) -> RowContext {
    RowContext::new("oob_challenges")
        .bytes("person", person)
        .bytes("purpose", purpose.as_bytes())
        .bytes("destination", destination.as_bytes())
        .bytes("challenge", challenge)
}

/// A person's phone number (an out-of-band second factor): the person and the number (E.164).
pub(crate) fn phone(person: &[u8], phone: &str) -> RowContext {
    RowContext::new("people")
        .bytes("id", person)
        .bytes("phone", phone.as_bytes())
}

/// An organisation: its id, version and state (JSON text: policy, roster, roles, delegations).
pub(crate) fn organisation(id: &[u8], version: i64, state: &str) -> RowContext {
    RowContext::new("organisations")
        .bytes("id", id)
        .int("version", version)
        .bytes("state", state.as_bytes())
}

/// A session: its digest, id, person, organisation, assurance level, factors, authentication
/// and verification times, expiry and epoch. Not `last_seen` nor the idle expiry (a touch
/// rewrites them with one guarded `UPDATE`), nor the labels (they decide nothing).
pub(crate) struct SessionColumns<'a> {
    pub(crate) digest: &'a [u8],
    pub(crate) id: &'a [u8],
    pub(crate) person: &'a [u8],
    pub(crate) org: &'a [u8],
    pub(crate) aal: i64,
    pub(crate) factors: i64,
    pub(crate) authenticated_at: i64,
    pub(crate) verified_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) epoch: i64,
}

/// The context of a session row.
pub(crate) fn session(c: &SessionColumns<'_>) -> RowContext {
    RowContext::new("sessions")
        .bytes("digest", c.digest)
        .bytes("id", c.id)
        .bytes("person", c.person)
        .bytes("org", c.org)
        .int("aal", c.aal)
        .int("factors", c.factors)
        .int("authenticated_at", c.authenticated_at)
        .int("verified_at", c.verified_at)
        .int("expires_at", c.expires_at)
        .int("epoch", c.epoch)
}

/// The context of a `passkey_users` row: the person and their user handle.
pub(crate) fn passkey_user(person: &[u8], handle: &[u8]) -> RowContext {
    RowContext::new("passkey_users")
        .bytes("person", person)
        .bytes("handle", handle)
}

/// The context of a `passkeys` row: the credential id, its owner, the stored credential (public
/// key, counter, flags) and the counter column the uses are guarded by.
pub(crate) fn passkey(
    credential_id: &[u8],
    person: &[u8],
    credential: &str,
    counter: i64,
) -> RowContext {
    RowContext::new("passkeys")
        .bytes("credential_id", credential_id)
        .bytes("person", person)
        .bytes("credential", credential.as_bytes())
        .int("counter", counter)
}

/// The context of a `passkey_challenges` row: every column.
pub(crate) struct PasskeyChallengeColumns<'a> {
    pub(crate) person: &'a [u8],
    pub(crate) purpose: &'a str,
    pub(crate) name: &'a str,
    pub(crate) ticket: Option<&'a [u8]>,
    pub(crate) state: &'a str,
    pub(crate) expires_at: i64,
}

/// The context of a `passkey_challenges` row.
pub(crate) fn passkey_challenge(c: &PasskeyChallengeColumns<'_>) -> RowContext {
    RowContext::new("passkey_challenges")
        .bytes("person", c.person)
        .bytes("purpose", c.purpose.as_bytes())
        .bytes("name", c.name.as_bytes())
        .bytes("ticket", c.ticket.unwrap_or_default())
        .int("has_ticket", i64::from(c.ticket.is_some()))
        .bytes("state", c.state.as_bytes())
        .int("expires_at", c.expires_at)
}

/// A remembered device: its digest, person, epoch and expiry.
pub(crate) fn device_token(
    digest: &[u8],
    person: &[u8],
    epoch: i64,
    expires_at: i64,
) -> RowContext {
    RowContext::new("device_tokens")
        .bytes("digest", digest)
        .bytes("person", person)
        .int("epoch", epoch)
        .int("expires_at", expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::sealing::{KeyId, SealingKey};
    use crate::store::sql::SqlStore;
    use crate::store::sql::dialect::{Dialect, Target as _, query};

    fn keyring(byte: u8) -> Keyring {
        Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[byte; 32]).unwrap())
    }

    #[test]
    fn a_tag_checks_only_for_its_own_row() {
        let keyring = keyring(1);
        let context = ticket(&[1; 32], "enrol_mfa", "{}", 5);
        let tag = tag(&keyring, &context).unwrap();
        check(&keyring, "tickets", &tag, &context).unwrap();
        for other in [
            ticket(&[2; 32], "enrol_mfa", "{}", 5),
            ticket(&[1; 32], "second_factor", "{}", 5),
            ticket(&[1; 32], "choose_organisation", "{}", 5),
            ticket(&[1; 32], "enrol_mfa", "{ }", 5),
            ticket(&[1; 32], "enrol_mfa", "{}", 6),
        ] {
            assert!(matches!(
                check(&keyring, "tickets", &tag, &other),
                Err(SqlStoreError::Open {
                    table: "tickets",
                    error: OpenError::Forged
                })
            ));
        }
        assert!(matches!(
            check(&keyring, "tickets", &[], &context),
            Err(SqlStoreError::Open {
                error: OpenError::Malformed,
                ..
            })
        ));
        assert!(check(&self::keyring(2), "tickets", &tag, &context).is_err());
    }

    #[test]
    fn tables_do_not_share_tags() {
        let keyring = keyring(1);
        let a = recovery_set(b"p", b"s", 1, b"x");
        let b = oob_challenge(b"p", "s", "\u{1}", b"x");
        let tag = tag(&keyring, &a).unwrap();
        assert!(check(&keyring, "oob_challenges", &tag, &b).is_err());
        assert!(retag(&keyring, "recovery_sets", &tag, &a).is_ok());
    }

    /// Lays out a version-3 database on `pool` holding one row of every kind, written as the
    /// stores wrote them before version 6 (no tags; the MFA state sealed to the person only),
    /// runs `scripts` (the migrations to version 3) first, migrates it with `store`, and checks
    /// that every row reads back unchanged.
    async fn version_3_rows_survive_the_upgrade<D: Dialect>(
        pool: &sqlx::Pool<D>,
        scripts: [&str; 3],
        store: SqlStore<D>,
    ) {
        use crate::credential::oob::{OobConfig, OobIssue, OobKey, OobSendLog};
        use crate::credential::phone::PhoneNumber;
        use crate::credential::recovery::{RecoveryCodeSet, RecoveryParams};
        use crate::credential::token::TokenDigest;
        use crate::otp::totp::Totp;
        use crate::policy::enrollment::{
            AuthenticatorName, EnrollmentConfig, EnrollmentPurpose, Mfa,
        };
        use crate::policy::ids::{OrgId, PersonId};
        use crate::policy::login::LoginProgress;
        use crate::policy::organisation::Organisation;
        use crate::store::records::{
            OobChallengeRecord, OobPurpose, PendingStep, RecoverySlot, SetupTokenRecord,
            TicketRecord,
        };
        use crate::store::sql::seal::{legacy_mfa_context, seal_mfa_in};
        use crate::store::{SecretStore, UserStore};
        const T0: u64 = 1_700_000_010;
        let (alice, bob, org) = (PersonId::new(1), PersonId::new(2), OrgId::new(100));
        for script in scripts {
            D::execute_script(script, pool.on()).await.unwrap();
        }
        D::execute_script(
            "CREATE TABLE authcore_schema (version BIGINT PRIMARY KEY NOT NULL); \
             INSERT INTO authcore_schema (version) VALUES (1), (2), (3);",
            pool.on(),
        )
        .await
        .unwrap();
        let id = |p: PersonId| p.get().to_be_bytes().to_vec();

        // The MFA state at version 2, sealed as before version 6, and its watermark.
        let config = EnrollmentConfig::default();
        let started = Mfa::new(alice)
            .start_enrollment_with_os_rng(
                EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
                None,
                &config,
                T0,
            )
            .unwrap()
            .state;
        let secret = started.enrollment().unwrap().expose_secret();
        let code = Totp::new(config.params(), secret).generate(T0).unwrap();
        let mfa = started
            .confirm_enrollment(code.expose_secret(), &config, T0)
            .unwrap()
            .state
            .recovery_codes_issued(&config, T0)
            .unwrap()
            .state
            .acknowledge_recovery_codes(&config, T0)
            .unwrap()
            .state;
        let auth = mfa.authenticators()[0].id();
        let step = mfa.authenticators()[0].last_accepted_step() + 7;
        let keyring = keyring(1);
        let (state_key, state) = seal_mfa_in(&keyring, &legacy_mfa_context(alice), &mfa).unwrap();
        query("INSERT INTO mfa (person, state_key, state, version) VALUES ($1, $2, $3, 2)")
            .bind(id(alice))
            .bind(state_key)
            .bind(state)
            .execute(pool)
            .await
            .unwrap();
        query(
            "INSERT INTO authenticator_watermarks (person, authenticator, last_step) \
             VALUES ($1, $2, $3)",
        )
        .bind(id(alice))
        .bind(i64::from(auth.get()))
        .bind(step as i64)
        .execute(pool)
        .await
        .unwrap();

        let params = RecoveryParams::builder()
            .count(10)
            .dangerous_argon2(8, 1, 1)
            .build()
            .unwrap();
        let codes = RecoveryCodeSet::generate(&params).unwrap();
        query(
            "INSERT INTO recovery_sets (person, slot, set_id, codes, spent, stored) \
             VALUES ($1, 'active', $2, $3, 1, $4)",
        )
        .bind(id(alice))
        .bind(codes.set.set_id().to_vec())
        .bind(i64::from(codes.set.len()))
        .bind(codes.set.to_stored_bytes())
        .execute(pool)
        .await
        .unwrap();

        let key = OobKey::from_bytes(&[9u8; 32]).unwrap();
        let OobIssue::Send { challenge, .. } = OobConfig::default()
            .issue_with_os_rng(&key, &OobSendLog::new(), T0)
            .unwrap()
        else {
            panic!("no challenge issued");
        };
        let phone = PhoneNumber::parse("+44 20 7946 0958").unwrap();
        query(
            "INSERT INTO oob_challenges (person, purpose, destination, challenge, expires_at) \
             VALUES ($1, 'sign_in', $2, $3, $4)",
        )
        .bind(id(alice))
        .bind(phone.e164())
        .bind(challenge.to_stored_bytes().to_vec())
        .bind(challenge.expires_at() as i64)
        .execute(pool)
        .await
        .unwrap();

        let token = SetupTokenRecord {
            digest: TokenDigest([1; 32]),
            person: bob,
            org,
            expires_at: T0 + 100,
        };
        query("INSERT INTO setup_tokens (digest, person, org, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token.digest.0.to_vec())
            .bind(id(bob))
            .bind(org.get().to_be_bytes().to_vec())
            .bind(token.expires_at as i64)
            .execute(pool)
            .await
            .unwrap();
        let ticket = TicketRecord {
            digest: TokenDigest([2; 32]),
            step: PendingStep::SecondFactor,
            progress: LoginProgress::password_verified(alice, org, T0),
            expires_at: T0 + 300,
        };
        query(
            "INSERT INTO tickets (digest, step, progress, expires_at) \
             VALUES ($1, 'second_factor', $2, $3)",
        )
        .bind(ticket.digest.0.to_vec())
        .bind(serde_json::to_string(&ticket.progress).unwrap())
        .bind(ticket.expires_at as i64)
        .execute(pool)
        .await
        .unwrap();
        query(
            "INSERT INTO people (id, login, password_hash, password_state, \
             password_expires_at, deactivated, phone, created_at) \
             VALUES ($1, 'alice', 'hash', 'current', NULL, $2, $3, 0)",
        )
        .bind(id(alice))
        .bind(false)
        .bind(phone.e164())
        .execute(pool)
        .await
        .unwrap();
        let organisation = Organisation::found(org, alice, T0).state;
        query("INSERT INTO organisations (id, state, version) VALUES ($1, $2, 3)")
            .bind(org.get().to_be_bytes().to_vec())
            .bind(serde_json::to_string(&organisation).unwrap())
            .execute(pool)
            .await
            .unwrap();

        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        let loaded = store.mfa(alice).await.unwrap().unwrap();
        assert_eq!(loaded.version, 2);
        assert_eq!(loaded.value.authenticators()[0].last_accepted_step(), step);
        assert_eq!(
            loaded.value.authenticators()[0]
                .expose_secret()
                .expose_bytes(),
            mfa.authenticators()[0].expose_secret().expose_bytes()
        );
        let set = store
            .recovery_codes(alice, RecoverySlot::Active)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(set.set_id(), codes.set.set_id());
        assert_eq!(set.spent_mask(), 1);
        assert_eq!(
            store
                .oob_challenge(alice, OobPurpose::SignIn)
                .await
                .unwrap(),
            Some(OobChallengeRecord {
                destination: phone.clone(),
                challenge,
            })
        );
        assert_eq!(
            store.take_setup_token(&token.digest, T0).await.unwrap(),
            Some(token)
        );
        assert_eq!(
            store.take_ticket(&ticket.digest, T0).await.unwrap(),
            Some(ticket)
        );
        assert_eq!(store.organisation(org).await.unwrap().unwrap().version, 3);
        assert_eq!(
            store.person(alice).await.unwrap().unwrap().phone,
            Some(phone.clone())
        );
        // The state is sealed to its version now: written back, it opens at the next one.
        assert!(
            store
                .replace_mfa(alice, &loaded.value, Some(2))
                .await
                .unwrap()
        );
        assert_eq!(store.mfa(alice).await.unwrap().unwrap().version, 3);
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_version_3_sqlite_database_keeps_its_rows_through_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("authcore.db"))
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        version_3_rows_survive_the_upgrade(
            &pool,
            [
                include_str!("../../../migrations/sqlite/0001_initial.sql"),
                include_str!("../../../migrations/sqlite/0002_oob_purpose.sql"),
                include_str!("../../../migrations/sqlite/0003_expiry_columns.sql"),
            ],
            crate::store::sql::sqlite::SqliteStore::from_pool(pool.clone(), keyring(1)),
        )
        .await;
    }

    /// Runs on the server named by `AUTHCORE_TEST_POSTGRES_URL`, in a schema of its own; without
    /// it, says so and returns.
    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_version_3_postgres_database_keeps_its_rows_through_the_upgrade() {
        use sqlx::Executor as _;
        use std::io::Write as _;
        let Some(url) = std::env::var("AUTHCORE_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: a_version_3_postgres_database_keeps_its_rows_through_the_upgrade: set \
                 AUTHCORE_TEST_POSTGRES_URL to run the PostgreSQL tests"
            );
            return;
        };
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).unwrap();
        let schema = alloc::format!("authcore_upgrade_{}", u64::from_le_bytes(suffix));
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        admin
            .execute(alloc::format!("CREATE SCHEMA {schema}").as_str())
            .await
            .unwrap();
        let search_path = alloc::format!("SET search_path TO {schema}");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .after_connect(move |conn, _| {
                let search_path = search_path.clone();
                alloc::boxed::Box::pin(async move {
                    conn.execute(search_path.as_str()).await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .unwrap();
        version_3_rows_survive_the_upgrade(
            &pool,
            [
                include_str!("../../../migrations/postgres/0001_initial.sql"),
                include_str!("../../../migrations/postgres/0002_oob_purpose.sql"),
                include_str!("../../../migrations/postgres/0003_expiry_columns.sql"),
            ],
            crate::store::sql::postgres::PostgresStore::from_pool(pool.clone(), keyring(1)),
        )
        .await;
        pool.close().await;
        admin
            .execute(alloc::format!("DROP SCHEMA {schema} CASCADE").as_str())
            .await
            .unwrap();
    }
}
