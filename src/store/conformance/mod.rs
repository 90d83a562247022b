//! The store conformance suite: every contract of [`UserStore`](crate::store::UserStore),
//! [`SecretStore`](crate::store::SecretStore), [`SessionStore`](crate::store::SessionStore) and
//! [`LoginStore`], races included, checked against any store with one call (feature
//! `test-util`).
//!
//! The suite is runtime-agnostic: it drives the store's futures itself and runs the racing
//! calls concurrently with [`futures_util::future::join_all`]. A store that talks to a database
//! over the network gets real interleaving that way; to race on several threads as well, pass a
//! [`Spawner`] that hands each contender to the runtime (see [`run_all_with`]).
//!
//! It writes its own people, organisations and secrets, under fresh random ids and logins, so
//! it can run against a database that holds other data (and run again). It reads the time from
//! the [`ManualClock`] it is given and moves it forward to check expiry.
//!
//! It returns a [`Report`] naming every check that passed, or the first [`ConformanceFailure`]:
//! which check, what was expected, and the store's own error as its `source()` when the store
//! failed. Unwrap it in a test to get a clear panic message.
//!
//! # Running it against your store
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use authcore::conformance::{self, Spawner};
//! use authcore::otp::ManualClock;
//! use authcore::LoginStore;
//!
//! /// Races on the runtime's worker threads (here: tokio).
//! struct Tokio;
//!
//! impl Spawner for Tokio {
//!     fn spawn<T: Send + 'static>(
//!         &self,
//!         task: impl Future<Output = T> + Send + 'static,
//!     ) -> impl Future<Output = T> + Send + 'static {
//!         let handle = tokio::spawn(task);
//!         async move { handle.await.expect("a contender panicked") }
//!     }
//! }
//!
//! async fn my_store_conforms<S>(store: S) -> Result<(), conformance::ConformanceFailure>
//! where
//!     S: LoginStore + 'static,
//! {
//!     let clock = ManualClock::new(1_700_000_000);
//!     let store = Arc::new(store);
//!     // Everything, racing within this task:
//!     let report = conformance::run_all(Arc::clone(&store), &clock).await?;
//!     assert!(report.checks().len() >= 20);
//!     // And again, racing on the runtime's threads:
//!     conformance::run_all_with(store, &clock, &Tokio).await?;
//!     Ok(())
//! }
//! ```
//!
//! # What it checks
//!
//! - "Not found" is `None`, `false`, an empty list or the default throttle state, never an error.
//! - People: created with their organisation all-or-nothing (a taken login, a taken person id,
//!   an existing organisation or a stale organisation version writes nothing), logins unique
//!   after normalisation (a blank login finds nobody), updates reported and visible,
//!   organisations derived from memberships.
//! - Versions start at 1 and compare-and-swap replacements add one (organisations, MFA state).
//! - Throttles: an attempt is reserved (counted) before it is verified, per key (a person's
//!   factor, a login name); a refused attempt writes nothing; a lock refuses until it lapses and
//!   the next failure locks again; a success or a reset clears the counter (a reset of a clear
//!   one changes nothing); forgotten counters are pruned from their forget time on, and live ones
//!   stay.
//! - An MFA state reads back as written: its authenticators, their secrets included.
//! - Replay watermarks only rise, survive an MFA write computed from an older read, and are
//!   reflected in the state read back.
//! - Recovery codes: a slot is spent once, only in the active set it was redeemed against and
//!   only by that set's person; regenerating the set makes the old one unspendable; a pending
//!   set becomes active once (and activating with none pending does nothing).
//! - Out-of-band challenges are replaced only from the expected value (expecting none: only
//!   while there is none), together with their destination, and a person's sign-in and
//!   phone-verification challenges never touch each other.
//! - Out-of-band sends are decided per person and purpose with
//!   [`OobConfig::check_send`](crate::credential::oob::OobConfig::check_send) and
//!   recorded only when allowed: the cooldown, the hourly cap and the daily verification cap
//!   hold, other people and the other purpose are unaffected, and a send leaves the window an
//!   hour later.
//! - Setup tokens and tickets are taken once, and refused from their expiry time on; neither's
//!   digest takes the other.
//! - Invitations are read without being spent, taken once and only by the invitee (someone
//!   else's attempt leaves them in place), refused from their expiry time on, and pruned
//!   (live ones stay); of many concurrent takes, one wins.
//! - Pruning deletes expired tickets, setup tokens and out-of-band challenges from their expiry
//!   time on, and send logs an hour after their last send; live rows stay, a pruned ticket or
//!   token cannot be taken even for a time it was live, and pruning again finds nothing.
//! - Sessions: created only at the person's current security epoch and under a free digest;
//!   read back with the live epoch, deactivation and membership; a `last_seen` touch writes once
//!   per read; a rotation moves the session to the new digest once, and the old one reads
//!   nothing; one session is revoked by its id (only by its person); listing shows the labels;
//!   an epoch bump deletes the person's other sessions and device tokens and carries the kept
//!   one over. Device tokens are stored only at the current epoch, the oldest beyond the limit
//!   are forgotten, and they trust only their person until they expire. Pruning removes expired,
//!   idle and stale sessions and expired device tokens, and leaves the live ones.
//! - Races: [`RACE_CONTENDERS`] concurrent session creates against an epoch bump (no session
//!   created at the old epoch stands after it), touches of one session from the same read, and
//!   rotations of one token (exactly one wins, and exactly one new token reads the session);
//!   device tokens remembered against an epoch bump (none trusts anyone after it, and pruning
//!   removes any stale row), and against each other under the per-person limit (it holds).
//! - A factor is removed ([`LoginStore::remove_factor`]) only at the epoch it was decided at and
//!   only while the person holds it, moving the epoch on and ending the other sessions in the
//!   same commit; of [`RACE_CONTENDERS`] removals decided at one epoch, exactly one lands.
//! - Races: [`RACE_CONTENDERS`] concurrent calls to advance one watermark, spend one recovery
//!   slot, swap one out-of-band challenge, take one ticket, take one setup token, replace one
//!   MFA state or organisation version, upgrade one password hash, or create one login —
//!   exactly one wins; and
//!   [`THROTTLE_CONTENDERS`] concurrent reservations at one instant are allowed no more than the
//!   policy allows then: with 99 free attempts and a lock at 100, the failure counts reported are
//!   1 to 100 once each, one of them locks, and the rest are refused as locked without a write;
//!   with 2 free attempts, exactly 3 are allowed and the rest told to retry; and
//!   [`RACE_CONTENDERS`] concurrent sends for one person with no cooldown are allowed exactly up
//!   to the hourly cap (verifications: up to the daily cap).
//! - Login steps ([`LoginStore`]): the snapshot reads the live ticket (without consuming it),
//!   the person, the organisation named, the MFA state with its watermarks, the active recovery
//!   set and the counters, by ticket, login name (an unknown name's counter included) or
//!   person; a step's writes commit all or nothing, each guarded (a stale counter, a step at the
//!   watermark, a spent slot or a spent ticket writes nothing at all); the locked step commits
//!   its decision's writes. Races: [`RACE_CONTENDERS`] servers finishing one ticket under the
//!   lock (exactly one sees it) or committing its outcome without the lock (exactly one commit
//!   applies, with its next ticket); [`THROTTLE_CONTENDERS`] wrong codes through the locked step
//!   at one instant with 2 free attempts (exactly 3 verified); wrong codes racing a right one
//!   (every failure counted once, the right one never accepted past the lock); and
//!   [`THROTTLE_CONTENDERS`] attempts counted by snapshot and compare-and-swap, as the password
//!   step counts them (exactly 3 allowed).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;

use crate::otp::clock::ManualClock;
use crate::store::login::LoginStore;

use fixture::Fixture;
use harness::Fail;

#[macro_use]
mod harness;
mod account;
mod devices;
mod factors;
mod fixture;
mod invitations;

mod login;
mod mfa;
mod not_found;
mod oob;
#[cfg(feature = "passkeys")]
mod passkeys;
mod people;
mod prune;
mod races;
mod recovery;
mod sessions;
mod throttle;
mod tokens;

#[cfg(feature = "passkeys")]
pub use passkeys::{PasskeyConformance, run_passkeys, run_passkeys_with};

/// How many contenders each "exactly one wins" race starts.
pub const RACE_CONTENDERS: usize = 32;

/// How many concurrent failures the throttle race records (against a lock at 100).
pub const THROTTLE_CONTENDERS: usize = 200;

/// Runs the racing calls of the suite: each contender is handed to [`Spawner::spawn`], and the
/// returned futures are awaited together.
///
/// [`InPlace`] runs them all in the calling task; a host's implementation can spawn them on a
/// multi-threaded runtime so that they also race on several threads.
pub trait Spawner: Sync {
    /// Starts `task` and returns a future of its output.
    fn spawn<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static;
}

/// Runs the contenders concurrently in the calling task (no runtime needed).
#[derive(Clone, Copy, Debug, Default)]
pub struct InPlace;

impl Spawner for InPlace {
    fn spawn<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        task
    }
}

/// The checks that passed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    checks: Vec<&'static str>,
}

impl Report {
    /// The names of the checks that passed, in the order they ran.
    pub fn checks(&self) -> &[&'static str] {
        &self.checks
    }
}

/// A check the store failed: its name, what went wrong, and the store's error if it failed.
#[derive(Debug)]
pub struct ConformanceFailure {
    check: &'static str,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl ConformanceFailure {
    /// The name of the failed check.
    pub fn check(&self) -> &'static str {
        self.check
    }

    /// What was expected and what happened.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConformanceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "store conformance check `{}` failed: {}",
            self.check, self.message
        )
    }
}

impl std::error::Error for ConformanceFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Runs every check, racing in the calling task ([`InPlace`]).
pub async fn run_all<S>(store: Arc<S>, clock: &ManualClock) -> Result<Report, ConformanceFailure>
where
    S: LoginStore + 'static,
{
    run_all_with(store, clock, &InPlace).await
}

/// Runs every check, handing the racing calls to `spawner`.
pub async fn run_all_with<S, P>(
    store: Arc<S>,
    clock: &ManualClock,
    spawner: &P,
) -> Result<Report, ConformanceFailure>
where
    S: LoginStore + 'static,
    P: Spawner,
{
    let fx = Fixture::new(store, clock)?;
    let mut report = Report::default();
    macro_rules! run {
        ($name:literal, $check:expr) => {
            $check.await.map_err(|f: Fail| ConformanceFailure {
                check: $name,
                message: f.message,
                source: f.source,
            })?;
            report.checks.push($name);
        };
    }
    // One line per check, grouped by the file (one theme each) that holds it. A new check is a
    // `pub(super) async fn` returning `Checked` in its theme's file (or a new one), and a line
    // here: it then runs against every store and is named in the report, whose length
    // tests/store_memory.rs asserts.
    run!("not_found", not_found::not_found(&fx));
    run!("create_person", people::create_person(&fx));
    run!("unique_login", people::unique_login(&fx));
    run!("unique_person_id", people::unique_person_id(&fx));
    run!(
        "create_person_all_or_nothing",
        people::create_all_or_nothing(&fx)
    );
    run!("person_updates", people::person_updates(&fx));
    run!(
        "upgrade_password_hash",
        people::upgrade_password_hash(&fx, spawner)
    );
    run!("organisation_versions", people::organisation_versions(&fx));
    run!("organisations_of", people::organisations_of(&fx));
    run!("throttle", throttle::throttle(&fx));
    run!("mfa_versions", mfa::mfa_versions(&fx));
    run!("watermark", mfa::watermark(&fx));
    run!("recovery_codes", recovery::recovery_codes(&fx));
    run!(
        "recovery_pending_to_active",
        recovery::recovery_pending(&fx)
    );
    run!("oob_compare_and_swap", oob::oob(&fx));
    run!("oob_purposes_apart", oob::oob_purposes(&fx));
    run!("oob_send_log", oob::oob_send_log(&fx));
    run!("oob_daily_cap", oob::oob_daily_cap(&fx));
    run!("setup_tokens", tokens::setup_tokens(&fx));
    run!("tickets", tokens::tickets(&fx));
    run!("account_tokens", account::account_tokens(&fx));
    run!("verified_addresses", account::addresses(&fx));
    run!("invitations", invitations::invitations(&fx));
    run!("invitation_expiry", invitations::invitation_expiry(&fx));
    run!("prune_expired", prune::prune(&fx));
    run!("sessions", sessions::sessions(&fx));
    run!("session_by_id", sessions::session_by_id(&fx));
    run!("security_epoch", sessions::security_epoch(&fx));
    run!("device_tokens", sessions::device_tokens(&fx));
    run!("prune_sessions", sessions::prune_sessions(&fx));
    run!("remove_factor", factors::remove_factor(&fx));
    run!("race_watermark", races::race_watermark(&fx, spawner));
    run!(
        "race_recovery_slot",
        races::race_recovery_slot(&fx, spawner)
    );
    run!("race_oob_challenge", races::race_oob(&fx, spawner));
    run!("race_oob_send", races::race_oob_send(&fx, spawner));
    run!("race_ticket", races::race_ticket(&fx, spawner));
    run!("race_setup_token", races::race_setup_token(&fx, spawner));
    run!(
        "race_invitation",
        invitations::race_invitation(&fx, spawner)
    );
    run!(
        "race_account_token",
        account::race_account_token(&fx, spawner)
    );
    run!(
        "race_change_login",
        account::race_change_login(&fx, spawner)
    );
    run!("race_replace_mfa", races::race_replace_mfa(&fx, spawner));
    run!(
        "race_replace_organisation",
        races::race_replace_organisation(&fx, spawner)
    );
    run!(
        "race_create_person",
        races::race_create_person(&fx, spawner)
    );
    run!("race_throttle", races::race_throttle(&fx, spawner));
    run!(
        "race_revoke_all_vs_create",
        sessions::race_revoke_all(&fx, spawner)
    );
    run!("race_touch_session", sessions::race_touch(&fx, spawner));
    run!(
        "race_remove_factor",
        factors::race_remove_factor(&fx, spawner)
    );
    run!("race_rotate_session", sessions::race_rotate(&fx, spawner));
    run!(
        "race_device_vs_bump",
        devices::race_device_vs_bump(&fx, spawner)
    );
    run!(
        "race_device_limit",
        devices::race_device_limit(&fx, spawner)
    );
    run!("login_snapshot", login::login_snapshot(&fx));
    run!("login_apply_step", login::apply_step(&fx));
    run!("login_locked_step", login::locked_step(&fx));
    run!(
        "race_locked_ticket",
        login::race_locked_ticket(&fx, spawner)
    );
    run!("race_apply_ticket", login::race_apply_ticket(&fx, spawner));
    run!(
        "race_locked_throttle",
        login::race_locked_throttle(&fx, spawner)
    );
    run!(
        "race_counted_attempts",
        login::race_counted_attempts(&fx, spawner)
    );
    Ok(report)
}
