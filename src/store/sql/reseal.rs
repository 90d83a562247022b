//! Finishing a sealing-key rotation in the SQL stores: every stored MFA state sealed under an
//! older key is sealed again under the keyring's current key, and every row tag (see
//! `store::integrity`) made under an older key is checked and made again.
//!
//! The MFA state is sealed in two layers (see `seal_mfa`): only the data key (`mfa.state_key`)
//! is sealed under the keyring, so re-sealing opens that key and seals it again; the sealed state
//! itself does not change. Each row is written by one guarded statement that only applies if the
//! row still holds the value that was read, so a concurrent write (which seals under the current
//! key anyway) is never overwritten.

use alloc::vec::Vec;

use crate::credential::sealing::Keyring;
use crate::policy::ids::PersonId;
use alloc::string::String;

use crate::store::sql::codec::{decode_u128, to_u64};
use crate::store::sql::dialect::{Columns as _, Dialect, RowsAffected as _, query};
use crate::store::sql::error::SqlStoreError;
use crate::store::sql::integrity::{self, RowContext};
use crate::store::sql::seal::mfa_context;
use crate::store::sql::{SqlStore, THROTTLE_ATTEMPTS};

/// The data key of a person's MFA state, opened and sealed again under the current key.
fn reseal_state_key(
    keyring: &Keyring,
    person: PersonId,
    version: u64,
    state_key: &[u8],
) -> Result<Vec<u8>, SqlStoreError> {
    let context = mfa_context(person, version);
    let data_key = keyring
        .open(state_key, &context)
        .map_err(|error| SqlStoreError::Open {
            table: "mfa",
            error,
        })?;
    Ok(keyring
        .seal_with_os_rng(&data_key, &context)
        .map_err(|e| SqlStoreError::Seal(e.into()))?
        .into_bytes())
}

/// A row's tag context, and the columns that identify it.
type Identified = (RowContext, Vec<Key>);

/// A column of a row's identity, bound back into the guarded `UPDATE` that re-tags it.
pub(super) enum Key {
    Bytes(Vec<u8>),
    Text(String),
    Int(i64),
}

/// A table whose rows carry a tag: `all` reads `tag, …` of every row, `stale` the same of the rows
/// tagged under another key than `$1` (at most `$2`); `row` gives a row's context and identity,
/// and `update` writes the new tag (`$1`) where the identity holds and the tag is still the old
/// one (the last parameter).
pub(super) struct Tagged<D: sqlx::Database> {
    pub(super) table: &'static str,
    pub(super) all: &'static str,
    stale: &'static str,
    update: &'static str,
    row: fn(&D::Row) -> Result<Identified, sqlx::Error>,
}

impl<D: Dialect> SqlStore<D> {
    /// Seals again, under the keyring's current key, every stored MFA state sealed under
    /// an older key, and makes again every row tag made under an older key (tickets,
    /// setup tokens, recovery-code sets, watermarks, out-of-band challenges,
    /// organisations, phone numbers; see "Integrity at rest" on the store): step 2 of a key rotation
    /// (see [`Keyring`]). Returns how many rows it re-sealed or re-tagged.
    ///
    /// Rows are read `batch` at a time (at least 1) in order of person, each visited once,
    /// and each is written by one guarded `UPDATE mfa SET state_key = $new WHERE person =
    /// $p AND state_key = $old`; a row another server rewrote meanwhile is left as that
    /// server wrote it. Safe to run while the application serves requests, and again
    /// after an interruption. When it returns `Ok`, no row names an older key and the
    /// old key may leave the keyring. A row that does not open under any key in the
    /// keyring stops the pass with [`SqlStoreError::Open`]: nothing is skipped silently.
    pub async fn reseal(&self, batch: u32) -> Result<u64, SqlStoreError> {
        let current = self.keyring.current_key_id().get().to_be_bytes();
        let limit = i64::from(batch.max(1));
        let mut after: Vec<u8> = Vec::new();
        let mut resealed = 0u64;
        loop {
            // Bytes 2 to 5 of a sealed value are its key id (big-endian).
            let rows = query(
                "SELECT person, state_key, version FROM mfa \
                 WHERE person > $1 AND substr(state_key, 2, 4) <> $2 \
                 ORDER BY person LIMIT $3",
            )
            .bind(&after)
            .bind(&current[..])
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.try_get(0)?;
            for row in &rows {
                let id: Vec<u8> = row.try_get(0)?;
                let old: Vec<u8> = row.try_get(1)?;
                let version = to_u64(row.try_get(2)?, "mfa")?;
                let person = PersonId::new(decode_u128(&id, "mfa")?);
                let new = reseal_state_key(&self.keyring, person, version, &old)?;
                let written =
                    query("UPDATE mfa SET state_key = $1 WHERE person = $2 AND state_key = $3")
                        .bind(&new)
                        .bind(&id)
                        .bind(&old)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                resealed = resealed.saturating_add(written);
            }
        }
        for table in Self::tagged_tables()
            .into_iter()
            .chain(Self::later_tagged_tables())
        {
            resealed = resealed.saturating_add(self.retag_table(&table, &current, limit).await?);
        }
        Ok(resealed)
    }

    /// Makes again, under the current key, the tags of the rows of one table tagged under an
    /// older key, `limit` rows at a time, until no row names an older key. Returns how many rows
    /// it wrote; [`SqlStoreError::Contention`] when batch after batch every row changed under it
    /// (a server still tagging under an older key).
    async fn retag_table(
        &self,
        table: &Tagged<D>,
        current: &[u8],
        limit: i64,
    ) -> Result<u64, SqlStoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut stalled = 0u32;
        let mut retagged = 0u64;
        loop {
            // Bytes 2 to 5 of a tag are its key id (big-endian).
            let rows = query(table.stale)
                .bind(current)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?;
            let written = Self::write_tags(&mut conn, table, &rows, |old, context| {
                integrity::retag(&self.keyring, table.table, old, context)
            })
            .await?;
            if rows.is_empty() {
                break;
            }
            retagged = retagged.saturating_add(written);
            if written == 0 {
                stalled = stalled.saturating_add(1);
                if stalled >= THROTTLE_ATTEMPTS {
                    return Err(SqlStoreError::Contention);
                }
            }
        }
        Ok(retagged)
    }

    /// Writes each of `rows` (read from `table` by one of its `SELECT`s) the tag `new_tag` makes
    /// from its old tag and context, by one guarded `UPDATE … WHERE <key> AND tag = $old` (a row
    /// rewritten meanwhile keeps what its writer wrote). Returns how many rows it wrote.
    pub(super) async fn write_tags(
        conn: &mut D::Connection,
        table: &Tagged<D>,
        rows: &[D::Row],
        new_tag: impl Fn(&[u8], &RowContext) -> Result<Vec<u8>, SqlStoreError>,
    ) -> Result<u64, SqlStoreError> {
        let mut written = 0u64;
        for row in rows {
            let old: Vec<u8> = row.try_get(0)?;
            let (context, keys) = (table.row)(row)?;
            let mut query = query(table.update).bind(new_tag(&old, &context)?);
            for key in keys {
                query = match key {
                    Key::Bytes(value) => query.bind(value),
                    Key::Text(value) => query.bind(value),
                    Key::Int(value) => query.bind(value),
                };
            }
            let done = query.bind(old).execute(&mut *conn).await?;
            written = written.saturating_add(done.rows_affected());
        }
        Ok(written)
    }

    /// The tables whose rows carry a tag, with the statements that re-tag them. The upgrade to
    /// version 6 tags every row of these tables, so they must all exist at version 6: a table
    /// tagged from a later version needs its own entry outside this list.
    pub(super) fn tagged_tables() -> [Tagged<D>; 8] {
        [
            Tagged {
                table: "tickets",
                all: "SELECT tag, digest, step, progress, expires_at FROM tickets",
                stale: "SELECT tag, digest, step, progress, expires_at FROM tickets \
                         WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE tickets SET tag = $1 WHERE digest = $2 AND tag = $3",
                row: |row| {
                    let digest: Vec<u8> = row.try_get(1)?;
                    let step: String = row.try_get(2)?;
                    let progress: String = row.try_get(3)?;
                    let expires_at: i64 = row.try_get(4)?;
                    let context = integrity::ticket(&digest, &step, &progress, expires_at);
                    Ok((context, alloc::vec![Key::Bytes(digest)]))
                },
            },
            Tagged {
                table: "setup_tokens",
                all: "SELECT tag, digest, person, org, expires_at FROM setup_tokens",
                stale: "SELECT tag, digest, person, org, expires_at FROM setup_tokens \
                         WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE setup_tokens SET tag = $1 WHERE digest = $2 AND tag = $3",
                row: |row| {
                    let digest: Vec<u8> = row.try_get(1)?;
                    let person: Vec<u8> = row.try_get(2)?;
                    let org: Vec<u8> = row.try_get(3)?;
                    let expires_at: i64 = row.try_get(4)?;
                    let context = integrity::setup_token(&digest, &person, &org, expires_at);
                    Ok((context, alloc::vec![Key::Bytes(digest)]))
                },
            },
            Tagged {
                table: "invitations",
                all: "SELECT tag, digest, person, org, invitation, expires_at FROM invitations",
                stale: "SELECT tag, digest, person, org, invitation, expires_at FROM invitations \
                         WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE invitations SET tag = $1 WHERE digest = $2 AND tag = $3",
                row: |row| {
                    let digest: Vec<u8> = row.try_get(1)?;
                    let person: Vec<u8> = row.try_get(2)?;
                    let org: Vec<u8> = row.try_get(3)?;
                    let invitation: String = row.try_get(4)?;
                    let expires_at: i64 = row.try_get(5)?;
                    let context =
                        integrity::invitation(&digest, &person, &org, &invitation, expires_at);
                    Ok((context, alloc::vec![Key::Bytes(digest)]))
                },
            },
            Tagged {
                table: "recovery_sets",
                all: "SELECT tag, person, slot, set_id, codes, stored FROM recovery_sets",
                stale: "SELECT tag, person, slot, set_id, codes, stored FROM recovery_sets \
                         WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE recovery_sets SET tag = $1 WHERE person = $2 AND slot = $3 \
                         AND tag = $4",
                row: |row| {
                    let person: Vec<u8> = row.try_get(1)?;
                    let slot: String = row.try_get(2)?;
                    let set_id: Vec<u8> = row.try_get(3)?;
                    let codes: i64 = row.try_get(4)?;
                    let stored: Vec<u8> = row.try_get(5)?;
                    let context = integrity::recovery_set(&person, &set_id, codes, &stored);
                    Ok((context, alloc::vec![Key::Bytes(person), Key::Text(slot)]))
                },
            },
            Tagged {
                table: "authenticator_watermarks",
                all: "SELECT tag, person, authenticator, last_step FROM authenticator_watermarks",
                stale: "SELECT tag, person, authenticator, last_step \
                         FROM authenticator_watermarks WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE authenticator_watermarks SET tag = $1 WHERE person = $2 \
                         AND authenticator = $3 AND tag = $4",
                row: |row| {
                    let person: Vec<u8> = row.try_get(1)?;
                    let authenticator: i64 = row.try_get(2)?;
                    let last_step: i64 = row.try_get(3)?;
                    let context = integrity::watermark(&person, authenticator, last_step);
                    Ok((
                        context,
                        alloc::vec![Key::Bytes(person), Key::Int(authenticator)],
                    ))
                },
            },
            Tagged {
                table: "oob_challenges",
                all: "SELECT tag, person, purpose, destination, challenge FROM oob_challenges",
                stale: "SELECT tag, person, purpose, destination, challenge FROM oob_challenges \
                         WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE oob_challenges SET tag = $1 WHERE person = $2 AND purpose = $3 \
                         AND tag = $4",
                row: |row| {
                    let person: Vec<u8> = row.try_get(1)?;
                    let purpose: String = row.try_get(2)?;
                    let destination: String = row.try_get(3)?;
                    let challenge: Vec<u8> = row.try_get(4)?;
                    let context =
                        integrity::oob_challenge(&person, &purpose, &destination, &challenge);
                    Ok((context, alloc::vec![Key::Bytes(person), Key::Text(purpose)]))
                },
            },
            Tagged {
                table: "organisations",
                all: "SELECT tag, id, version, state FROM organisations",
                stale: "SELECT tag, id, version, state FROM organisations \
                         WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE organisations SET tag = $1 WHERE id = $2 AND tag = $3",
                row: |row| {
                    let id: Vec<u8> = row.try_get(1)?;
                    let version: i64 = row.try_get(2)?;
                    let state: String = row.try_get(3)?;
                    let context = integrity::organisation(&id, version, &state);
                    Ok((context, alloc::vec![Key::Bytes(id)]))
                },
            },
            Tagged {
                table: "people",
                all: "SELECT phone_tag, id, phone FROM people WHERE phone IS NOT NULL",
                stale: "SELECT phone_tag, id, phone FROM people \
                         WHERE phone IS NOT NULL AND substr(phone_tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE people SET phone_tag = $1 WHERE id = $2 AND phone_tag = $3",
                row: |row| {
                    let id: Vec<u8> = row.try_get(1)?;
                    let phone: String = row.try_get(2)?;
                    let context = integrity::phone(&id, &phone);
                    Ok((context, alloc::vec![Key::Bytes(id)]))
                },
            },
        ]
    }

    /// The tables tagged from their creation by a migration after version 6 (they hold no row
    /// the version-6 upgrade could tag): re-tagged by a key rotation only.
    pub(super) fn later_tagged_tables() -> [Tagged<D>; 6] {
        [
            Tagged {
                table: "account_tokens",
                all: "SELECT tag, digest, person, purpose, login, address, epoch, expires_at \
                      FROM account_tokens",
                stale: "SELECT tag, digest, person, purpose, login, address, epoch, expires_at \
                        FROM account_tokens WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE account_tokens SET tag = $1 WHERE digest = $2 AND tag = $3",
                row: |row| {
                    let digest: Vec<u8> = row.try_get(1)?;
                    let person: Vec<u8> = row.try_get(2)?;
                    let purpose: String = row.try_get(3)?;
                    let login: String = row.try_get(4)?;
                    let address: String = row.try_get(5)?;
                    let context = integrity::account_token(&integrity::AccountTokenColumns {
                        digest: &digest,
                        person: &person,
                        purpose: &purpose,
                        login: &login,
                        address: &address,
                        epoch: row.try_get(6)?,
                        expires_at: row.try_get(7)?,
                    });
                    Ok((context, alloc::vec![Key::Bytes(digest)]))
                },
            },
            Tagged {
                table: "passkey_users",
                all: "SELECT tag, person, handle FROM passkey_users",
                stale: "SELECT tag, person, handle FROM passkey_users \
                        WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE passkey_users SET tag = $1 WHERE person = $2 AND tag = $3",
                row: |row| {
                    let person: Vec<u8> = row.try_get(1)?;
                    let handle: Vec<u8> = row.try_get(2)?;
                    let context = integrity::passkey_user(&person, &handle);
                    Ok((context, alloc::vec![Key::Bytes(person)]))
                },
            },
            Tagged {
                table: "passkeys",
                all: "SELECT tag, credential_id, person, credential, counter FROM passkeys",
                stale: "SELECT tag, credential_id, person, credential, counter FROM passkeys \
                        WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE passkeys SET tag = $1 WHERE credential_id = $2 AND tag = $3",
                row: |row| {
                    let credential_id: Vec<u8> = row.try_get(1)?;
                    let person: Vec<u8> = row.try_get(2)?;
                    let credential: String = row.try_get(3)?;
                    let context =
                        integrity::passkey(&credential_id, &person, &credential, row.try_get(4)?);
                    Ok((context, alloc::vec![Key::Bytes(credential_id)]))
                },
            },
            Tagged {
                table: "passkey_challenges",
                all: "SELECT tag, person, purpose, name, ticket, state, expires_at \
                      FROM passkey_challenges",
                stale: "SELECT tag, person, purpose, name, ticket, state, expires_at \
                        FROM passkey_challenges WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE passkey_challenges SET tag = $1 WHERE person = $2 \
                         AND purpose = $3 AND ticket = $4 AND tag = $5",
                row: |row| {
                    let person: Vec<u8> = row.try_get(1)?;
                    let purpose: String = row.try_get(2)?;
                    let name: String = row.try_get(3)?;
                    let slot: Vec<u8> = row.try_get(4)?;
                    let ticket = (!slot.is_empty()).then_some(slot.clone());
                    let state: String = row.try_get(5)?;
                    let context =
                        integrity::passkey_challenge(&integrity::PasskeyChallengeColumns {
                            person: &person,
                            purpose: &purpose,
                            name: &name,
                            ticket: ticket.as_deref(),
                            state: &state,
                            expires_at: row.try_get(6)?,
                        });
                    Ok((
                        context,
                        alloc::vec![Key::Bytes(person), Key::Text(purpose), Key::Bytes(slot)],
                    ))
                },
            },
            Tagged {
                table: "sessions",
                all: "SELECT tag, digest, id, person, org, aal, factors, authenticated_at, \
                      verified_at, expires_at, epoch FROM sessions",
                stale: "SELECT tag, digest, id, person, org, aal, factors, authenticated_at, \
                        verified_at, expires_at, epoch FROM sessions \
                        WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE sessions SET tag = $1 WHERE digest = $2 AND tag = $3",
                row: |row| {
                    let digest: Vec<u8> = row.try_get(1)?;
                    let id: Vec<u8> = row.try_get(2)?;
                    let person: Vec<u8> = row.try_get(3)?;
                    let org: Vec<u8> = row.try_get(4)?;
                    let context = integrity::session(&integrity::SessionColumns {
                        digest: &digest,
                        id: &id,
                        person: &person,
                        org: &org,
                        aal: row.try_get(5)?,
                        factors: row.try_get(6)?,
                        authenticated_at: row.try_get(7)?,
                        verified_at: row.try_get(8)?,
                        expires_at: row.try_get(9)?,
                        epoch: row.try_get(10)?,
                    });
                    Ok((context, alloc::vec![Key::Bytes(digest)]))
                },
            },
            Tagged {
                table: "device_tokens",
                all: "SELECT tag, digest, person, epoch, expires_at FROM device_tokens",
                stale: "SELECT tag, digest, person, epoch, expires_at FROM device_tokens \
                        WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                update: "UPDATE device_tokens SET tag = $1 WHERE digest = $2 AND tag = $3",
                row: |row| {
                    let digest: Vec<u8> = row.try_get(1)?;
                    let person: Vec<u8> = row.try_get(2)?;
                    let context =
                        integrity::device_token(&digest, &person, row.try_get(3)?, row.try_get(4)?);
                    Ok((context, alloc::vec![Key::Bytes(digest)]))
                },
            },
        ]
    }
}
