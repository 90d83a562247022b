//! Throttle counters: a row per key, read and replaced by compare-and-swap.

use crate::credential::throttle::ThrottleState;
use crate::store::sql::SqlStore;
use crate::store::sql::codec::{to_i64, to_u64};
use crate::store::sql::dialect::{Columns as _, Dialect, RowsAffected as _, query};
use crate::store::sql::error::SqlStoreError;

pub(super) struct ThrottleRow {
    pub(super) state: ThrottleState,
    raw: (i64, i64, bool, i64),
}

impl<D: Dialect> SqlStore<D> {
    fn throttle_from_row(row: &D::Row) -> Result<ThrottleRow, SqlStoreError> {
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

    pub(super) async fn read_throttle(
        &self,
        key: &str,
    ) -> Result<Option<ThrottleRow>, SqlStoreError> {
        let row = query(
            "SELECT failures, not_before, locked, forget_at FROM throttle_keys \
             WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::throttle_from_row).transpose()
    }

    /// Replaces the throttle row `key` with `new` only if it still holds `stored`
    /// (absent: only if there is none); a fresh `new` deletes the row. `true` if it
    /// applied.
    pub(super) async fn swap_throttle(
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
            }) if new == ThrottleState::new() => query(
                "DELETE FROM throttle_keys WHERE key = $1 AND failures = $2 \
                 AND not_before = $3 AND locked = $4 AND forget_at = $5",
            )
            .bind(key)
            .bind(*old_failures)
            .bind(*old_not_before)
            .bind(*old_locked)
            .bind(*old_forget_at)
            .execute(&self.pool)
            .await?
            .rows_affected(),
            Some(ThrottleRow {
                raw: (old_failures, old_not_before, old_locked, old_forget_at),
                ..
            }) => query(
                "UPDATE throttle_keys SET failures = $1, not_before = $2, \
                 locked = $3, forget_at = $4 WHERE key = $5 AND failures = $6 \
                 AND not_before = $7 AND locked = $8 AND forget_at = $9",
            )
            .bind(failures)
            .bind(not_before)
            .bind(new.is_locked())
            .bind(forget_at)
            .bind(key)
            .bind(*old_failures)
            .bind(*old_not_before)
            .bind(*old_locked)
            .bind(*old_forget_at)
            .execute(&self.pool)
            .await?
            .rows_affected(),
            None => query(
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
