//! [`InvitationStore`] over SQL: the `invitations` table, each row tagged.

use alloc::string::String;
use alloc::vec::Vec;

use crate::credential::token::TokenDigest;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::organisation::Invitation;
use crate::store::invitations::{InvitationRecord, InvitationStore};
use crate::store::sql::codec::{decode_u128, org_bytes, person_bytes, to_i64, to_json};
use crate::store::sql::dialect::{Columns as _, Dialect, RowsAffected as _, query};
use crate::store::sql::error::SqlStoreError;
use crate::store::sql::{SqlStore, integrity};

const TABLE: &str = "invitations";

impl<D: Dialect> InvitationStore for SqlStore<D> {
    type Error = SqlStoreError;

    async fn insert_invitation(&self, record: &InvitationRecord) -> Result<(), SqlStoreError> {
        let person = person_bytes(record.person);
        let org = org_bytes(record.invitation.org());
        let json = to_json(&record.invitation, TABLE)?;
        let expires_at = to_i64(record.invitation.expires_at(), "an invitation expiry")?;
        let tag = integrity::tag(
            &self.keyring,
            &integrity::invitation(&record.digest.0, &person, &org, &json, expires_at),
        )?;
        query(
            "INSERT INTO invitations (digest, person, org, invitation, expires_at, tag) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.digest.0.to_vec())
        .bind(person)
        .bind(org)
        .bind(json)
        .bind(expires_at)
        .bind(tag)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn invitation(
        &self,
        digest: &TokenDigest,
        person: PersonId,
        now: u64,
    ) -> Result<Option<Invitation>, SqlStoreError> {
        let row = query(
            "SELECT org, invitation, expires_at, tag FROM invitations \
             WHERE digest = $1 AND person = $2 AND expires_at > $3",
        )
        .bind(digest.0.to_vec())
        .bind(person_bytes(person))
        .bind(to_i64(now, "the time")?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            self.invitation_row(&row, digest, person)
                .map(|r| r.invitation)
        })
        .transpose()
    }

    async fn take_invitation(
        &self,
        digest: &TokenDigest,
        person: PersonId,
        now: u64,
    ) -> Result<Option<InvitationRecord>, SqlStoreError> {
        let row = query(
            "DELETE FROM invitations WHERE digest = $1 AND person = $2 AND expires_at > $3 \
             RETURNING org, invitation, expires_at, tag",
        )
        .bind(digest.0.to_vec())
        .bind(person_bytes(person))
        .bind(to_i64(now, "the time")?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.invitation_row(&row, digest, person))
            .transpose()
    }

    async fn prune_invitations(&self, now: u64) -> Result<u64, SqlStoreError> {
        let done = query("DELETE FROM invitations WHERE expires_at <= $1")
            .bind(to_i64(now, "the time")?)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn organisation_ids(&self) -> Result<Vec<OrgId>, SqlStoreError> {
        let rows = query("SELECT id FROM organisations")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let id: Vec<u8> = row.try_get(0)?;
                Ok(OrgId::new(decode_u128(&id, "organisations")?))
            })
            .collect()
    }
}

impl<D: Dialect> SqlStore<D> {
    /// Checks and decodes an invitation row (`org, invitation, expires_at, tag`).
    fn invitation_row(
        &self,
        row: &D::Row,
        digest: &TokenDigest,
        person: PersonId,
    ) -> Result<InvitationRecord, SqlStoreError> {
        let org: Vec<u8> = row.try_get(0)?;
        let json: String = row.try_get(1)?;
        let expires_at: i64 = row.try_get(2)?;
        let tag: Vec<u8> = row.try_get(3)?;
        // A forged row is an error (and, when taken, gone).
        integrity::check(
            &self.keyring,
            TABLE,
            &tag,
            &integrity::invitation(&digest.0, &person_bytes(person), &org, &json, expires_at),
        )?;
        let invitation: Invitation =
            serde_json::from_str(&json).map_err(|_| SqlStoreError::Decode {
                table: TABLE,
                reason: "the stored invitation does not decode",
            })?;
        let same_org = OrgId::new(decode_u128(&org, TABLE)?) == invitation.org();
        if !same_org || to_i64(invitation.expires_at(), TABLE)? != expires_at {
            return Err(SqlStoreError::Decode {
                table: TABLE,
                reason: "the invitation disagrees with its row",
            });
        }
        Ok(InvitationRecord {
            digest: *digest,
            person,
            invitation,
        })
    }
}
