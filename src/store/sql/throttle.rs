//! Throttle counters: a row per key, read and replaced by compare-and-swap.

use crate::credential::throttle::ThrottleState;
use crate::store::sql::SqlStore;
use crate::store::sql::codec::{to_i64, to_u64};
use crate::store::sql::dialect::{Columns as _, Dialect, RowsAffected as _, Statement, query};
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
        let statement = match stored {
            Some(row) if new == ThrottleState::new() => bind_guard(
                query(
                    "DELETE FROM throttle_keys WHERE key = $1 AND failures = $2 \
                     AND not_before = $3 AND locked = $4 AND forget_at = $5",
                ),
                key,
                row.raw,
            ),
            Some(row) => bind_guard(
                bind_state(
                    query(
                        "UPDATE throttle_keys SET failures = $1, not_before = $2, \
                         locked = $3, forget_at = $4 WHERE key = $5 AND failures = $6 \
                         AND not_before = $7 AND locked = $8 AND forget_at = $9",
                    ),
                    new,
                )?,
                key,
                row.raw,
            ),
            None => bind_state(
                query(
                    "INSERT INTO throttle_keys (key, failures, not_before, locked, \
                     forget_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
                )
                .bind(key),
                new,
            )?,
        };
        Ok(statement.execute(&self.pool).await?.rows_affected() == 1)
    }
}

/// Binds the guard of a compare-and-swap on a throttle row: its key and the columns as read.
fn bind_guard<'q, D: Dialect>(
    statement: Statement<'q, D>,
    key: &'q str,
    (failures, not_before, locked, forget_at): (i64, i64, bool, i64),
) -> Statement<'q, D> {
    statement
        .bind(key)
        .bind(failures)
        .bind(not_before)
        .bind(locked)
        .bind(forget_at)
}

/// Binds the columns of a throttle state: failures, not before, locked, forget at.
fn bind_state<D: Dialect>(
    statement: Statement<'_, D>,
    state: ThrottleState,
) -> Result<Statement<'_, D>, SqlStoreError> {
    Ok(statement
        .bind(i64::from(state.failures()))
        .bind(to_i64(state.not_before(), "a throttle time")?)
        .bind(state.is_locked())
        .bind(to_i64(state.forget_at(), "a throttle time")?))
}
