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
use crate::store::sql::{SqlStoreError, mfa_context};

/// The data key of a person's MFA state, opened and sealed again under the current key.
pub(crate) fn reseal_state_key(
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

/// Makes again, under the current key, the tags of the rows of one table tagged under an older
/// key; evaluates to how many rows it wrote. Bytes 2 to 5 of a tag are its key id (big-endian).
/// A pass ends when no row names an older key, or with [`SqlStoreError::Contention`] when batch
/// after batch every row changed under it (a server still tagging under an older key).
macro_rules! retag_table {
    ($store:expr, $current:expr, $limit:expr, $table:literal, $select:literal, $update:literal,
     |$row:ident| { $($stmt:stmt;)* } => $context:expr, [$($key:expr),+]) => {{
        let mut stalled = 0u32;
        let mut retagged = 0u64;
        loop {
            let rows = sqlx::query($select)
                .bind($current)
                .bind($limit)
                .fetch_all(&$store.pool)
                .await?;
            if rows.is_empty() {
                break;
            }
            let mut written = 0u64;
            for $row in &rows {
                let old: alloc::vec::Vec<u8> = $row.try_get(0)?;
                $($stmt)*
                let new = $crate::store::integrity::retag(&$store.keyring, $table, &old, &$context)?;
                let query = sqlx::query($update).bind(new);
                $(let query = query.bind($key);)+
                written = written
                    .saturating_add(query.bind(old).execute(&$store.pool).await?.rows_affected());
            }
            retagged = retagged.saturating_add(written);
            if written == 0 {
                stalled = stalled.saturating_add(1);
                if stalled >= $crate::store::sql::THROTTLE_ATTEMPTS {
                    return Err(SqlStoreError::Contention);
                }
            }
        }
        retagged
    }};
}

pub(crate) use retag_table;

/// Implements `reseal` for a SQL store with fields `pool` and `keyring`.
macro_rules! sql_reseal {
    ($store:ty) => {
        impl $store {
            /// Seals again, under the keyring's current key, every stored MFA state sealed under
            /// an older key, and makes again every row tag made under an older key (tickets,
            /// setup tokens, recovery-code sets, watermarks, out-of-band challenges,
            /// organisations, phone numbers; see "Integrity at rest" on the store): step 2 of a key rotation
            /// (see [`Keyring`](crate::credential::sealing::Keyring)). Returns how many rows it re-sealed or re-tagged.
            ///
            /// Rows are read `batch` at a time (at least 1) in order of person, each visited once,
            /// and each is written by one guarded `UPDATE mfa SET state_key = $new WHERE person =
            /// $p AND state_key = $old`; a row another server rewrote meanwhile is left as that
            /// server wrote it. Safe to run while the application serves requests, and again
            /// after an interruption. When it returns `Ok`, no row names an older key and the
            /// old key may leave the keyring. A row that does not open under any key in the
            /// keyring stops the pass with [`SqlStoreError::Open`]: nothing is skipped silently.
            pub async fn reseal(&self, batch: u32) -> Result<u64, SqlStoreError> {
                use sqlx::Row as _;

                let current = self.keyring.current_key_id().get().to_be_bytes();
                let limit = i64::from(batch.max(1));
                let mut after: alloc::vec::Vec<u8> = alloc::vec::Vec::new();
                let mut resealed = 0u64;
                loop {
                    // Bytes 2 to 5 of a sealed value are its key id (big-endian).
                    let rows = sqlx::query(
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
                        let id: alloc::vec::Vec<u8> = row.try_get(0)?;
                        let old: alloc::vec::Vec<u8> = row.try_get(1)?;
                        let version = $crate::store::sql::to_u64(row.try_get(2)?, "mfa")?;
                        let person =
                            $crate::policy::ids::PersonId::new($crate::store::sql::decode_u128(&id, "mfa")?);
                        let new = $crate::store::reseal::reseal_state_key(
                            &self.keyring,
                            person,
                            version,
                            &old,
                        )?;
                        let written = sqlx::query(
                            "UPDATE mfa SET state_key = $1 WHERE person = $2 AND state_key = $3",
                        )
                        .bind(&new)
                        .bind(&id)
                        .bind(&old)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                        resealed = resealed.saturating_add(written);
                    }
                }
                resealed = resealed.saturating_add(self.retag_rows(batch).await?);
                Ok(resealed)
            }

            /// Makes again, under the current key, every row tag made under an older key: each
            /// row read `batch` at a time, its tag checked, and written by one guarded `UPDATE …
            /// WHERE <key> AND tag = $old` (a row rewritten meanwhile keeps what its writer
            /// wrote, under the current key).
            async fn retag_rows(&self, batch: u32) -> Result<u64, $crate::store::sql::SqlStoreError> {
                use sqlx::Row as _;
                use $crate::store::integrity;

                let current = self.keyring.current_key_id().get().to_be_bytes();
                let limit = i64::from(batch.max(1));
                let mut retagged = 0u64;
                use $crate::store::reseal::retag_table;
                type Bytes = alloc::vec::Vec<u8>;
                type Text = alloc::string::String;
                retagged = retagged.saturating_add(retag_table!(
                    self,
                    &current[..],
                    limit,
                    "tickets",
                    "SELECT tag, digest, step, progress, expires_at FROM tickets \
                     WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                    "UPDATE tickets SET tag = $1 WHERE digest = $2 AND tag = $3",
                    |row| {
                        let digest: Bytes = row.try_get(1)?;
                        let step: Text = row.try_get(2)?;
                        let progress: Text = row.try_get(3)?;
                        let expires_at: i64 = row.try_get(4)?;
                    } => integrity::ticket(&digest, &step, &progress, expires_at),
                    [digest]
                ));
                retagged = retagged.saturating_add(retag_table!(
                    self,
                    &current[..],
                    limit,
                    "setup_tokens",
                    "SELECT tag, digest, person, org, expires_at FROM setup_tokens \
                     WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                    "UPDATE setup_tokens SET tag = $1 WHERE digest = $2 AND tag = $3",
                    |row| {
                        let digest: Bytes = row.try_get(1)?;
                        let person: Bytes = row.try_get(2)?;
                        let org: Bytes = row.try_get(3)?;
                        let expires_at: i64 = row.try_get(4)?;
                    } => integrity::setup_token(&digest, &person, &org, expires_at),
                    [digest]
                ));
                retagged = retagged.saturating_add(retag_table!(
                    self,
                    &current[..],
                    limit,
                    "recovery_sets",
                    "SELECT tag, person, slot, set_id, codes, stored FROM recovery_sets \
                     WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                    "UPDATE recovery_sets SET tag = $1 WHERE person = $2 AND slot = $3 \
                     AND tag = $4",
                    |row| {
                        let person: Bytes = row.try_get(1)?;
                        let slot: Text = row.try_get(2)?;
                        let set_id: Bytes = row.try_get(3)?;
                        let codes: i64 = row.try_get(4)?;
                        let stored: Bytes = row.try_get(5)?;
                    } => integrity::recovery_set(&person, &set_id, codes, &stored),
                    [person, slot]
                ));
                retagged = retagged.saturating_add(retag_table!(
                    self,
                    &current[..],
                    limit,
                    "authenticator_watermarks",
                    "SELECT tag, person, authenticator, last_step FROM authenticator_watermarks \
                     WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                    "UPDATE authenticator_watermarks SET tag = $1 WHERE person = $2 \
                     AND authenticator = $3 AND tag = $4",
                    |row| {
                        let person: Bytes = row.try_get(1)?;
                        let authenticator: i64 = row.try_get(2)?;
                        let last_step: i64 = row.try_get(3)?;
                    } => integrity::watermark(&person, authenticator, last_step),
                    [person, authenticator]
                ));
                retagged = retagged.saturating_add(retag_table!(
                    self,
                    &current[..],
                    limit,
                    "oob_challenges",
                    "SELECT tag, person, purpose, destination, challenge FROM oob_challenges \
                     WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                    "UPDATE oob_challenges SET tag = $1 WHERE person = $2 AND purpose = $3 \
                     AND tag = $4",
                    |row| {
                        let person: Bytes = row.try_get(1)?;
                        let purpose: Text = row.try_get(2)?;
                        let destination: Text = row.try_get(3)?;
                        let challenge: Bytes = row.try_get(4)?;
                    } => integrity::oob_challenge(&person, &purpose, &destination, &challenge),
                    [person, purpose]
                ));
                retagged = retagged.saturating_add(retag_table!(
                    self,
                    &current[..],
                    limit,
                    "organisations",
                    "SELECT tag, id, version, state FROM organisations \
                     WHERE substr(tag, 2, 4) <> $1 LIMIT $2",
                    "UPDATE organisations SET tag = $1 WHERE id = $2 AND tag = $3",
                    |row| {
                        let id: Bytes = row.try_get(1)?;
                        let version: i64 = row.try_get(2)?;
                        let state: Text = row.try_get(3)?;
                    } => integrity::organisation(&id, version, &state),
                    [id]
                ));
                retagged = retagged.saturating_add(retag_table!(
                    self,
                    &current[..],
                    limit,
                    "people",
                    "SELECT phone_tag, id, phone FROM people \
                     WHERE phone IS NOT NULL AND substr(phone_tag, 2, 4) <> $1 LIMIT $2",
                    "UPDATE people SET phone_tag = $1 WHERE id = $2 AND phone_tag = $3",
                    |row| {
                        let id: Bytes = row.try_get(1)?;
                        let phone: Text = row.try_get(2)?;
                    } => integrity::phone(&id, &phone),
                    [id]
                ));
                Ok(retagged)
            }
        }
    };
}

pub(crate) use sql_reseal;
