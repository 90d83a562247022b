//! The rows of people, organisations and their memberships: how they are read and written.

use alloc::string::String;
use alloc::vec::Vec;

use crate::credential::phone::PhoneNumber;
use crate::credential::sealing::Keyring;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::organisation::Organisation;
use crate::store::records::{Login, PersonRecord};
use crate::store::sql::codec::{
    decode_u128, from_json, org_bytes, password_state_from, person_bytes, to_i64, to_json, to_u64,
};
use crate::store::sql::dialect::{Columns as _, Dialect, RowsAffected as _, query};
use crate::store::sql::error::SqlStoreError;
use crate::store::sql::integrity;
use crate::store::sql::{SqlStore, Tx};

/// The columns of `people` that [`SqlStore::person_from_row`] reads, in its order.
pub(super) const PERSON_COLUMNS: &str = "id, login, password_hash, password_state, \
    password_expires_at, deactivated, phone, created_at, phone_tag, address_verified_at";

/// The tag of a person's phone number (a second factor): empty when there is none.
pub(super) fn phone_tag(
    keyring: &Keyring,
    id: &[u8],
    phone: Option<&PhoneNumber>,
) -> Result<Vec<u8>, SqlStoreError> {
    match phone {
        Some(phone) => integrity::tag(keyring, &integrity::phone(id, phone.e164())),
        None => Ok(Vec::new()),
    }
}

impl<D: Dialect> SqlStore<D> {
    /// The organisation `id` from its stored columns, checked against its tag.
    pub(super) fn organisation_from(
        keyring: &Keyring,
        id: OrgId,
        state: &str,
        version: i64,
        tag: &[u8],
    ) -> Result<Organisation, SqlStoreError> {
        integrity::check(
            keyring,
            "organisations",
            tag,
            &integrity::organisation(&org_bytes(id), version, state),
        )?;
        let value: Organisation = from_json(state, "organisations")?;
        if value.id() != id {
            return Err(SqlStoreError::Decode {
                table: "organisations",
                reason: "the stored organisation has another id",
            });
        }
        Ok(value)
    }

    pub(super) fn person_from_row(
        keyring: &Keyring,
        row: &D::Row,
    ) -> Result<PersonRecord, SqlStoreError> {
        let bad = |reason| SqlStoreError::Decode {
            table: "people",
            reason,
        };
        let id: Vec<u8> = row.try_get(0)?;
        let login: String = row.try_get(1)?;
        let state: String = row.try_get(3)?;
        let expires: Option<i64> = row.try_get(4)?;
        let phone: Option<String> = row.try_get(6)?;
        if let Some(phone) = &phone {
            let tag: Vec<u8> = row.try_get(8)?;
            integrity::check(keyring, "people", &tag, &integrity::phone(&id, phone))?;
        }
        Ok(PersonRecord {
            id: PersonId::new(decode_u128(&id, "people")?),
            login: Login::new(&login).ok_or(bad("invalid login"))?,
            password_hash: row.try_get(2)?,
            password_state: password_state_from(&state)?,
            password_expires_at: expires.map(|t| to_u64(t, "people")).transpose()?,
            deactivated: row.try_get(5)?,
            phone: phone
                .map(|p| PhoneNumber::parse(&p).map_err(|_| bad("invalid phone number")))
                .transpose()?,
            created_at: to_u64(row.try_get(7)?, "people")?,
            address_verified_at: row
                .try_get::<Option<i64>>(9)?
                .map(|t| to_u64(t, "people"))
                .transpose()?,
        })
    }

    /// Rewrites the organisation's membership index inside `tx`.
    async fn write_memberships(
        tx: &mut Tx<D>,
        organisation: &Organisation,
    ) -> Result<(), SqlStoreError> {
        let org = org_bytes(organisation.id());
        query("DELETE FROM memberships WHERE org = $1")
            .bind(&org)
            .execute(&mut **tx)
            .await?;
        for member in organisation.members() {
            query(
                "INSERT INTO memberships (person, org) VALUES ($1, $2) \
                 ON CONFLICT (person, org) DO NOTHING",
            )
            .bind(person_bytes(member.person()))
            .bind(&org)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Inserts the organisation (`false` if the id exists) or replaces it at
    /// `expected_version` (`false` if it moved), and rewrites its memberships.
    pub(super) async fn write_organisation(
        tx: &mut Tx<D>,
        keyring: &Keyring,
        organisation: &Organisation,
        expected_version: Option<u64>,
    ) -> Result<bool, SqlStoreError> {
        let state = to_json(organisation, "organisations")?;
        let id = org_bytes(organisation.id());
        let expected = expected_version
            .map(|v| to_i64(v, "an organisation version"))
            .transpose()?;
        let version = match expected {
            None => 1,
            Some(version) => version
                .checked_add(1)
                .ok_or(SqlStoreError::OutOfRange("an organisation version"))?,
        };
        let tag = integrity::tag(keyring, &integrity::organisation(&id, version, &state))?;
        let written = match expected {
            None => query(
                "INSERT INTO organisations (id, state, version, tag) \
                 VALUES ($1, $2, 1, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&id)
            .bind(&state)
            .bind(&tag)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
            Some(expected) => query(
                "UPDATE organisations SET state = $1, version = $2, tag = $3 \
                 WHERE id = $4 AND version = $5",
            )
            .bind(&state)
            .bind(version)
            .bind(&tag)
            .bind(&id)
            .bind(expected)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
        };
        if written != 1 {
            return Ok(false);
        }
        Self::write_memberships(tx, organisation).await?;
        Ok(true)
    }
}
