//! [`LoginStore`] over SQL: a login step's snapshot in one joined statement, and its guarded
//! writes in one transaction.
//!
//! The snapshot joins, from the ticket (or the login name, or the person): the person, the
//! organisation named, the MFA state with its watermark rows (aggregated as JSON), the active
//! recovery set, the four throttle counters (the login name's is found through the key stored
//! beside the ticket) and the sign-in out-of-band challenge. Every tagged row is checked as the
//! single-table reads check it.
//!
//! [`LoginStore::locked_step`] begins with [`Dialect::BEGIN_LOCKED`] and reads the snapshot with
//! [`Dialect::LOCK_PERSON`]: SQLite takes its write lock at `BEGIN IMMEDIATE`, so the read is
//! authoritative; PostgreSQL locks the person's row `FOR UPDATE`. A PostgreSQL statement that
//! waited for that lock read the other tables as they were when it started, so every write is
//! guarded by what was read, and a step whose guard fails is rolled back and decided again: the
//! retry reads twice, the first read waiting for the lock and the second starting after it, so
//! that it sees what the previous holder committed.
//!
//! With feature `test-util` the store counts the statements and commits these verbs run
//! ([`SqlStore::take_statement_counts`]); `BEGIN` and `COMMIT` are not counted as statements.

use alloc::string::String;
use alloc::vec::Vec;

use crate::credential::throttle::ThrottleState;
use crate::policy::ids::{AuthenticatorId, OrgId, PersonId, SessionId};
use crate::store::login::{
    CounterWrite, FactorRemoval, LoginCounters, LoginSnapshot, LoginStore, SnapshotAt, StepWrite,
};
use crate::store::records::{OobPurpose, TicketRecord, Versioned};
use crate::store::sql::codec::{
    from_json, login_key_text, org_bytes, person_bytes, step_from, throttle_key_text, to_i64,
    to_u64,
};
use crate::store::sql::dialect::{Columns as _, Dialect, RowsAffected as _, query};
use crate::store::sql::error::SqlStoreError;
use crate::store::sql::integrity;
use crate::store::sql::people::PERSON_COLUMNS;
use crate::store::sql::seal::open_mfa;
use crate::store::sql::{SqlStore, Tx};

/// How many times a locked step is decided again after a guard failed.
const STEP_ATTEMPTS: usize = 64;

/// The snapshot's columns after the person's ten ([`PERSON_COLUMNS`] order).
const SNAPSHOT_COLUMNS: &str = "o.state, o.version, o.tag, \
    m.state_key, m.state, m.version, \
    r.stored, r.spent, r.set_id, r.codes, r.tag, \
    lk.failures, lk.not_before, lk.locked, lk.forget_at, \
    tt.failures, tt.not_before, tt.locked, tt.forget_at, \
    tr.failures, tr.not_before, tr.locked, tr.forget_at, \
    tb.failures, tb.not_before, tb.locked, tb.forget_at, \
    c.destination, c.challenge, c.tag";

/// Where each group of columns starts in a snapshot row.
mod col {
    pub(super) const ORG: usize = 10;
    pub(super) const MFA: usize = 13;
    pub(super) const RECOVERY: usize = 16;
    pub(super) const LOGIN: usize = 21;
    pub(super) const TOTP: usize = 25;
    pub(super) const RECOVERY_CODE: usize = 29;
    pub(super) const OUT_OF_BAND: usize = 33;
    pub(super) const CHALLENGE: usize = 37;
    pub(super) const WATERMARKS: usize = 40;
    pub(super) const EPOCH: usize = 41;
    /// The passkey counter and whether the person has a passkey (feature `passkeys`).
    #[cfg(feature = "passkeys")]
    pub(super) const PASSKEY: usize = 42;
    pub(super) const TICKET: usize = 42 + super::PASSKEY_WIDTH;
}

/// The passkey columns after the epoch (feature `passkeys`): the passkey counter, and whether the
/// person has a registered credential.
#[cfg(feature = "passkeys")]
const PASSKEY_SNAPSHOT: &str = ", tk.failures, tk.not_before, tk.locked, tk.forget_at, \
    EXISTS (SELECT 1 FROM passkeys pk WHERE pk.person = p.id)";
#[cfg(not(feature = "passkeys"))]
const PASSKEY_SNAPSHOT: &str = "";
/// How many columns [`PASSKEY_SNAPSHOT`] reads.
const PASSKEY_WIDTH: usize = if cfg!(feature = "passkeys") { 5 } else { 0 };

/// The joins of a snapshot, given the person as `p` and the login name's counter key as
/// `login_key` (an SQL expression).
fn joins<D: Dialect>(login_key: &str) -> String {
    let factor = |alias: &str, name: &str| {
        alloc::format!(
            "LEFT JOIN throttle_keys {alias} ON {alias}.key = 'person:' || {} || ':{name}' ",
            D::HEX_PERSON_ID
        )
    };
    let mut joins = String::from(
        "LEFT JOIN organisations o ON o.id = $2 \
         LEFT JOIN mfa m ON m.person = p.id \
         LEFT JOIN recovery_sets r ON r.person = p.id AND r.slot = 'active' ",
    );
    joins.push_str(&alloc::format!(
        "LEFT JOIN throttle_keys lk ON lk.key = {login_key} "
    ));
    joins.push_str(&factor("tt", "totp"));
    joins.push_str(&factor("tr", "recovery_code"));
    joins.push_str(&factor("tb", "out_of_band"));
    #[cfg(feature = "passkeys")]
    joins.push_str(&factor("tk", "passkey"));
    joins.push_str("LEFT JOIN oob_challenges c ON c.person = p.id AND c.purpose = 'sign_in' ");
    joins
}

/// The person's columns, qualified by `p`.
fn person_columns() -> String {
    PERSON_COLUMNS
        .split(", ")
        .map(|c| alloc::format!("p.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The snapshot statement for `at`, locking the person with `lock` (empty for none).
///
/// Parameters: `$1` the ticket digest, login name or person id; `$2` the organisation (or
/// NULL); `$3` the time (tickets) or the login name's counter key (login names).
fn snapshot_sql<D: Dialect>(at: &SnapshotAt<'_>, lock: &str) -> String {
    let person = person_columns();
    let (people, from, login_key, ticket) = match at {
        SnapshotAt::Ticket(_) => (
            "id = (SELECT person FROM tickets WHERE digest = $1 AND expires_at > $3)",
            "FROM tickets t LEFT JOIN lp p ON p.id = t.person ",
            "t.login_key",
            ", t.step, t.progress, t.expires_at, t.tag, t.person",
        ),
        SnapshotAt::Login(_) => (
            "login = $1",
            "FROM (SELECT 1 AS one) d LEFT JOIN lp p ON 1 = 1 ",
            "$3",
            "",
        ),
        SnapshotAt::Person(_) => ("id = $1", "FROM lp p ", "NULL", ""),
    };
    let mut sql = alloc::format!(
        "WITH lp AS (SELECT {PERSON_COLUMNS}, epoch FROM people WHERE {people}{lock}) \
         SELECT {person}, {SNAPSHOT_COLUMNS}, {} AS watermarks, p.epoch{PASSKEY_SNAPSHOT}{ticket} \
         {from}",
        D::WATERMARKS_JSON
    );
    sql.push_str(&joins::<D>(login_key));
    if let SnapshotAt::Ticket(_) = at {
        sql.push_str("WHERE t.digest = $1 AND t.expires_at > $3");
    }
    sql
}

impl<D: Dialect> SqlStore<D> {
    /// Reads a snapshot on `conn`, locking the person with `lock`.
    async fn read_snapshot(
        &self,
        conn: &mut D::Connection,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
        lock: &str,
    ) -> Result<LoginSnapshot, SqlStoreError> {
        let sql = snapshot_sql::<D>(&at, lock);
        let requested = org;
        let org = org.map(org_bytes);
        let query = query::<D>(&sql);
        let query = match at {
            SnapshotAt::Ticket(digest) => query
                .bind(digest.0.to_vec())
                .bind(org)
                .bind(to_i64(now, "the time")?),
            SnapshotAt::Login(login) => query
                .bind(String::from(login.as_str()))
                .bind(org)
                .bind(login_key_text(&self.keyring, login.as_str())),
            SnapshotAt::Person(id) => query.bind(person_bytes(id)).bind(org),
        };
        self.count_statement();
        let Some(row) = query.fetch_optional(conn).await? else {
            return Ok(LoginSnapshot::default());
        };
        self.snapshot_from_row(&row, &at, requested)
    }

    fn snapshot_from_row(
        &self,
        row: &D::Row,
        at: &SnapshotAt<'_>,
        snapshot_org: Option<OrgId>,
    ) -> Result<LoginSnapshot, SqlStoreError> {
        let keyring = &*self.keyring;
        let mut snapshot = LoginSnapshot {
            counters: LoginCounters {
                login: counter_from::<D>(row, col::LOGIN)?,
                totp: counter_from::<D>(row, col::TOTP)?,
                recovery_code: counter_from::<D>(row, col::RECOVERY_CODE)?,
                out_of_band: counter_from::<D>(row, col::OUT_OF_BAND)?,
                #[cfg(feature = "passkeys")]
                passkey: counter_from::<D>(row, col::PASSKEY)?,
            },
            ..LoginSnapshot::default()
        };
        if let SnapshotAt::Ticket(digest) = at {
            // The ticket is checked first: a forged one is an error, whatever it points at.
            let step: String = row.try_get(col::TICKET)?;
            let progress: String = row.try_get(col::TICKET + 1)?;
            let expires_at: i64 = row.try_get(col::TICKET + 2)?;
            let tag: Vec<u8> = row.try_get(col::TICKET + 3)?;
            integrity::check(
                keyring,
                "tickets",
                &tag,
                &integrity::ticket(&digest.0, &step, &progress, expires_at),
            )?;
            snapshot.ticket = Some(TicketRecord {
                digest: **digest,
                step: step_from(&step)?,
                progress: from_json(&progress, "tickets")?,
                expires_at: to_u64(expires_at, "tickets")?,
            });
        }
        let id: Option<Vec<u8>> = row.try_get(0)?;
        let Some(id) = id else {
            // Nobody holds the login name, or the ticket's person is gone.
            return Ok(snapshot);
        };
        let person = Self::person_from_row(keyring, row)?;
        if snapshot
            .ticket
            .is_some_and(|t| t.progress.person() != person.id)
        {
            return Err(SqlStoreError::Decode {
                table: "tickets",
                reason: "the ticket's person column disagrees with its progress",
            });
        }
        let org: Option<String> = row.try_get(col::ORG)?;
        if let Some(state) = org {
            let version: i64 = row.try_get(col::ORG + 1)?;
            let tag: Vec<u8> = row.try_get(col::ORG + 2)?;
            let org = snapshot_org.ok_or(SqlStoreError::Decode {
                table: "organisations",
                reason: "an organisation was read without one named",
            })?;
            let value = Self::organisation_from(keyring, org, &state, version, &tag)?;
            snapshot.organisation = Some(Versioned {
                value,
                version: to_u64(version, "organisations")?,
            });
        }
        let state_key: Option<Vec<u8>> = row.try_get(col::MFA)?;
        if let Some(state_key) = state_key {
            let state: Vec<u8> = row.try_get(col::MFA + 1)?;
            let version = to_u64(row.try_get(col::MFA + 2)?, "mfa")?;
            let mut mfa = open_mfa(keyring, person.id, version, &state_key, &state)?;
            let watermarks: Option<String> = row.try_get(col::WATERMARKS)?;
            let marks = watermarks_from(watermarks.as_deref().unwrap_or("[]"))?;
            Self::restore_watermarks(keyring, &id, &mut mfa, &marks)?;
            snapshot.mfa = Some(Versioned {
                value: mfa,
                version,
            });
        }
        let stored: Option<Vec<u8>> = row.try_get(col::RECOVERY)?;
        if let Some(stored) = stored {
            snapshot.recovery = Some(Self::recovery_set_from(
                keyring,
                &id,
                &stored,
                row.try_get(col::RECOVERY + 1)?,
                &row.try_get::<Vec<u8>>(col::RECOVERY + 2)?,
                row.try_get(col::RECOVERY + 3)?,
                &row.try_get::<Vec<u8>>(col::RECOVERY + 4)?,
            )?);
        }
        let destination: Option<String> = row.try_get(col::CHALLENGE)?;
        if let Some(destination) = destination {
            snapshot.sign_in_challenge = Some(Self::oob_record_from(
                keyring,
                &id,
                OobPurpose::SignIn,
                &destination,
                &row.try_get::<Vec<u8>>(col::CHALLENGE + 1)?,
                &row.try_get::<Vec<u8>>(col::CHALLENGE + 2)?,
            )?);
        }
        let epoch: Option<i64> = row.try_get(col::EPOCH)?;
        snapshot.epoch = epoch.map(|e| to_u64(e, "people")).transpose()?;
        #[cfg(feature = "passkeys")]
        {
            let has: Option<bool> = row.try_get(col::PASSKEY + 4)?;
            snapshot.has_passkey = has.unwrap_or(false);
        }
        snapshot.person = Some(person);
        Ok(snapshot)
    }

    /// Applies `write` on `conn` (inside a transaction when it writes more than once); whether
    /// every guard held. Rolling back is the caller's.
    async fn write_step(
        &self,
        conn: &mut D::Connection,
        write: &StepWrite,
    ) -> Result<bool, SqlStoreError> {
        let keyring = &*self.keyring;
        for counter in write.counters.iter().filter(|c| !c.is_noop()) {
            if !self.swap_counter(conn, counter).await? {
                return Ok(false);
            }
        }
        if let Some((person, authenticator, step)) = write.watermark
            && !self
                .raise_watermark(conn, person, authenticator, step)
                .await?
        {
            return Ok(false);
        }
        if let Some((person, set_id, index)) = write.recovery_spend {
            self.count_statement();
            if !Self::spend_slot(conn, person, set_id, index).await? {
                return Ok(false);
            }
        }
        if let Some(oob) = &write.oob {
            self.count_statement();
            let expected = Some(&oob.expected);
            let new = oob.new.as_ref();
            if !Self::swap_oob(conn, keyring, oob.person, oob.purpose, expected, new).await? {
                return Ok(false);
            }
        }
        if let Some(m) = &write.mfa {
            let (written, statements) =
                Self::write_mfa(conn, keyring, m.person, &m.mfa, m.expected_version).await?;
            self.count_statements(statements);
            if !written {
                return Ok(false);
            }
        }
        if let Some((person, slot, set)) = &write.recovery_set {
            self.count_statement();
            Self::write_recovery_set(conn, keyring, *person, *slot, Some(set)).await?;
        }
        if let Some(digest) = write.spend_ticket {
            self.count_statement();
            let spent = query("DELETE FROM tickets WHERE digest = $1")
                .bind(digest.0.to_vec())
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if spent != 1 {
                return Ok(false);
            }
        }
        if let Some(next) = &write.next_ticket {
            self.count_statement();
            let login_key = login_key_text(keyring, next.login.as_str());
            Self::insert_ticket_in(conn, keyring, &next.record, Some(&login_key)).await?;
        }
        Ok(true)
    }

    /// How many statements `write` runs (to run a single one without a transaction).
    fn statements_of(write: &StepWrite) -> usize {
        let others = [
            write.watermark.is_some(),
            write.recovery_spend.is_some(),
            write.oob.is_some(),
            // An MFA state is written with its watermark rows.
            write.mfa.is_some(),
            write.mfa.is_some(),
            write.recovery_set.is_some(),
            write.spend_ticket.is_some(),
            write.next_ticket.is_some(),
        ];
        let counters = write.counters.iter().filter(|c| !c.is_noop()).count();
        counters.saturating_add(others.iter().filter(|w| **w).count())
    }

    /// A counter's compare-and-swap on `conn`.
    async fn swap_counter(
        &self,
        conn: &mut D::Connection,
        counter: &CounterWrite,
    ) -> Result<bool, SqlStoreError> {
        self.count_statement();
        let key = throttle_key_text(&self.keyring, &counter.key);
        let raw = |s: ThrottleState| -> Result<(i64, i64, bool, i64), SqlStoreError> {
            Ok((
                i64::from(s.failures()),
                to_i64(s.not_before(), "a throttle time")?,
                s.is_locked(),
                to_i64(s.forget_at(), "a throttle time")?,
            ))
        };
        let (failures, not_before, locked, forget_at) = raw(counter.new)?;
        let written = match counter.expected {
            Some(expected) => {
                let (f, nb, l, fa) = raw(expected)?;
                if counter.new == ThrottleState::new() {
                    query(
                        "DELETE FROM throttle_keys WHERE key = $1 AND failures = $2 \
                         AND not_before = $3 AND locked = $4 AND forget_at = $5",
                    )
                    .bind(key)
                    .bind(f)
                    .bind(nb)
                    .bind(l)
                    .bind(fa)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected()
                } else {
                    query(
                        "UPDATE throttle_keys SET failures = $1, not_before = $2, \
                         locked = $3, forget_at = $4 WHERE key = $5 AND failures = $6 \
                         AND not_before = $7 AND locked = $8 AND forget_at = $9",
                    )
                    .bind(failures)
                    .bind(not_before)
                    .bind(locked)
                    .bind(forget_at)
                    .bind(key)
                    .bind(f)
                    .bind(nb)
                    .bind(l)
                    .bind(fa)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected()
                }
            }
            None => query(
                "INSERT INTO throttle_keys (key, failures, not_before, locked, forget_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(failures)
            .bind(not_before)
            .bind(locked)
            .bind(forget_at)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        };
        Ok(written == 1)
    }

    /// The guarded watermark raise on `conn`.
    async fn raise_watermark(
        &self,
        conn: &mut D::Connection,
        person: PersonId,
        authenticator: AuthenticatorId,
        step: u64,
    ) -> Result<bool, SqlStoreError> {
        self.count_statement();
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
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Begins a transaction for a step: locked (see the module docs) or not.
    async fn begin_step(&self, locked: bool) -> Result<Tx<D>, SqlStoreError> {
        Ok(if locked {
            self.pool.begin_with(D::BEGIN_LOCKED).await?
        } else {
            self.pool.begin().await?
        })
    }

    async fn commit_step(&self, tx: Tx<D>) -> Result<(), SqlStoreError> {
        tx.commit().await?;
        self.count_commit();
        Ok(())
    }
}

impl<D: Dialect> LoginStore for SqlStore<D> {
    async fn login_snapshot(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<LoginSnapshot, SqlStoreError> {
        let mut conn = self.pool.acquire().await?;
        self.read_snapshot(&mut conn, at, org, now, "").await
    }

    async fn apply_step(&self, write: &StepWrite) -> Result<bool, SqlStoreError> {
        match Self::statements_of(write) {
            0 => Ok(true),
            1 => {
                // One guarded statement commits on its own.
                let mut conn = self.pool.acquire().await?;
                let applied = self.write_step(&mut conn, write).await?;
                if applied {
                    self.count_commit();
                }
                Ok(applied)
            }
            _ => {
                let mut tx = self.begin_step(false).await?;
                if self.write_step(&mut tx, write).await? {
                    self.commit_step(tx).await?;
                    Ok(true)
                } else {
                    tx.rollback().await?;
                    Ok(false)
                }
            }
        }
    }

    async fn locked_step<T, F>(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
        mut decide: F,
    ) -> Result<T, SqlStoreError>
    where
        F: FnMut(&LoginSnapshot) -> (StepWrite, T) + Send,
        T: Send,
    {
        for attempt in 0..STEP_ATTEMPTS {
            let mut tx = self.begin_step(true).await?;
            if attempt > 0 && !D::LOCK_PERSON.is_empty() {
                // Lost a guard: take the lock first, so that the read after it starts after the
                // previous holder committed.
                let _ = self
                    .read_snapshot(&mut tx, at, org, now, D::LOCK_PERSON)
                    .await?;
            }
            let snapshot = self
                .read_snapshot(&mut tx, at, org, now, D::LOCK_PERSON)
                .await?;
            let (write, value) = decide(&snapshot);
            drop(snapshot);
            if Self::statements_of(&write) == 0 {
                // Nothing to write: the read-only transaction ends without a commit to count.
                tx.rollback().await?;
                return Ok(value);
            }
            if self.write_step(&mut tx, &write).await? {
                self.commit_step(tx).await?;
                return Ok(value);
            }
            tx.rollback().await?;
        }
        Err(SqlStoreError::Contention)
    }

    async fn remove_factor(
        &self,
        person: PersonId,
        factor: &FactorRemoval,
        expected_epoch: u64,
        keep: Option<SessionId>,
    ) -> Result<Option<u64>, SqlStoreError> {
        let id = person_bytes(person);
        // SQLite takes its write lock at once; PostgreSQL's guarded update locks the person's
        // row, and a removal waiting on it finds the epoch moved once the first commits.
        let mut tx = self.pool.begin_with(D::BEGIN_LOCKED).await?;
        let Some(epoch) = self.bump_in(&mut tx, &id, Some(expected_epoch)).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let removed = match factor {
            FactorRemoval::Phone => {
                let tag = crate::store::sql::people::phone_tag(&self.keyring, &id, None)?;
                query(
                    "UPDATE people SET phone = NULL, phone_tag = $1 \
                     WHERE id = $2 AND phone IS NOT NULL",
                )
                .bind(tag)
                .bind(&id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            }
            #[cfg(feature = "passkeys")]
            FactorRemoval::Passkey { credential_id } => {
                query("DELETE FROM passkeys WHERE person = $1 AND credential_id = $2")
                    .bind(&id)
                    .bind(credential_id.as_slice())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            }
        };
        if removed != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        self.end_sessions_in(&mut tx, &id, keep, epoch).await?;
        tx.commit().await?;
        Ok(Some(to_u64(epoch, "people")?))
    }
}

/// A throttle counter from four nullable columns starting at `at`.
fn counter_from<D: Dialect>(
    row: &D::Row,
    at: usize,
) -> Result<Option<ThrottleState>, SqlStoreError> {
    let failures: Option<i64> = row.try_get(at)?;
    let Some(failures) = failures else {
        return Ok(None);
    };
    let not_before: Option<i64> = row.try_get(at.saturating_add(1))?;
    let locked: Option<bool> = row.try_get(at.saturating_add(2))?;
    let forget_at: Option<i64> = row.try_get(at.saturating_add(3))?;
    let bad = || SqlStoreError::Decode {
        table: "throttle_keys",
        reason: "a counter column is missing or out of range",
    };
    Ok(Some(ThrottleState::from_parts(
        u8::try_from(failures).map_err(|_| bad())?,
        to_u64(not_before.ok_or_else(bad)?, "throttle_keys")?,
        locked.ok_or_else(bad)?,
        to_u64(forget_at.ok_or_else(bad)?, "throttle_keys")?,
    )))
}

/// The watermark rows aggregated as JSON: `[[authenticator, last_step, "tag hex"], …]`.
fn watermarks_from(json: &str) -> Result<Vec<(i64, i64, Vec<u8>)>, SqlStoreError> {
    let bad = |reason| SqlStoreError::Decode {
        table: "authenticator_watermarks",
        reason,
    };
    let rows: Vec<(i64, i64, String)> =
        serde_json::from_str(json).map_err(|_| bad("the aggregated rows do not decode"))?;
    rows.into_iter()
        .map(|(authenticator, step, tag)| {
            let tag = data_encoding::HEXLOWER_PERMISSIVE
                .decode(tag.as_bytes())
                .map_err(|_| bad("a tag is not hex"))?;
            Ok((authenticator, step, tag))
        })
        .collect()
}

/// The statements and commits a store's login verbs ran.
#[cfg(feature = "test-util")]
#[derive(Debug, Default)]
pub(super) struct StatementCounter {
    statements: core::sync::atomic::AtomicU64,
    commits: core::sync::atomic::AtomicU64,
}

impl<D: Dialect> SqlStore<D> {
    /// The statements and the commits the login verbs
    /// ([`LoginStore`]), and the reads of organisations the password step makes without one
    /// ([`UserStore::organisations_of`](crate::store::UserStore::organisations_of), [`UserStore::organisation`](crate::store::UserStore::organisation)), ran since the last call, and starts counting afresh (feature
    /// `test-util`): for the statement budgets of the login steps. `BEGIN` and `COMMIT` are not
    /// statements; a commit is a `COMMIT` or a write statement that commits alone.
    #[cfg(feature = "test-util")]
    pub fn take_statement_counts(&self) -> (u64, u64) {
        use core::sync::atomic::Ordering;
        (
            self.counts.statements.swap(0, Ordering::SeqCst),
            self.counts.commits.swap(0, Ordering::SeqCst),
        )
    }

    fn count_statements(&self, n: u64) {
        #[cfg(feature = "test-util")]
        {
            let _ = self
                .counts
                .statements
                .fetch_add(n, core::sync::atomic::Ordering::SeqCst);
        }
        #[cfg(not(feature = "test-util"))]
        let _ = n;
    }

    pub(super) fn count_statement(&self) {
        self.count_statements(1);
    }

    pub(super) fn count_commit(&self) {
        #[cfg(feature = "test-util")]
        {
            let _ = self
                .counts
                .commits
                .fetch_add(1, core::sync::atomic::Ordering::SeqCst);
        }
    }
}
