//! Finishing a sealing-key rotation in the SQL stores: every stored MFA state sealed under an
//! older key is sealed again under the keyring's current key.
//!
//! The MFA state is sealed in two layers (see `seal_mfa`): only the data key (`mfa.state_key`)
//! is sealed under the keyring, so re-sealing opens that key and seals it again; the sealed state
//! itself does not change. Each row is written by one guarded statement that only applies if the
//! row still holds the value that was read, so a concurrent write (which seals under the current
//! key anyway) is never overwritten.

use alloc::vec::Vec;

use crate::store::sql::{SqlStoreError, mfa_context};
use crate::{Keyring, PersonId};

/// The data key of a person's MFA state, opened and sealed again under the current key.
pub(crate) fn reseal_state_key(
    keyring: &Keyring,
    person: PersonId,
    state_key: &[u8],
) -> Result<Vec<u8>, SqlStoreError> {
    let context = mfa_context(person);
    let data_key = keyring
        .open(state_key, &context)
        .map_err(|error| SqlStoreError::Open {
            table: "mfa",
            error,
        })?;
    Ok(keyring
        .seal_with_os_rng(&data_key, &context)
        .map_err(SqlStoreError::Seal)?
        .into_bytes())
}

/// Implements `reseal` for a SQL store with fields `pool` and `keyring`.
macro_rules! sql_reseal {
    ($store:ty) => {
        impl $store {
            /// Seals again, under the keyring's current key, every stored MFA state sealed under
            /// an older key: step 2 of a key rotation (see [`Keyring`](crate::Keyring)). Returns
            /// how many rows it re-sealed.
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
                        "SELECT person, state_key FROM mfa \
                         WHERE person > $1 AND substr(state_key, 2, 4) <> $2 \
                         ORDER BY person LIMIT $3",
                    )
                    .bind(&after)
                    .bind(&current[..])
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    let Some(last) = rows.last() else {
                        return Ok(resealed);
                    };
                    after = last.try_get(0)?;
                    for row in &rows {
                        let id: alloc::vec::Vec<u8> = row.try_get(0)?;
                        let old: alloc::vec::Vec<u8> = row.try_get(1)?;
                        let person =
                            $crate::PersonId::new($crate::store::sql::decode_u128(&id, "mfa")?);
                        let new =
                            $crate::store::reseal::reseal_state_key(&self.keyring, person, &old)?;
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
            }
        }
    };
}

pub(crate) use sql_reseal;
