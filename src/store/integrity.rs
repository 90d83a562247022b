//! Row integrity in the SQL stores: the rows that decide a login, besides the sealed MFA state,
//! carry a tag made with the host's [`Keyring`], so that someone who can write the database but
//! holds no sealing key cannot forge one, alter one, or copy one from another row.
//!
//! A tag is a value sealed by [`Keyring::seal`] (so it names its key id and takes part in key
//! rotation) whose plaintext is a fixed marker and whose associated data is the row's table, its
//! identity and every column the stores read back to make a decision. The tag proves nothing
//! secret: it only authenticates the row. Which columns each table binds, and what a tag cannot
//! prevent, is written on the SQL stores (see `SqliteStore`, "Integrity at rest").

use alloc::vec::Vec;

use crate::store::sql::SqlStoreError;
use crate::{Keyring, OpenError, SealContext, SecretKey};

/// The plaintext of every tag: not secret, checked after opening.
const MARK: &[u8; 16] = b"authcore-row-tag";

/// The schema version whose migration adds the tags (and binds the MFA state to its version).
pub(crate) const ROW_INTEGRITY_VERSION: i64 = 6;

/// The associated data of a tag: `authcore/row/v1`, the table, then the named columns.
pub(crate) struct RowContext(SealContext);

impl RowContext {
    /// The context of a row of `table`.
    pub(crate) fn new(table: &'static str) -> Self {
        Self(SealContext::new("authcore/row/v1").with(b"table", table.as_bytes()))
    }

    /// Adds a column holding bytes or text.
    #[must_use]
    pub(crate) fn bytes(self, name: &str, value: &[u8]) -> Self {
        Self(self.0.with(name.as_bytes(), value))
    }

    /// Adds a column holding a number.
    #[must_use]
    pub(crate) fn int(self, name: &str, value: i64) -> Self {
        Self(self.0.with(name.as_bytes(), &value.to_be_bytes()))
    }
}

/// A tag for a row with `context`, under the keyring's current key.
pub(crate) fn tag(keyring: &Keyring, context: &RowContext) -> Result<Vec<u8>, SqlStoreError> {
    let mark = SecretKey::from_bytes(MARK).map_err(SqlStoreError::Seal)?;
    Ok(keyring
        .seal_with_os_rng(&mark, &context.0)
        .map_err(SqlStoreError::Seal)?
        .into_bytes())
}

/// Checks the tag of a row of `table`: [`SqlStoreError::Open`] unless it was made by
/// [`tag`] for exactly this context under a key in the keyring. An empty tag (a row written before
/// the migration that added tags, or by someone without the keys) is [`OpenError::Malformed`].
pub(crate) fn check(
    keyring: &Keyring,
    table: &'static str,
    tag: &[u8],
    context: &RowContext,
) -> Result<(), SqlStoreError> {
    let open_error = |error| SqlStoreError::Open { table, error };
    let opened = keyring.open(tag, &context.0).map_err(open_error)?;
    if opened.expose_bytes() == MARK {
        Ok(())
    } else {
        Err(open_error(OpenError::Forged))
    }
}

/// Checks a row's tag and makes it again under the current key (a key rotation).
pub(crate) fn retag(
    keyring: &Keyring,
    table: &'static str,
    old: &[u8],
    context: &RowContext,
) -> Result<Vec<u8>, SqlStoreError> {
    check(keyring, table, old, context)?;
    tag(keyring, context)
}

/// A pending-login ticket: its digest, step, progress (JSON text) and expiry.
pub(crate) fn ticket(digest: &[u8], step: &str, progress: &str, expires_at: i64) -> RowContext {
    RowContext::new("tickets")
        .bytes("digest", digest)
        .bytes("step", step.as_bytes())
        .bytes("progress", progress.as_bytes())
        .int("expires_at", expires_at)
}

/// A setup token: its digest, person, organisation and expiry.
pub(crate) fn setup_token(digest: &[u8], person: &[u8], org: &[u8], expires_at: i64) -> RowContext {
    RowContext::new("setup_tokens")
        .bytes("digest", digest)
        .bytes("person", person)
        .bytes("org", org)
        .int("expires_at", expires_at)
}

/// A recovery-code set: its person, set id, size and stored hashes. Not the slot (a set moves
/// from pending to active with one guarded `UPDATE`) and not the spent mask (spending is one
/// guarded `UPDATE … SET spent = spent | bit`).
pub(crate) fn recovery_set(person: &[u8], set_id: &[u8], codes: i64, stored: &[u8]) -> RowContext {
    RowContext::new("recovery_sets")
        .bytes("person", person)
        .bytes("set_id", set_id)
        .int("codes", codes)
        .bytes("stored", stored)
}

/// An authenticator's replay watermark: its person, authenticator and last accepted step.
pub(crate) fn watermark(person: &[u8], authenticator: i64, last_step: i64) -> RowContext {
    RowContext::new("authenticator_watermarks")
        .bytes("person", person)
        .int("authenticator", authenticator)
        .int("last_step", last_step)
}

/// An out-of-band challenge: its person, purpose, destination and stored challenge.
pub(crate) fn oob_challenge(
    person: &[u8],
    purpose: &str,
    destination: &str,
    challenge: &[u8],
) -> RowContext {
    RowContext::new("oob_challenges")
        .bytes("person", person)
        .bytes("purpose", purpose.as_bytes())
        .bytes("destination", destination.as_bytes())
        .bytes("challenge", challenge)
}

/// An organisation: its id, version and state (JSON text: policy, roster, roles, delegations).
pub(crate) fn organisation(id: &[u8], version: i64, state: &str) -> RowContext {
    RowContext::new("organisations")
        .bytes("id", id)
        .int("version", version)
        .bytes("state", state.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyId, SealingKey};

    fn keyring(byte: u8) -> Keyring {
        Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[byte; 32]).unwrap())
    }

    #[test]
    fn a_tag_checks_only_for_its_own_row() {
        let keyring = keyring(1);
        let context = ticket(&[1; 32], "enrol_mfa", "{}", 5);
        let tag = tag(&keyring, &context).unwrap();
        check(&keyring, "tickets", &tag, &context).unwrap();
        for other in [
            ticket(&[2; 32], "enrol_mfa", "{}", 5),
            ticket(&[1; 32], "second_factor", "{}", 5),
            ticket(&[1; 32], "enrol_mfa", "{ }", 5),
            ticket(&[1; 32], "enrol_mfa", "{}", 6),
        ] {
            assert!(matches!(
                check(&keyring, "tickets", &tag, &other),
                Err(SqlStoreError::Open {
                    table: "tickets",
                    error: OpenError::Forged
                })
            ));
        }
        assert!(matches!(
            check(&keyring, "tickets", &[], &context),
            Err(SqlStoreError::Open {
                error: OpenError::Malformed,
                ..
            })
        ));
        assert!(check(&self::keyring(2), "tickets", &tag, &context).is_err());
    }

    #[test]
    fn tables_do_not_share_tags() {
        let keyring = keyring(1);
        let a = recovery_set(b"p", b"s", 1, b"x");
        let b = oob_challenge(b"p", "s", "\u{1}", b"x");
        let tag = tag(&keyring, &a).unwrap();
        assert!(check(&keyring, "oob_challenges", &tag, &b).is_err());
        assert!(retag(&keyring, "recovery_sets", &tag, &a).is_ok());
    }
}
