//! [`SessionStore`] over SQL: sessions, remembered devices and the security epoch in `people`.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::credential::token::TokenDigest;
use crate::policy::factors::{Aal, FactorSet};
use crate::policy::ids::SessionId;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::org_policy::MfaPolicy;
use crate::policy::organisation::Organisation;
use crate::policy::session::{
    DeviceTokenRecord, DeviceTokenView, ListedSession, SessionLabels, SessionRecord, SessionTouch,
    SessionView,
};
use crate::store::sessions::{SessionPruneReport, SessionStore};
use crate::store::sql::codec::{decode_u128, org_bytes, person_bytes, to_i64, to_u64};
use crate::store::sql::dialect::{Columns as _, Dialect, RowsAffected as _, query};
use crate::store::sql::error::SqlStoreError;
use crate::store::sql::integrity::{self, SessionColumns};
use crate::store::sql::{SqlStore, Tx};

/// The session columns [`SqlStore::session_from_row`] reads, in its order (prefixed `s.`).
const SESSION_COLUMNS: &str = "s.digest, s.id, s.person, s.org, s.aal, s.factors, \
    s.authenticated_at, s.verified_at, s.last_seen, s.idle_expires_at, s.expires_at, s.epoch, \
    s.tag";

/// The per-request read: [`SESSION_COLUMNS`] (written out, so that no statement text is built
/// per request), then the person's epoch and deactivation and the organisation's version and
/// tag (its state is read only when the store has not checked that version and tag before:
/// [`VerifiedRows`](super::verified_rows::VerifiedRows)).
const SESSION_READ: &str = "SELECT s.digest, s.id, s.person, s.org, s.aal, s.factors, \
    s.authenticated_at, s.verified_at, s.last_seen, s.idle_expires_at, s.expires_at, s.epoch, \
    s.tag, p.epoch, p.deactivated, o.version, o.tag \
    FROM sessions s JOIN people p ON p.id = s.person \
    LEFT JOIN organisations o ON o.id = s.org WHERE s.digest = $1";

/// The per-request read of a session the store has checked before: the two columns a touch
/// writes (outside the tag) and the live state of [`SESSION_READ`], found only while the row
/// still carries the tag the store checked it with (`$3`). The person and the organisation are
/// the checked ones (`$2`, `$4`), and so are the tagged columns: the store answers with the
/// session it checked, so a row altered under its tag changes nothing here (a store that has
/// not checked the row refuses it), and a row written again since, with a new tag, is read whole
/// by [`SESSION_READ`] and checked against the key. Six columns rather than seventeen.
const SESSION_PROBE: &str = "SELECT s.last_seen, s.idle_expires_at, p.epoch, p.deactivated, \
    o.version, o.tag FROM sessions s JOIN people p ON p.id = $2 \
    LEFT JOIN organisations o ON o.id = $4 WHERE s.digest = $1 AND s.tag = $3";

/// [`SESSION_READ`] by the person and the session's id (a grant's session).
const SESSION_READ_BY_ID: &str = "SELECT s.digest, s.id, s.person, s.org, s.aal, s.factors, \
    s.authenticated_at, s.verified_at, s.last_seen, s.idle_expires_at, s.expires_at, s.epoch, \
    s.tag, p.epoch, p.deactivated, o.version, o.tag \
    FROM sessions s JOIN people p ON p.id = s.person \
    LEFT JOIN organisations o ON o.id = s.org WHERE s.id = $1 AND s.person = $2";

/// How many columns [`SESSION_COLUMNS`] names.
const SESSION_WIDTH: usize = 13;

fn aal_number(aal: Aal) -> i64 {
    match aal {
        Aal::Aal1 => 1,
        Aal::Aal2 => 2,
    }
}

fn aal_from(number: i64) -> Result<Aal, SqlStoreError> {
    match number {
        1 => Ok(Aal::Aal1),
        2 => Ok(Aal::Aal2),
        _ => Err(SqlStoreError::Decode {
            table: "sessions",
            reason: "unknown assurance level",
        }),
    }
}

fn session_id_bytes(id: SessionId) -> Vec<u8> {
    id.get().to_be_bytes().to_vec()
}

/// A session's stored columns, encoded.
struct Encoded {
    id: Vec<u8>,
    person: Vec<u8>,
    org: Vec<u8>,
    aal: i64,
    factors: i64,
    authenticated_at: i64,
    verified_at: i64,
    last_seen: i64,
    idle_expires_at: i64,
    expires_at: i64,
    epoch: i64,
}

impl Encoded {
    fn new(s: &SessionRecord) -> Result<Self, SqlStoreError> {
        Ok(Self {
            id: session_id_bytes(s.id),
            person: person_bytes(s.person),
            org: org_bytes(s.org),
            aal: aal_number(s.aal),
            factors: i64::from(s.factors.bits()),
            authenticated_at: to_i64(s.authenticated_at, "a session time")?,
            verified_at: to_i64(s.verified_at, "a session time")?,
            last_seen: to_i64(s.last_seen, "a session time")?,
            idle_expires_at: to_i64(s.idle_expires_at, "a session time")?,
            expires_at: to_i64(s.expires_at, "a session time")?,
            epoch: to_i64(s.epoch, "an epoch")?,
        })
    }

    fn columns<'a>(&'a self, digest: &'a [u8]) -> SessionColumns<'a> {
        SessionColumns {
            digest,
            id: &self.id,
            person: &self.person,
            org: &self.org,
            aal: self.aal,
            factors: self.factors,
            authenticated_at: self.authenticated_at,
            verified_at: self.verified_at,
            expires_at: self.expires_at,
            epoch: self.epoch,
        }
    }
}

impl<D: Dialect> SqlStore<D> {
    /// A session from the first [`SESSION_WIDTH`] columns of `row` ([`SESSION_COLUMNS`]), its
    /// tag checked: against the key when the store has not checked this row before, and
    /// otherwise by comparing every tagged column with the session it checked (a row altered
    /// since differs, and is checked against the key again).
    fn session_from_row(&self, row: &D::Row) -> Result<SessionRecord, SqlStoreError> {
        let digest: Vec<u8> = row.try_get(0)?;
        let tag: Vec<u8> = row.try_get(12)?;
        let key = <[u8; 32]>::try_from(digest.as_slice()).ok();
        if let Some(kept) = key.and_then(|key| self.verified_sessions.get(&key, 0, &tag))
            && let Ok(read) = Self::decode_session(row)
        {
            // A touch writes these two, outside the tag.
            let untouched = SessionRecord {
                last_seen: kept.last_seen,
                idle_expires_at: kept.idle_expires_at,
                ..read
            };
            if untouched == kept {
                return Ok(read);
            }
        }
        let read = self.checked_session(row)?;
        if let Some(key) = key {
            self.verified_sessions.insert(key, 0, tag, read);
        }
        Ok(read)
    }

    /// [`Self::session_from_row`] checked against the key.
    fn checked_session(&self, row: &D::Row) -> Result<SessionRecord, SqlStoreError> {
        let digest: Vec<u8> = row.try_get(0)?;
        let id: Vec<u8> = row.try_get(1)?;
        let person: Vec<u8> = row.try_get(2)?;
        let org: Vec<u8> = row.try_get(3)?;
        let aal: i64 = row.try_get(4)?;
        let factors: i64 = row.try_get(5)?;
        let authenticated_at: i64 = row.try_get(6)?;
        let verified_at: i64 = row.try_get(7)?;
        let expires_at: i64 = row.try_get(10)?;
        let epoch: i64 = row.try_get(11)?;
        let tag: Vec<u8> = row.try_get(12)?;
        integrity::check(
            &self.keyring,
            "sessions",
            &tag,
            &integrity::session(&SessionColumns {
                digest: &digest,
                id: &id,
                person: &person,
                org: &org,
                aal,
                factors,
                authenticated_at,
                verified_at,
                expires_at,
                epoch,
            }),
        )?;
        Self::decode_session(row)
    }

    /// The session in the first [`SESSION_WIDTH`] columns of `row`, decoded but not checked.
    fn decode_session(row: &D::Row) -> Result<SessionRecord, SqlStoreError> {
        let bad = |reason| SqlStoreError::Decode {
            table: "sessions",
            reason,
        };
        let id: Vec<u8> = row.try_get(1)?;
        let person: Vec<u8> = row.try_get(2)?;
        let org: Vec<u8> = row.try_get(3)?;
        let factors = u8::try_from(row.try_get::<i64>(5)?)
            .ok()
            .and_then(|bits| FactorSet::try_from(bits).ok())
            .ok_or(bad("invalid factor set"))?;
        Ok(SessionRecord {
            id: SessionId::new(decode_u128(&id, "sessions")?),
            person: PersonId::new(decode_u128(&person, "sessions")?),
            org: OrgId::new(decode_u128(&org, "sessions")?),
            aal: aal_from(row.try_get(4)?)?,
            factors,
            authenticated_at: to_u64(row.try_get(6)?, "sessions")?,
            verified_at: to_u64(row.try_get(7)?, "sessions")?,
            last_seen: to_u64(row.try_get(8)?, "sessions")?,
            idle_expires_at: to_u64(row.try_get(9)?, "sessions")?,
            expires_at: to_u64(row.try_get(10)?, "sessions")?,
            epoch: to_u64(row.try_get(11)?, "sessions")?,
        })
    }

    /// A device token from `digest, person, epoch, created_at, expires_at, tag`, its tag
    /// checked.
    fn device_from_row(&self, row: &D::Row) -> Result<DeviceTokenRecord, SqlStoreError> {
        let digest: Vec<u8> = row.try_get(0)?;
        let person: Vec<u8> = row.try_get(1)?;
        let epoch: i64 = row.try_get(2)?;
        let created_at: i64 = row.try_get(3)?;
        let expires_at: i64 = row.try_get(4)?;
        let tag: Vec<u8> = row.try_get(5)?;
        integrity::check(
            &self.keyring,
            "device_tokens",
            &tag,
            &integrity::device_token(&digest, &person, epoch, expires_at),
        )?;
        Ok(DeviceTokenRecord {
            person: PersonId::new(decode_u128(&person, "device_tokens")?),
            epoch: to_u64(epoch, "device_tokens")?,
            created_at: to_u64(created_at, "device_tokens")?,
            expires_at: to_u64(expires_at, "device_tokens")?,
        })
    }

    /// A [`SESSION_READ`] row: the session, its tag checked, and the live state beside it:
    /// the person's epoch and deactivation, and the organisation as checked under the row's
    /// version and tag.
    async fn view_from_row(&self, row: &D::Row) -> Result<SessionView, SqlStoreError> {
        let session = self.session_from_row(row)?;
        self.live_view(session, row, SESSION_WIDTH).await
    }

    /// The [`SessionView`] of `session` with the live state in the four columns of `row` from
    /// `w`: the person's epoch and deactivation, the organisation's version and tag.
    async fn live_view(
        &self,
        session: SessionRecord,
        row: &D::Row,
        w: usize,
    ) -> Result<SessionView, SqlStoreError> {
        let epoch = to_u64(row.try_get(w)?, "people")?;
        let deactivated: bool = row.try_get(w.saturating_add(1))?;
        let version: Option<i64> = row.try_get(w.saturating_add(2))?;
        let tag: Option<Vec<u8>> = row.try_get(w.saturating_add(3))?;
        let organisation = match (version, tag) {
            (Some(version), Some(tag)) => self.verified_org(session.org, version, tag).await?,
            _ => None,
        };
        let (member, policy) = match organisation {
            Some(organisation) => (
                organisation.member(session.person).copied(),
                *organisation.policy(),
            ),
            None => (None, MfaPolicy::Off),
        };
        Ok(SessionView {
            session,
            epoch,
            deactivated,
            member,
            policy,
        })
    }

    /// The organisation `id` as checked under `version` and `tag`: kept from an earlier
    /// check, or read and checked now (and kept). `None` if it is gone.
    async fn verified_org(
        &self,
        id: OrgId,
        version: i64,
        tag: Vec<u8>,
    ) -> Result<Option<Arc<Organisation>>, SqlStoreError> {
        if let Some(kept) = self.verified_orgs.get(&id, version, &tag) {
            return Ok(Some(kept));
        }
        // Changed since it was kept (or never read): read it whole, as it is now.
        let Some(row) = query("SELECT state, version, tag FROM organisations WHERE id = $1")
            .bind(org_bytes(id))
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let (state, version, tag): (String, i64, Vec<u8>) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let organisation = Arc::new(Self::organisation_from(
            &self.keyring,
            id,
            &state,
            version,
            &tag,
        )?);
        self.verified_orgs
            .insert(id, version, tag, Arc::clone(&organisation));
        Ok(Some(organisation))
    }

    async fn write_session_over(
        &self,
        conn: &mut D::Connection,
        old: &[u8],
        new: &[u8],
        session: &SessionRecord,
        guard_epoch: i64,
    ) -> Result<bool, SqlStoreError> {
        let e = Encoded::new(session)?;
        let tag = integrity::tag(&self.keyring, &integrity::session(&e.columns(new)))?;
        let written = query(
            "UPDATE sessions SET digest = $1, aal = $2, factors = $3, authenticated_at = $4, \
             verified_at = $5, last_seen = $6, idle_expires_at = $7, expires_at = $8, \
             epoch = $9, tag = $10 \
             WHERE digest = $11 AND id = $12 AND person = $13 AND epoch = $14",
        )
        .bind(new)
        .bind(e.aal)
        .bind(e.factors)
        .bind(e.authenticated_at)
        .bind(e.verified_at)
        .bind(e.last_seen)
        .bind(e.idle_expires_at)
        .bind(e.expires_at)
        .bind(e.epoch)
        .bind(tag)
        .bind(old)
        .bind(&e.id)
        .bind(&e.person)
        .bind(guard_epoch)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(written == 1)
    }

    /// Moves the person's epoch on inside `tx` — only from `expected`, when given — and
    /// returns the new one; `None` (nothing written) when no row matched.
    pub(super) async fn bump_in(
        &self,
        tx: &mut Tx<D>,
        person: &[u8],
        expected: Option<u64>,
    ) -> Result<Option<i64>, SqlStoreError> {
        let row = match expected {
            None => {
                query("UPDATE people SET epoch = epoch + 1 WHERE id = $1 RETURNING epoch")
                    .bind(person)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            Some(expected) => {
                query(
                    "UPDATE people SET epoch = epoch + 1 WHERE id = $1 AND epoch = $2 \
                     RETURNING epoch",
                )
                .bind(person)
                .bind(to_i64(expected, "an epoch")?)
                .fetch_optional(&mut **tx)
                .await?
            }
        };
        row.map(|row| row.try_get(0))
            .transpose()
            .map_err(Into::into)
    }

    /// Inside `tx`, after a bump to `epoch`: deletes every session of the person but `keep`
    /// (carried over to `epoch`) and every device token of theirs.
    pub(super) async fn end_sessions_in(
        &self,
        tx: &mut Tx<D>,
        person: &[u8],
        keep: Option<SessionId>,
        epoch: i64,
    ) -> Result<(), SqlStoreError> {
        let keep: Vec<u8> = keep.map(session_id_bytes).unwrap_or_default();
        query("DELETE FROM sessions WHERE person = $1 AND id <> $2")
            .bind(person)
            .bind(&keep)
            .execute(&mut **tx)
            .await?;
        query("DELETE FROM device_tokens WHERE person = $1")
            .bind(person)
            .execute(&mut **tx)
            .await?;
        if !keep.is_empty() {
            self.carry_over(tx, person, &keep, epoch).await?;
        }
        Ok(())
    }

    /// Carries the person's session with the id `keep` over to `epoch` inside `tx`, if they
    /// have it.
    async fn carry_over(
        &self,
        tx: &mut Tx<D>,
        person: &[u8],
        keep: &[u8],
        epoch: i64,
    ) -> Result<(), SqlStoreError> {
        let sql = alloc::format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = $1 AND s.person = $2"
        );
        let Some(row) = query(&sql)
            .bind(keep)
            .bind(person)
            .fetch_optional(&mut **tx)
            .await?
        else {
            return Ok(());
        };
        let old = self.session_from_row(&row)?;
        let carried = SessionRecord {
            epoch: to_u64(epoch, "people")?,
            ..old
        };
        let guard = to_i64(old.epoch, "an epoch")?;
        let digest: Vec<u8> = row.try_get(0)?;
        self.write_session_over(&mut *tx, &digest, &digest, &carried, guard)
            .await?;
        Ok(())
    }
}

impl<D: Dialect> SessionStore for SqlStore<D> {
    type Error = SqlStoreError;

    async fn security_epoch(&self, person: PersonId) -> Result<Option<u64>, SqlStoreError> {
        let row = query("SELECT epoch FROM people WHERE id = $1")
            .bind(person_bytes(person))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| to_u64(row.try_get(0)?, "people")).transpose()
    }

    async fn bump_epoch(
        &self,
        person: PersonId,
        keep: Option<SessionId>,
    ) -> Result<Option<u64>, SqlStoreError> {
        let id = person_bytes(person);
        let mut tx = self.pool.begin().await?;
        let Some(epoch) = self.bump_in(&mut tx, &id, None).await? else {
            return Ok(None);
        };
        self.end_sessions_in(&mut tx, &id, keep, epoch).await?;
        tx.commit().await?;
        Ok(Some(to_u64(epoch, "people")?))
    }

    async fn create_session(
        &self,
        digest: &TokenDigest,
        session: &SessionRecord,
        labels: &SessionLabels,
    ) -> Result<bool, SqlStoreError> {
        let e = Encoded::new(session)?;
        let tag = integrity::tag(&self.keyring, &integrity::session(&e.columns(&digest.0)))?;
        let written = query(
            "INSERT INTO sessions (digest, id, person, org, aal, factors, authenticated_at, \
             verified_at, last_seen, idle_expires_at, expires_at, epoch, user_agent, ip, tag) \
             SELECT $1, $2, id, $3, $4, $5, $6, $7, $8, $9, $10, epoch, $11, $12, $13 \
             FROM people WHERE id = $14 AND epoch = $15 \
             ON CONFLICT DO NOTHING",
        )
        .bind(&digest.0[..])
        .bind(&e.id)
        .bind(&e.org)
        .bind(e.aal)
        .bind(e.factors)
        .bind(e.authenticated_at)
        .bind(e.verified_at)
        .bind(e.last_seen)
        .bind(e.idle_expires_at)
        .bind(e.expires_at)
        .bind(labels.user_agent())
        .bind(labels.ip())
        .bind(tag)
        .bind(&e.person)
        .bind(e.epoch)
        .execute(&self.pool)
        .await?
        .rows_affected();
        // A login step's budget counts it (it commits alone).
        self.count_statement();
        self.count_commit();
        Ok(written == 1)
    }

    async fn session(&self, digest: &TokenDigest) -> Result<Option<SessionView>, SqlStoreError> {
        if let Some((tag, kept)) = self.verified_sessions.kept(&digest.0) {
            let probed = query(SESSION_PROBE)
                .bind(&digest.0[..])
                .bind(person_bytes(kept.person))
                .bind(&tag[..])
                .bind(org_bytes(kept.org))
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = probed {
                let session = SessionRecord {
                    last_seen: to_u64(row.try_get(0)?, "sessions")?,
                    idle_expires_at: to_u64(row.try_get(1)?, "sessions")?,
                    ..kept
                };
                return self.live_view(session, &row, 2).await.map(Some);
            }
            // Gone, or written again since (another tag): read whole.
        }
        let Some(row) = query(SESSION_READ)
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await?
        else {
            self.verified_sessions.remove(&digest.0);
            return Ok(None);
        };
        self.view_from_row(&row).await.map(Some)
    }

    async fn session_by_id(
        &self,
        person: PersonId,
        id: SessionId,
    ) -> Result<Option<SessionView>, SqlStoreError> {
        let Some(row) = query(SESSION_READ_BY_ID)
            .bind(session_id_bytes(id))
            .bind(person_bytes(person))
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        self.view_from_row(&row).await.map(Some)
    }

    async fn label_session(
        &self,
        digest: &TokenDigest,
        labels: &SessionLabels,
    ) -> Result<bool, SqlStoreError> {
        let written = query("UPDATE sessions SET user_agent = $1, ip = $2 WHERE digest = $3")
            .bind(labels.user_agent())
            .bind(labels.ip())
            .bind(&digest.0[..])
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(written == 1)
    }

    async fn touch_session(
        &self,
        digest: &TokenDigest,
        touch: &SessionTouch,
    ) -> Result<bool, SqlStoreError> {
        let written = query(
            "UPDATE sessions SET last_seen = $1, idle_expires_at = $2 \
             WHERE digest = $3 AND last_seen = $4",
        )
        .bind(to_i64(touch.last_seen, "the time")?)
        .bind(to_i64(touch.idle_expires_at, "the time")?)
        .bind(&digest.0[..])
        .bind(to_i64(touch.expected_last_seen, "the time")?)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(written == 1)
    }

    async fn rotate_session(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        session: &SessionRecord,
    ) -> Result<bool, SqlStoreError> {
        let mut conn = self.pool.acquire().await?;
        let guard = to_i64(session.epoch, "an epoch")?;
        self.write_session_over(&mut conn, &old.0, &new.0, session, guard)
            .await
    }

    async fn revoke_session(&self, person: PersonId, id: SessionId) -> Result<bool, SqlStoreError> {
        let deleted = query("DELETE FROM sessions WHERE person = $1 AND id = $2")
            .bind(person_bytes(person))
            .bind(session_id_bytes(id))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn sessions_of(&self, person: PersonId) -> Result<Vec<ListedSession>, SqlStoreError> {
        let sql = alloc::format!(
            "SELECT {SESSION_COLUMNS}, s.user_agent, s.ip \
             FROM sessions s JOIN people p ON p.id = s.person AND p.epoch = s.epoch \
             WHERE s.person = $1 ORDER BY s.authenticated_at, s.id"
        );
        let rows = query(&sql)
            .bind(person_bytes(person))
            .fetch_all(&self.pool)
            .await?;
        let mut listed = Vec::with_capacity(rows.len());
        for row in &rows {
            let record = self.session_from_row(row)?;
            let user_agent: Option<String> = row.try_get(SESSION_WIDTH)?;
            let ip: Option<String> = row.try_get(SESSION_WIDTH + 1)?;
            let mut labels = SessionLabels::new();
            if let Some(user_agent) = &user_agent {
                labels = labels.with_user_agent(user_agent);
            }
            if let Some(ip) = &ip {
                labels = labels.with_ip(ip);
            }
            listed.push(ListedSession { record, labels });
        }
        Ok(listed)
    }

    async fn insert_device_token(
        &self,
        digest: &TokenDigest,
        token: &DeviceTokenRecord,
        max_per_person: u32,
    ) -> Result<bool, SqlStoreError> {
        let person = person_bytes(token.person);
        let epoch = to_i64(token.epoch, "an epoch")?;
        let expires_at = to_i64(token.expires_at, "the time")?;
        let tag = integrity::tag(
            &self.keyring,
            &integrity::device_token(&digest.0, &person, epoch, expires_at),
        )?;
        let mut tx = self.pool.begin().await?;
        // The person's row is locked (PostgreSQL; SQLite's write lock covers the database) until
        // the commit, so that concurrent remembers of one person take turns and each one's
        // trimming sees the others' devices, and an epoch bump waits for it and deletes it.
        let sql = alloc::format!(
            "INSERT INTO device_tokens (digest, person, epoch, created_at, expires_at, tag) \
             SELECT $1, id, epoch, $2, $3, $4 FROM people WHERE id = $5 AND epoch = $6{} \
             ON CONFLICT DO NOTHING",
            D::LOCK_PERSON
        );
        let written = query(&sql)
            .bind(&digest.0[..])
            .bind(to_i64(token.created_at, "the time")?)
            .bind(expires_at)
            .bind(tag)
            .bind(&person)
            .bind(epoch)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if written != 1 {
            return Ok(false);
        }
        // The newest `max_per_person` stay (ties broken by digest, as in the memory store).
        query(
            "DELETE FROM device_tokens WHERE person = $1 AND digest NOT IN \
             (SELECT digest FROM device_tokens WHERE person = $1 \
              ORDER BY created_at DESC, digest LIMIT $2)",
        )
        .bind(&person)
        .bind(i64::from(max_per_person))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn device_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<DeviceTokenView>, SqlStoreError> {
        // The remembered-device login step's budget counts it.
        self.count_statement();
        let Some(row) = query(
            "SELECT d.digest, d.person, d.epoch, d.created_at, d.expires_at, d.tag, \
             p.epoch, p.deactivated \
             FROM device_tokens d JOIN people p ON p.id = d.person WHERE d.digest = $1",
        )
        .bind(&digest.0[..])
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(DeviceTokenView {
            token: self.device_from_row(&row)?,
            epoch: to_u64(row.try_get(6)?, "people")?,
            deactivated: row.try_get(7)?,
        }))
    }

    async fn prune_sessions(&self, now: u64) -> Result<SessionPruneReport, SqlStoreError> {
        let now = to_i64(now, "the time")?;
        let mut counts = [0u64; 2];
        for (count, statement) in counts.iter_mut().zip([
            "DELETE FROM sessions WHERE expires_at <= $1 OR idle_expires_at <= $1 \
             OR NOT EXISTS (SELECT 1 FROM people p \
                            WHERE p.id = sessions.person AND p.epoch = sessions.epoch)",
            "DELETE FROM device_tokens WHERE expires_at <= $1 \
             OR NOT EXISTS (SELECT 1 FROM people p \
                            WHERE p.id = device_tokens.person AND p.epoch = device_tokens.epoch)",
        ]) {
            *count = query(statement)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        let [sessions, device_tokens] = counts;
        Ok(SessionPruneReport {
            sessions,
            device_tokens,
        })
    }
}
