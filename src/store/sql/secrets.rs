//! [`SecretStore`] over SQL: MFA states and watermarks, recovery codes, out-of-band challenges
//! and send budgets, setup tokens and pending-login tickets.

use alloc::string::String;
use alloc::vec::Vec;

use crate::credential::oob::{OobChallenge, OobConfig, SendDecision};
use crate::credential::phone::PhoneNumber;
use crate::credential::recovery::RecoveryCodeSet;
use crate::credential::sealing::Keyring;
use crate::credential::token::TokenDigest;
use crate::policy::enrollment::Mfa;
use crate::policy::ids::{AuthenticatorId, OrgId, PersonId};
use crate::store::SecretStore;
use crate::store::records::{
    AccountTokenPurpose, AccountTokenRecord, Login, OobChallengeRecord, OobPurpose, PruneReport,
    RecoverySlot, SetupTokenRecord, TicketRecord, Versioned,
};
use crate::store::sql::codec::{
    account_purpose_from, account_purpose_name, decode_u128, from_json, login_key_text, org_bytes,
    person_bytes, purpose_name, send_log_bytes, send_log_from, slot_name, step_from, step_name,
    to_i64, to_json, to_u64,
};
use crate::store::sql::dialect::{Columns as _, Dialect, RowsAffected as _, query};
use crate::store::sql::error::SqlStoreError;
use crate::store::sql::integrity;
use crate::store::sql::seal::{open_mfa, seal_mfa};
use crate::store::sql::{SqlStore, THROTTLE_ATTEMPTS};

impl<D: Dialect> SecretStore for SqlStore<D> {
    type Error = SqlStoreError;

    async fn mfa(&self, person: PersonId) -> Result<Option<Versioned<Mfa>>, SqlStoreError> {
        let id = person_bytes(person);
        // The state and its watermark rows in one statement, so that both come from one
        // snapshot: read apart, a concurrent write (an administrator's reset, say) could fall
        // between them and pair a state with another state's watermarks.
        let rows = query(
            "SELECT m.state_key, m.state, m.version, w.authenticator, w.last_step, w.tag \
             FROM mfa m LEFT JOIN authenticator_watermarks w ON w.person = m.person \
             WHERE m.person = $1",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let state_key: Vec<u8> = first.try_get(0)?;
        let state: Vec<u8> = first.try_get(1)?;
        let version = to_u64(first.try_get(2)?, "mfa")?;
        let mut mfa = open_mfa(&self.keyring, person, version, &state_key, &state)?;
        let mut marks = Vec::with_capacity(rows.len());
        for row in &rows {
            let authenticator: Option<i64> = row.try_get(3)?;
            let last_step: Option<i64> = row.try_get(4)?;
            let tag: Option<Vec<u8>> = row.try_get(5)?;
            if let (Some(authenticator), Some(last_step), Some(tag)) =
                (authenticator, last_step, tag)
            {
                marks.push((authenticator, last_step, tag));
            }
        }
        Self::restore_watermarks(&self.keyring, &id, &mut mfa, &marks)?;
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
        let mut tx = self.pool.begin().await?;
        let (written, _) =
            Self::write_mfa(&mut tx, &self.keyring, person, mfa, expected_version).await?;
        if written {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(written)
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
        let done = query(
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
        let row = query(
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
        Ok(Some(Self::recovery_set_from(
            &self.keyring,
            &id,
            &row.try_get::<Vec<u8>>(0)?,
            row.try_get(1)?,
            &row.try_get::<Vec<u8>>(2)?,
            row.try_get(3)?,
            &row.try_get::<Vec<u8>>(4)?,
        )?))
    }

    async fn replace_recovery_codes(
        &self,
        person: PersonId,
        slot: RecoverySlot,
        set: Option<&RecoveryCodeSet>,
    ) -> Result<(), SqlStoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::write_recovery_set(&mut conn, &self.keyring, person, slot, set).await
    }

    async fn activate_pending_recovery_codes(
        &self,
        person: PersonId,
    ) -> Result<bool, SqlStoreError> {
        let id = person_bytes(person);
        let mut tx = self.pool.begin().await?;
        query("DELETE FROM recovery_sets WHERE person = $1 AND slot = 'active'")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let moved = query(
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
        let mut conn = self.pool.acquire().await?;
        Self::spend_slot(&mut conn, person, set_id, index).await
    }

    async fn oob_challenge(
        &self,
        person: PersonId,
        purpose: OobPurpose,
    ) -> Result<Option<OobChallengeRecord>, SqlStoreError> {
        let id = person_bytes(person);
        let row = query(
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
        Ok(Some(Self::oob_record_from(
            &self.keyring,
            &id,
            purpose,
            &row.try_get::<String>(0)?,
            &row.try_get::<Vec<u8>>(1)?,
            &row.try_get::<Vec<u8>>(2)?,
        )?))
    }

    async fn replace_oob_challenge(
        &self,
        person: PersonId,
        purpose: OobPurpose,
        expected: Option<&OobChallenge>,
        new: Option<&OobChallengeRecord>,
    ) -> Result<bool, SqlStoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::swap_oob(&mut conn, &self.keyring, person, purpose, expected, new).await
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
            let row = query(
                "SELECT sends, day_start, day_sends FROM oob_send_budgets \
                 WHERE person = $1 AND purpose = $2",
            )
            .bind(&who)
            .bind(what)
            .fetch_optional(&self.pool)
            .await?;
            let stored: Option<(Vec<u8>, i64, i64)> = row
                .as_ref()
                .map(|row| {
                    Ok::<_, sqlx::Error>((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
                })
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
            let expires_at = to_i64(next.expires_at().unwrap_or(now), "a send log expiry")?;
            let day_start = to_i64(next.day_start(), "a send log day")?;
            let day_sends = i64::from(next.day_sends());
            let new = send_log_bytes(&next);
            // Compare-and-swap on the log read above.
            let written = match stored {
                Some((old, old_start, old_sends)) => query(
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
                None => query(
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

    async fn insert_setup_token(&self, token: &SetupTokenRecord) -> Result<(), SqlStoreError> {
        let person = person_bytes(token.person);
        let org = org_bytes(token.org);
        let expires_at = to_i64(token.expires_at, "a token expiry")?;
        let tag = integrity::tag(
            &self.keyring,
            &integrity::setup_token(&token.digest.0, &person, &org, expires_at),
        )?;
        query(
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
        let sql = "DELETE FROM setup_tokens WHERE digest = $1 AND expires_at > $2 \
                   RETURNING person, org, expires_at, tag";
        let Some(row) = self.take_unexpired(sql, digest, now).await? else {
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

    async fn insert_account_token(&self, token: &AccountTokenRecord) -> Result<(), SqlStoreError> {
        let person = person_bytes(token.person);
        let purpose = account_purpose_name(token.purpose);
        let epoch = to_i64(token.epoch, "an epoch")?;
        let expires_at = to_i64(token.expires_at, "a token expiry")?;
        let tag = integrity::tag(
            &self.keyring,
            &integrity::account_token(&integrity::AccountTokenColumns {
                digest: &token.digest.0,
                person: &person,
                purpose,
                login: token.login.as_str(),
                address: token.address.as_str(),
                epoch,
                expires_at,
            }),
        )?;
        query(
            "INSERT INTO account_tokens (digest, person, purpose, login, address, epoch, \
             expires_at, tag) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token.digest.0.to_vec())
        .bind(person)
        .bind(purpose)
        .bind(token.login.as_str())
        .bind(token.address.as_str())
        .bind(epoch)
        .bind(expires_at)
        .bind(tag)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn account_token(
        &self,
        digest: &TokenDigest,
        purpose: AccountTokenPurpose,
        now: u64,
    ) -> Result<Option<AccountTokenRecord>, SqlStoreError> {
        let row = query(
            "SELECT person, purpose, login, address, epoch, expires_at, tag FROM account_tokens \
             WHERE digest = $1 AND purpose = $2 AND expires_at > $3",
        )
        .bind(digest.0.to_vec())
        .bind(account_purpose_name(purpose))
        .bind(to_i64(now, "the time")?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.account_token_from(digest, &row))
            .transpose()
    }

    async fn take_account_token(
        &self,
        digest: &TokenDigest,
        purpose: AccountTokenPurpose,
        now: u64,
    ) -> Result<Option<AccountTokenRecord>, SqlStoreError> {
        let row = query(
            "DELETE FROM account_tokens WHERE digest = $1 AND purpose = $2 AND expires_at > $3 \
             RETURNING person, purpose, login, address, epoch, expires_at, tag",
        )
        .bind(digest.0.to_vec())
        .bind(account_purpose_name(purpose))
        .bind(to_i64(now, "the time")?)
        .fetch_optional(&self.pool)
        .await?;
        // The row is spent either way: a forged one is gone, and an error.
        row.map(|row| self.account_token_from(digest, &row))
            .transpose()
    }

    async fn insert_ticket(&self, ticket: &TicketRecord) -> Result<(), SqlStoreError> {
        // The key of the person's login-name counter is kept beside the ticket (see
        // `LoginStore::login_snapshot`): it needs the login.
        let mut conn = self.pool.acquire().await?;
        let login: Option<String> = query("SELECT login FROM people WHERE id = $1")
            .bind(person_bytes(ticket.progress.person()))
            .fetch_optional(&mut *conn)
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
        let login_key = login.map(|login| login_key_text(&self.keyring, &login));
        Self::insert_ticket_in(&mut conn, &self.keyring, ticket, login_key.as_deref()).await
    }

    async fn take_ticket(
        &self,
        digest: &TokenDigest,
        now: u64,
    ) -> Result<Option<TicketRecord>, SqlStoreError> {
        let sql = "DELETE FROM tickets WHERE digest = $1 AND expires_at > $2 \
                   RETURNING step, progress, expires_at, tag";
        let Some(row) = self.take_unexpired(sql, digest, now).await? else {
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

    async fn prune_expired(&self, at: u64) -> Result<PruneReport, SqlStoreError> {
        let now = to_i64(at, "the time")?;
        let mut counts = [0u64; 5];
        // One guarded statement per kind; each deletes only rows no verb would use.
        for (count, statement) in counts.iter_mut().zip([
            "DELETE FROM tickets WHERE expires_at <= $1",
            "DELETE FROM setup_tokens WHERE expires_at <= $1",
            "DELETE FROM oob_challenges WHERE expires_at <= $1",
            "DELETE FROM oob_send_budgets WHERE expires_at <= $1",
            "DELETE FROM account_tokens WHERE expires_at <= $1",
        ]) {
            *count = query(statement)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        let [
            tickets,
            setup_tokens,
            oob_challenges,
            oob_send_logs,
            account_tokens,
        ] = counts;
        Ok(PruneReport {
            tickets,
            setup_tokens,
            oob_challenges,
            oob_send_logs,
            account_tokens,
            throttles: 0,
            invitations: 0,
            #[cfg(feature = "passkeys")]
            passkey_ceremonies: crate::store::PasskeyStore::prune_passkey_challenges(self, at)
                .await?,
            #[cfg(not(feature = "passkeys"))]
            passkey_ceremonies: 0,
        })
    }
}

impl<D: Dialect> SqlStore<D> {
    /// Runs `sql`, a `DELETE … WHERE digest = $1 AND expires_at > $2 RETURNING …` of a row spent
    /// once (a setup token, a ticket), and returns the row it deleted.
    /// An account token from its row (`person, purpose, login, address, epoch, expires_at,
    /// tag`), checked against its tag.
    fn account_token_from(
        &self,
        digest: &TokenDigest,
        row: &D::Row,
    ) -> Result<AccountTokenRecord, SqlStoreError> {
        let table = "account_tokens";
        let person: Vec<u8> = row.try_get(0)?;
        let purpose: String = row.try_get(1)?;
        let login: String = row.try_get(2)?;
        let address: String = row.try_get(3)?;
        let epoch: i64 = row.try_get(4)?;
        let expires_at: i64 = row.try_get(5)?;
        let tag: Vec<u8> = row.try_get(6)?;
        integrity::check(
            &self.keyring,
            table,
            &tag,
            &integrity::account_token(&integrity::AccountTokenColumns {
                digest: &digest.0,
                person: &person,
                purpose: &purpose,
                login: &login,
                address: &address,
                epoch,
                expires_at,
            }),
        )?;
        let bad = |reason| SqlStoreError::Decode { table, reason };
        Ok(AccountTokenRecord {
            digest: *digest,
            person: PersonId::new(decode_u128(&person, table)?),
            purpose: account_purpose_from(&purpose)?,
            login: Login::new(&login).ok_or(bad("invalid login"))?,
            address: Login::new(&address).ok_or(bad("invalid address"))?,
            epoch: to_u64(epoch, table)?,
            expires_at: to_u64(expires_at, table)?,
        })
    }

    async fn take_unexpired(
        &self,
        sql: &str,
        digest: &TokenDigest,
        now: u64,
    ) -> Result<Option<D::Row>, SqlStoreError> {
        Ok(query(sql)
            .bind(digest.0.to_vec())
            .bind(to_i64(now, "the time")?)
            .fetch_optional(&self.pool)
            .await?)
    }
}

/// The rows of the secret tables, read and written on a connection: shared by the
/// [`SecretStore`] verbs and the login steps' transactions
/// ([`LoginStore`](crate::store::login::LoginStore)).
impl<D: Dialect> SqlStore<D> {
    /// Checks the person's watermark rows (`(authenticator, last_step, tag)`) and restores them
    /// in `mfa`. Every authenticator's watermark row is written with the state and never deleted
    /// while the authenticator is in it: a missing one means rows were deleted, or the state was
    /// put back from an older copy, and the replay watermark might be lower than the one last
    /// accepted.
    pub(super) fn restore_watermarks(
        keyring: &Keyring,
        id: &[u8],
        mfa: &mut Mfa,
        marks: &[(i64, i64, Vec<u8>)],
    ) -> Result<(), SqlStoreError> {
        for (authenticator, last_step, tag) in marks {
            integrity::check(
                keyring,
                "authenticator_watermarks",
                tag,
                &integrity::watermark(id, *authenticator, *last_step),
            )?;
            let step = to_u64(*last_step, "authenticator_watermarks")?;
            let authenticator =
                u32::try_from(*authenticator).map_err(|_| SqlStoreError::Decode {
                    table: "authenticator_watermarks",
                    reason: "authenticator id out of range",
                })?;
            let _raised = mfa.restore_watermark(AuthenticatorId::new(authenticator), step);
        }
        if mfa
            .authenticators()
            .iter()
            .any(|a| !marks.iter().any(|(m, ..)| *m == i64::from(a.id().get())))
        {
            return Err(SqlStoreError::Decode {
                table: "authenticator_watermarks",
                reason: "an authenticator of the MFA state has no watermark row",
            });
        }
        Ok(())
    }

    /// Writes the person's MFA state only if it is still at `expected_version`, with its
    /// watermark rows (which only move up), on `conn`, inside the caller's transaction; whether
    /// it was written, and how many statements that took.
    pub(super) async fn write_mfa(
        conn: &mut D::Connection,
        keyring: &Keyring,
        person: PersonId,
        mfa: &Mfa,
        expected_version: Option<u64>,
    ) -> Result<(bool, u64), SqlStoreError> {
        let version = match expected_version {
            None => 1,
            Some(version) => version
                .checked_add(1)
                .ok_or(SqlStoreError::OutOfRange("an MFA version"))?,
        };
        let (state_key, state) = seal_mfa(keyring, person, version, mfa)?;
        let id = person_bytes(person);
        let marks = mfa
            .authenticators()
            .iter()
            .map(|a| {
                let authenticator = i64::from(a.id().get());
                let step = to_i64(a.last_accepted_step(), "a watermark")?;
                let tag = integrity::tag(keyring, &integrity::watermark(&id, authenticator, step))?;
                Ok((authenticator, step, tag))
            })
            .collect::<Result<Vec<_>, SqlStoreError>>()?;
        let written = match expected_version {
            None => query(
                "INSERT INTO mfa (person, state_key, state, version) \
                 VALUES ($1, $2, $3, 1) ON CONFLICT (person) DO NOTHING",
            )
            .bind(&id)
            .bind(&state_key)
            .bind(&state)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
            Some(version) => query(
                "UPDATE mfa SET state_key = $1, state = $2, version = version + 1 \
                 WHERE person = $3 AND version = $4",
            )
            .bind(&state_key)
            .bind(&state)
            .bind(&id)
            .bind(to_i64(version, "an MFA version")?)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        };
        let mut statements = 1;
        if written != 1 {
            return Ok((false, statements));
        }
        // Watermarks only move up; removed authenticators lose theirs.
        let stored = query("SELECT authenticator FROM authenticator_watermarks WHERE person = $1")
            .bind(&id)
            .fetch_all(&mut *conn)
            .await?;
        statements = statements.saturating_add(1);
        for row in &stored {
            let authenticator: i64 = row.try_get(0)?;
            if !marks.iter().any(|(a, ..)| *a == authenticator) {
                query(
                    "DELETE FROM authenticator_watermarks \
                     WHERE person = $1 AND authenticator = $2",
                )
                .bind(&id)
                .bind(authenticator)
                .execute(&mut *conn)
                .await?;
                statements = statements.saturating_add(1);
            }
        }
        for (authenticator, step, tag) in marks {
            query(
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
            .execute(&mut *conn)
            .await?;
            statements = statements.saturating_add(1);
        }
        Ok((true, statements))
    }

    /// A recovery set from its columns, checked against its tag.
    pub(super) fn recovery_set_from(
        keyring: &Keyring,
        id: &[u8],
        stored: &[u8],
        spent: i64,
        set_id: &[u8],
        codes: i64,
        tag: &[u8],
    ) -> Result<RecoveryCodeSet, SqlStoreError> {
        let bad = |reason| SqlStoreError::Decode {
            table: "recovery_sets",
            reason,
        };
        integrity::check(
            keyring,
            "recovery_sets",
            tag,
            &integrity::recovery_set(id, set_id, codes, stored),
        )?;
        let mut set = RecoveryCodeSet::from_stored_bytes(stored)
            .map_err(|_| bad("the stored set does not decode"))?;
        if set.set_id().as_slice() != set_id || i64::from(set.len()) != codes {
            return Err(bad("the set's columns disagree with its stored bytes"));
        }
        let spent = u16::try_from(spent).map_err(|_| bad("spent mask out of range"))?;
        set.merge_spent_mask(spent)
            .map_err(|_| bad("spent mask outside the set"))?;
        Ok(set)
    }

    /// Stores a whole recovery set in a slot, or deletes it, on `conn`.
    pub(super) async fn write_recovery_set(
        conn: &mut D::Connection,
        keyring: &Keyring,
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
                    keyring,
                    &integrity::recovery_set(&id, &set_id, codes, &stored),
                )?;
                query(
                    "INSERT INTO recovery_sets \
                     (person, slot, set_id, codes, spent, stored, tag) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (person, slot) DO UPDATE \
                     SET set_id = excluded.set_id, codes = excluded.codes, \
                     spent = CASE WHEN recovery_sets.set_id = excluded.set_id \
                     THEN recovery_sets.spent | excluded.spent ELSE excluded.spent END, \
                     stored = excluded.stored, \
                     tag = excluded.tag",
                )
                .bind(&id)
                .bind(slot_name(slot))
                .bind(set_id)
                .bind(codes)
                .bind(i64::from(set.spent_mask()))
                .bind(stored)
                .bind(tag)
                .execute(&mut *conn)
                .await?;
            }
            None => {
                query("DELETE FROM recovery_sets WHERE person = $1 AND slot = $2")
                    .bind(person_bytes(person))
                    .bind(slot_name(slot))
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Spends slot `index` of the active set `set_id`, if unspent, on `conn`.
    pub(super) async fn spend_slot(
        conn: &mut D::Connection,
        person: PersonId,
        set_id: [u8; 16],
        index: u8,
    ) -> Result<bool, SqlStoreError> {
        let Some(bit) = 1u16.checked_shl(u32::from(index)) else {
            return Ok(false);
        };
        let bit = i64::from(bit);
        let done = query(
            "UPDATE recovery_sets SET spent = spent | $1 \
             WHERE person = $2 AND set_id = $3 AND slot = 'active' \
             AND (spent & $1) = 0 AND $4 < codes",
        )
        .bind(bit)
        .bind(person_bytes(person))
        .bind(set_id.to_vec())
        .bind(i64::from(index))
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An out-of-band challenge from its columns, checked against its tag.
    pub(super) fn oob_record_from(
        keyring: &Keyring,
        id: &[u8],
        purpose: OobPurpose,
        destination: &str,
        bytes: &[u8],
        tag: &[u8],
    ) -> Result<OobChallengeRecord, SqlStoreError> {
        let bad = |reason| SqlStoreError::Decode {
            table: "oob_challenges",
            reason,
        };
        integrity::check(
            keyring,
            "oob_challenges",
            tag,
            &integrity::oob_challenge(id, purpose_name(purpose), destination, bytes),
        )?;
        Ok(OobChallengeRecord {
            destination: PhoneNumber::parse(destination)
                .map_err(|_| bad("invalid destination phone number"))?,
            challenge: OobChallenge::from_stored_bytes(bytes)
                .map_err(|_| bad("the stored challenge does not decode"))?,
        })
    }

    /// Stores a ticket with its person and the key of their login-name counter, on `conn`.
    pub(super) async fn insert_ticket_in(
        conn: &mut D::Connection,
        keyring: &Keyring,
        ticket: &TicketRecord,
        login_key: Option<&str>,
    ) -> Result<(), SqlStoreError> {
        let step = step_name(ticket.step);
        let progress = to_json(&ticket.progress, "tickets")?;
        let expires_at = to_i64(ticket.expires_at, "a ticket expiry")?;
        let tag = integrity::tag(
            keyring,
            &integrity::ticket(&ticket.digest.0, step, &progress, expires_at),
        )?;
        query(
            "INSERT INTO tickets (digest, step, progress, expires_at, tag, person, login_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ticket.digest.0.to_vec())
        .bind(step)
        .bind(progress)
        .bind(expires_at)
        .bind(tag)
        .bind(person_bytes(ticket.progress.person()))
        .bind(login_key)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Replaces the person's challenge for `purpose` only if it is still `expected`, on `conn`.
    pub(super) async fn swap_oob(
        conn: &mut D::Connection,
        keyring: &Keyring,
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
                keyring,
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
                let row = query(
                    "SELECT count(*) FROM oob_challenges \
                     WHERE person = $1 AND purpose = $2",
                )
                .bind(&id)
                .bind(purpose)
                .fetch_one(&mut *conn)
                .await?;
                let count: i64 = row.try_get(0)?;
                return Ok(count == 0);
            }
            (None, Some(new)) => query(
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
            .execute(&mut *conn)
            .await?
            .rows_affected(),
            (Some(expected), Some(new)) => query(
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
            .execute(&mut *conn)
            .await?
            .rows_affected(),
            (Some(expected), None) => query(
                "DELETE FROM oob_challenges \
                 WHERE person = $1 AND purpose = $2 AND challenge = $3",
            )
            .bind(&id)
            .bind(purpose)
            .bind(expected)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        };
        Ok(affected == 1)
    }
}
