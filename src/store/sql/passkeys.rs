//! [`PasskeyStore`] over SQL: `passkey_users`, `passkeys` and `passkey_challenges`, every row
//! tagged (see [`integrity`]). Each verb is one guarded statement whose affected rows (or
//! returned row) is the answer.

use alloc::string::String;
use alloc::vec::Vec;

use crate::credential::passkey::{CredentialKey, UserHandle};
use crate::credential::token::TokenDigest;
use crate::policy::ids::{PersonId, SessionId};
use crate::store::passkeys::{
    PasskeyChallengeRecord, PasskeyPurpose, PasskeyRecord, PasskeyStore, PasskeyUseWrite,
};
use crate::store::sql::SqlStore;
use crate::store::sql::codec::{decode_u128, person_bytes, to_i64, to_u64};
use crate::store::sql::dialect::{Columns as _, Dialect, RowsAffected as _, query};
use crate::store::sql::error::SqlStoreError;
use crate::store::sql::integrity::{self, PasskeyChallengeColumns};

/// The columns [`SqlStore::passkey_from_row`] reads, in its order.
const PASSKEY_COLUMNS: &str = "credential_id, person, name, credential, counter, \
    backup_eligible, backup_state, created_at, last_used_at, tag";

fn purpose_text(purpose: PasskeyPurpose) -> &'static str {
    match purpose {
        PasskeyPurpose::Register => "register",
        PasskeyPurpose::SignIn => "sign_in",
        PasskeyPurpose::Acknowledge => "acknowledge",
        PasskeyPurpose::Reauthenticate => "reauthenticate",
        PasskeyPurpose::Passwordless => "passwordless",
    }
}

fn counter_from(value: i64) -> Result<u32, SqlStoreError> {
    u32::try_from(value).map_err(|_| SqlStoreError::Decode {
        table: "passkeys",
        reason: "a counter out of range",
    })
}

impl<D: Dialect> SqlStore<D> {
    /// A credential from a [`PASSKEY_COLUMNS`] row, its tag checked.
    fn passkey_from_row(&self, row: &D::Row) -> Result<PasskeyRecord, SqlStoreError> {
        let credential_id: Vec<u8> = row.try_get(0)?;
        let person: Vec<u8> = row.try_get(1)?;
        let credential: String = row.try_get(3)?;
        let counter: i64 = row.try_get(4)?;
        let tag: Vec<u8> = row.try_get(9)?;
        integrity::check(
            &self.keyring,
            "passkeys",
            &tag,
            &integrity::passkey(&credential_id, &person, &credential, counter),
        )?;
        let last_used_at: Option<i64> = row.try_get(8)?;
        Ok(PasskeyRecord {
            person: PersonId::new(decode_u128(&person, "passkeys")?),
            credential_id,
            name: row.try_get(2)?,
            key: CredentialKey::from_stored(credential),
            counter: counter_from(counter)?,
            backup_eligible: row.try_get(5)?,
            backup_state: row.try_get(6)?,
            created_at: to_u64(row.try_get(7)?, "passkeys")?,
            last_used_at: last_used_at.map(|t| to_u64(t, "passkeys")).transpose()?,
        })
    }
}

impl<D: Dialect> PasskeyStore for SqlStore<D> {
    type Error = SqlStoreError;

    async fn ensure_user_handle(
        &self,
        person: PersonId,
        candidate: UserHandle,
    ) -> Result<Option<UserHandle>, SqlStoreError> {
        let id = person_bytes(person);
        let handle = candidate.as_bytes().to_vec();
        let tag = integrity::tag(&self.keyring, &integrity::passkey_user(&id, &handle))?;
        query(
            "INSERT INTO passkey_users (person, handle, tag) \
             SELECT id, $1, $2 FROM people WHERE id = $3 ON CONFLICT DO NOTHING",
        )
        .bind(&handle)
        .bind(tag)
        .bind(&id)
        .execute(&self.pool)
        .await?;
        let Some(row) = query("SELECT handle, tag FROM passkey_users WHERE person = $1")
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let stored: Vec<u8> = row.try_get(0)?;
        let tag: Vec<u8> = row.try_get(1)?;
        integrity::check(
            &self.keyring,
            "passkey_users",
            &tag,
            &integrity::passkey_user(&id, &stored),
        )?;
        let bytes: [u8; 16] = stored.try_into().map_err(|_| SqlStoreError::Decode {
            table: "passkey_users",
            reason: "a user handle of the wrong length",
        })?;
        Ok(Some(UserHandle::from_bytes(bytes)))
    }

    async fn put_passkey_challenge(
        &self,
        record: &PasskeyChallengeRecord,
    ) -> Result<(), SqlStoreError> {
        let person = person_bytes(record.person);
        let purpose = purpose_text(record.purpose);
        let ticket = record.ticket.map(|t| t.0.to_vec());
        let slot = ticket.clone().unwrap_or_default();
        let expires_at = to_i64(record.expires_at, "the time")?;
        let tag = integrity::tag(
            &self.keyring,
            &integrity::passkey_challenge(&PasskeyChallengeColumns {
                person: &person,
                purpose,
                name: &record.name,
                ticket: ticket.as_deref(),
                state: &record.state,
                expires_at,
            }),
        )?;
        query(
            "INSERT INTO passkey_challenges (person, purpose, name, ticket, state, expires_at, tag) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (person, purpose, ticket) DO UPDATE SET name = excluded.name, \
             state = excluded.state, \
             expires_at = excluded.expires_at, tag = excluded.tag",
        )
        .bind(&person)
        .bind(purpose)
        .bind(&record.name)
        .bind(slot)
        .bind(&record.state)
        .bind(expires_at)
        .bind(tag)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_passkey_challenge(
        &self,
        person: PersonId,
        purpose: PasskeyPurpose,
        ticket: Option<&TokenDigest>,
        now: u64,
    ) -> Result<Option<PasskeyChallengeRecord>, SqlStoreError> {
        let slot = ticket.map(|t| t.0.to_vec()).unwrap_or_default();
        let id = person_bytes(person);
        let purpose_text = purpose_text(purpose);
        let now = to_i64(now, "the time")?;
        // Spent whether live or not: an expired state is of no use, and is gone after this.
        let Some(row) = query(
            "DELETE FROM passkey_challenges WHERE person = $1 AND purpose = $2 AND ticket = $3 \
             RETURNING name, ticket, state, expires_at, tag",
        )
        .bind(&id)
        .bind(purpose_text)
        .bind(&slot)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let name: String = row.try_get(0)?;
        let stored_slot: Vec<u8> = row.try_get(1)?;
        let ticket = (!stored_slot.is_empty()).then_some(stored_slot);
        let state: String = row.try_get(2)?;
        let expires_at: i64 = row.try_get(3)?;
        let tag: Vec<u8> = row.try_get(4)?;
        integrity::check(
            &self.keyring,
            "passkey_challenges",
            &tag,
            &integrity::passkey_challenge(&PasskeyChallengeColumns {
                person: &id,
                purpose: purpose_text,
                name: &name,
                ticket: ticket.as_deref(),
                state: &state,
                expires_at,
            }),
        )?;
        if expires_at <= now {
            return Ok(None);
        }
        let ticket = ticket
            .map(|t| {
                <[u8; 32]>::try_from(t.as_slice())
                    .map(TokenDigest)
                    .map_err(|_| SqlStoreError::Decode {
                        table: "passkey_challenges",
                        reason: "a ticket digest of the wrong length",
                    })
            })
            .transpose()?;
        Ok(Some(PasskeyChallengeRecord {
            person,
            purpose,
            name,
            ticket,
            state,
            expires_at: to_u64(expires_at, "passkey_challenges")?,
        }))
    }

    async fn insert_passkey(
        &self,
        record: &PasskeyRecord,
        epoch: u64,
        keep: Option<SessionId>,
    ) -> Result<Option<u64>, SqlStoreError> {
        let person = person_bytes(record.person);
        let counter = i64::from(record.counter);
        let tag = integrity::tag(
            &self.keyring,
            &integrity::passkey(&record.credential_id, &person, record.key.as_str(), counter),
        )?;
        let last_used_at = record
            .last_used_at
            .map(|t| to_i64(t, "the time"))
            .transpose()?;
        let mut tx = self.pool.begin().await?;
        // The person's row is locked (PostgreSQL; SQLite's write lock covers the database) until
        // the commit, so an epoch bump either waits for the credential (and the removal that
        // follows it deletes it) or is seen here, and nothing is written.
        let sql = alloc::format!(
            "INSERT INTO passkeys (credential_id, person, name, credential, counter, \
             backup_eligible, backup_state, created_at, last_used_at, tag) \
             SELECT $1, id, $2, $3, $4, $5, $6, $7, $8, $9 FROM people \
             WHERE id = $10 AND epoch = $11{} ON CONFLICT DO NOTHING",
            D::LOCK_PERSON
        );
        let written = query(&sql)
            .bind(&record.credential_id)
            .bind(&record.name)
            .bind(record.key.as_str())
            .bind(counter)
            .bind(record.backup_eligible)
            .bind(record.backup_state)
            .bind(to_i64(record.created_at, "the time")?)
            .bind(last_used_at)
            .bind(tag)
            .bind(&person)
            .bind(to_i64(epoch, "an epoch")?)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if written != 1 {
            return Ok(None);
        }
        // The factor added moves the epoch in the same commit: the sessions end but `keep`.
        let Some(bumped) = self.bump_in(&mut tx, &person, Some(epoch)).await? else {
            return Ok(None);
        };
        self.end_sessions_in(&mut tx, &person, keep, bumped).await?;
        tx.commit().await?;
        Ok(Some(to_u64(bumped, "people")?))
    }

    async fn passkey_by_id(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, SqlStoreError> {
        let sql = alloc::format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = $1");
        query(&sql)
            .bind(credential_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| self.passkey_from_row(&row))
            .transpose()
    }

    async fn passkeys(&self, person: PersonId) -> Result<Vec<PasskeyRecord>, SqlStoreError> {
        let sql = alloc::format!(
            "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE person = $1 \
             ORDER BY created_at, credential_id"
        );
        let rows = query(&sql)
            .bind(person_bytes(person))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| self.passkey_from_row(row)).collect()
    }

    async fn record_passkey_use(
        &self,
        person: PersonId,
        credential_id: &[u8],
        write: &PasskeyUseWrite,
    ) -> Result<bool, SqlStoreError> {
        let id = person_bytes(person);
        let counter = i64::from(write.counter);
        let tag = integrity::tag(
            &self.keyring,
            &integrity::passkey(credential_id, &id, write.key.as_str(), counter),
        )?;
        let written = query(
            "UPDATE passkeys SET counter = $1, credential = $2, backup_state = $3, \
             backup_eligible = (backup_eligible OR $4), last_used_at = $5, tag = $6 \
             WHERE person = $7 AND credential_id = $8 AND counter = $9",
        )
        .bind(counter)
        .bind(write.key.as_str())
        .bind(write.backup_state)
        .bind(write.backup_eligible)
        .bind(to_i64(write.used_at, "the time")?)
        .bind(tag)
        .bind(&id)
        .bind(credential_id)
        .bind(i64::from(write.expected_counter))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(written == 1)
    }

    async fn remove_passkeys(&self, person: PersonId) -> Result<u64, SqlStoreError> {
        let id = person_bytes(person);
        let mut tx = self.pool.begin().await?;
        let deleted = query("DELETE FROM passkeys WHERE person = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        query("DELETE FROM passkey_challenges WHERE person = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn prune_passkey_challenges(&self, now: u64) -> Result<u64, SqlStoreError> {
        Ok(
            query("DELETE FROM passkey_challenges WHERE expires_at <= $1")
                .bind(to_i64(now, "the time")?)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
