//! The embedded migrations, and the upgrades SQL cannot do alone.

use alloc::string::String;
use alloc::vec::Vec;

use crate::policy::ids::PersonId;
use crate::policy::login::LoginProgress;
use crate::store::sql::codec::{decode_u128, from_json, login_key_text, person_bytes, to_u64};
use crate::store::sql::dialect::{Columns as _, Dialect, Target as _, query};
use crate::store::sql::error::SqlStoreError;
use crate::store::sql::integrity;
use crate::store::sql::seal::{legacy_mfa_context, open_mfa_in, seal_mfa};
use crate::store::sql::{SqlStore, Tx};

impl<D: Dialect> SqlStore<D> {
    /// Creates or upgrades the tables (the embedded migrations not yet applied). Idempotent and
    /// safe to run from several servers at once: each migration runs in its own transaction,
    /// which first takes a lock that serialises them (SQLite's write lock, a PostgreSQL advisory
    /// lock), and is recorded in `authcore_schema`. After a script, the upgrades it cannot do
    /// alone (those that need the keyring) run in the same transaction.
    pub async fn migrate(&self) -> Result<(), SqlStoreError> {
        let pool = &self.pool;
        // The schema table first, under the same lock when the database needs one: servers
        // starting at once on an empty database would otherwise race to create it.
        let mut tx = pool.begin().await?;
        if let Some(lock) = D::SCHEMA_TABLE_LOCK {
            query(lock).execute(&mut *tx).await?;
        }
        query("CREATE TABLE IF NOT EXISTS authcore_schema (version BIGINT PRIMARY KEY NOT NULL)")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        for &(version, script) in D::MIGRATIONS {
            let mut tx = pool.begin().await?;
            query(D::MIGRATION_LOCK).execute(&mut *tx).await?;
            let applied = query("SELECT count(*) FROM authcore_schema WHERE version = $1")
                .bind(version)
                .fetch_one(&mut *tx)
                .await?
                .try_get::<i64>(0)?;
            if applied == 0 {
                D::execute_script(script, (&mut *tx).on()).await?;
                self.upgrade_rows(version, &mut tx).await?;
                query("INSERT INTO authcore_schema (version) VALUES ($1)")
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// The upgrades a migration script cannot do alone, run in its transaction right
    /// after it. Version 6 tags the rows present at the upgrade (they were trusted
    /// until now; from now on a row must carry its tag) and seals every MFA state
    /// again, bound to its version. A state that does not open under the keyring
    /// stops the migration: nothing is skipped silently.
    async fn upgrade_rows(&self, version: i64, tx: &mut Tx<D>) -> Result<(), SqlStoreError> {
        if version == TICKET_PERSON_VERSION {
            return self.fill_ticket_people(tx).await;
        }
        if version != integrity::ROW_INTEGRITY_VERSION {
            return Ok(());
        }
        let keyring = &*self.keyring;
        // Every tagged table, with the statement a key rotation re-tags it with: all its rows
        // hold the empty default tag.
        // Tables created after version 6 (invitations, version 9; account tokens, version 10) are tagged from the start.
        for table in Self::tagged_tables()
            .into_iter()
            .filter(|t| t.table != "invitations")
        {
            let rows = query(table.all).fetch_all(&mut **tx).await?;
            Self::write_tags(&mut **tx, &table, &rows, |_, context| {
                integrity::tag(keyring, context)
            })
            .await?;
        }
        let rows = query("SELECT person, state_key, state, version FROM mfa")
            .fetch_all(&mut **tx)
            .await?;
        for row in &rows {
            let id: Vec<u8> = row.try_get(0)?;
            let state_key: Vec<u8> = row.try_get(1)?;
            let state: Vec<u8> = row.try_get(2)?;
            let version = to_u64(row.try_get(3)?, "mfa")?;
            let person = PersonId::new(decode_u128(&id, "mfa")?);
            let mfa = open_mfa_in(
                keyring,
                &legacy_mfa_context(person),
                person,
                &state_key,
                &state,
            )?;
            let (state_key, state) = seal_mfa(keyring, person, version, &mfa)?;
            query("UPDATE mfa SET state_key = $1, state = $2 WHERE person = $3")
                .bind(state_key)
                .bind(state)
                .bind(&id)
                .execute(&mut **tx)
                .await?;
        }
        // Login counters carried over by migration 0004 are keyed by the name itself:
        // key them by its digest, as every later write does.
        let rows = query("SELECT key FROM throttle_keys WHERE key LIKE 'login:%'")
            .fetch_all(&mut **tx)
            .await?;
        for row in &rows {
            let key: String = row.try_get(0)?;
            let name = key.strip_prefix("login:").unwrap_or(&key);
            query("UPDATE throttle_keys SET key = $1 WHERE key = $2")
                .bind(login_key_text(keyring, name))
                .bind(&key)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Version 7 fills in the person and the key of their login name's counter for the tickets
    /// pending at the upgrade, from each ticket's progress. A ticket whose progress does not
    /// decode, or whose person is gone, is left without them: no step reads it.
    async fn fill_ticket_people(&self, tx: &mut Tx<D>) -> Result<(), SqlStoreError> {
        let rows = query("SELECT digest, progress FROM tickets")
            .fetch_all(&mut **tx)
            .await?;
        for row in &rows {
            let digest: Vec<u8> = row.try_get(0)?;
            let progress: String = row.try_get(1)?;
            let Ok(progress) = from_json::<LoginProgress>(&progress, "tickets") else {
                continue;
            };
            let person = person_bytes(progress.person());
            let login: Option<String> = query("SELECT login FROM people WHERE id = $1")
                .bind(&person)
                .fetch_optional(&mut **tx)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
            let Some(login) = login else {
                continue;
            };
            query("UPDATE tickets SET person = $1, login_key = $2 WHERE digest = $3")
                .bind(&person)
                .bind(login_key_text(&self.keyring, &login))
                .bind(&digest)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// The schema version whose tickets keep their person and login-counter key.
const TICKET_PERSON_VERSION: i64 = 7;
