//! [`UserStore`] over SQL: people, organisations, memberships and throttle counters.

use alloc::string::String;
use alloc::vec::Vec;

use crate::credential::phone::PhoneNumber;
use crate::credential::throttle::{
    ThrottlePolicy, ThrottleReservation, ThrottleState, ThrottleUpdate,
};
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::PasswordState;
use crate::policy::organisation::Organisation;
use crate::store::records::{Login, LoginChange, PersonRecord, ThrottleKey, ThrottleOp, Versioned};
use crate::store::sql::codec::{
    decode_u128, org_bytes, password_state_name, person_bytes, throttle_key_text, to_i64, to_u64,
};
use crate::store::sql::dialect::{Columns as _, Dialect, RowsAffected as _, query};
use crate::store::sql::error::SqlStoreError;
use crate::store::sql::people::{PERSON_COLUMNS, phone_tag};
use crate::store::sql::{SqlStore, THROTTLE_ATTEMPTS};
use crate::store::{CreateOutcome, OrganisationWrite, UserStore};

impl<D: Dialect> UserStore for SqlStore<D> {
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
        let verified = person
            .address_verified_at
            .map(|t| to_i64(t, "a verification time"))
            .transpose()?;
        let mut tx = self.pool.begin().await?;
        let inserted = query(
            "INSERT INTO people (id, login, password_hash, password_state, \
             password_expires_at, deactivated, phone, created_at, phone_tag, \
             address_verified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
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
        .bind(verified)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted != 1 {
            tx.rollback().await?;
            return Ok(CreateOutcome::LoginTaken);
        }
        let written = match organisation {
            OrganisationWrite::Insert(organisation) => {
                Self::write_organisation(&mut tx, &self.keyring, organisation, None).await?
            }
            OrganisationWrite::Replace {
                organisation,
                expected_version,
            } => {
                Self::write_organisation(
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

    async fn person_by_login(&self, login: &str) -> Result<Option<PersonRecord>, SqlStoreError> {
        let Some(login) = Login::new(login) else {
            return Ok(None);
        };
        let sql = alloc::format!("SELECT {PERSON_COLUMNS} FROM people WHERE login = $1");
        query(&sql)
            .bind(login.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(|row| Self::person_from_row(&self.keyring, row))
            .transpose()
    }

    async fn person(&self, id: PersonId) -> Result<Option<PersonRecord>, SqlStoreError> {
        let sql = alloc::format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = $1");
        query(&sql)
            .bind(person_bytes(id))
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(|row| Self::person_from_row(&self.keyring, row))
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
        let done = query(
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
        let done =
            query("UPDATE people SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
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
        let done = query("UPDATE people SET phone = $1, phone_tag = $2 WHERE id = $3")
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
        let done = query("UPDATE people SET deactivated = $1 WHERE id = $2")
            .bind(deactivated)
            .bind(person_bytes(id))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_address_verified(
        &self,
        id: PersonId,
        login: &Login,
        at: u64,
    ) -> Result<bool, SqlStoreError> {
        let done = query(
            "UPDATE people SET address_verified_at = $1 \
             WHERE id = $2 AND login = $3 AND address_verified_at IS NULL",
        )
        .bind(to_i64(at, "a verification time")?)
        .bind(person_bytes(id))
        .bind(login.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn change_login(
        &self,
        id: PersonId,
        from: &Login,
        to: &Login,
        verified_at: u64,
    ) -> Result<LoginChange, SqlStoreError> {
        // One guarded statement: the unique login decides between two people racing for `to`.
        let done = query(
            "UPDATE people SET login = $1, address_verified_at = $2 WHERE id = $3 AND login = $4",
        )
        .bind(to.as_str())
        .bind(to_i64(verified_at, "a verification time")?)
        .bind(person_bytes(id))
        .bind(from.as_str())
        .execute(&self.pool)
        .await;
        match done {
            Ok(done) if done.rows_affected() == 1 => Ok(LoginChange::Changed),
            Ok(_) => Ok(LoginChange::Stale),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Ok(LoginChange::Taken)
            }
            Err(error) => Err(error.into()),
        }
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
                || self
                    .swap_throttle(&key, stored.as_ref(), update.state())
                    .await?
            {
                return Ok(update);
            }
        }
        Err(SqlStoreError::Contention)
    }

    async fn prune_throttles(&self, now: u64) -> Result<u64, SqlStoreError> {
        Ok(query("DELETE FROM throttle_keys WHERE forget_at <= $1")
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
        // Counted: the password step without an organisation reads it.
        self.count_statement();
        let row = query("SELECT state, version, tag FROM organisations WHERE id = $1")
            .bind(&key)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let version: i64 = row.try_get(1)?;
        let value = Self::organisation_from(
            &self.keyring,
            id,
            &row.try_get::<String>(0)?,
            version,
            &row.try_get::<Vec<u8>>(2)?,
        )?;
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
        if Self::write_organisation(&mut tx, &self.keyring, organisation, Some(expected_version))
            .await?
        {
            tx.commit().await?;
            Ok(true)
        } else {
            tx.rollback().await?;
            Ok(false)
        }
    }

    async fn organisations_of(&self, id: PersonId) -> Result<Vec<OrgId>, SqlStoreError> {
        // Counted: the password step without an organisation reads it.
        self.count_statement();
        let rows = query("SELECT org FROM memberships WHERE person = $1 ORDER BY org")
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
