//! The store conformance suite: every contract of [`UserStore`] and [`SecretStore`], races
//! included, checked against any store with one call (feature `test-util`).
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
//! use authcore::{LoginStore, ManualClock};
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
//! - People: created with their organisation all-or-nothing (a taken login, an existing
//!   organisation or a stale organisation version writes nothing), logins unique after
//!   normalisation, updates reported and visible, organisations derived from memberships.
//! - Versions start at 1 and compare-and-swap replacements add one (organisations, MFA state).
//! - Throttles: an attempt is reserved (counted) before it is verified, per key (a person's
//!   factor, a login name); a refused attempt writes nothing; a lock refuses until it lapses and
//!   the next failure locks again; a success or a reset clears the counter; forgotten counters are
//!   pruned from their forget time on, and live ones stay.
//! - Replay watermarks only rise, survive an MFA write computed from an older read, and are
//!   reflected in the state read back.
//! - Recovery codes: a slot is spent once, only in the active set it was redeemed against;
//!   regenerating the set makes the old one unspendable; a pending set becomes active once.
//! - Out-of-band challenges are replaced only from the expected value, together with their
//!   destination, and a person's sign-in and phone-verification challenges never touch each
//!   other.
//! - Out-of-band sends are decided per destination with [`OobConfig::check_send`] and recorded
//!   only when allowed: the cooldown and the hourly cap hold, other destinations are unaffected,
//!   and a send leaves the window an hour later.
//! - Setup tokens and tickets are taken once, and refused from their expiry time on.
//! - Pruning deletes expired tickets, setup tokens and out-of-band challenges from their expiry
//!   time on, and send logs an hour after their last send; live rows stay, a pruned ticket or
//!   token cannot be taken even for a time it was live, and pruning again finds nothing.
//! - Races: [`RACE_CONTENDERS`] concurrent calls to advance one watermark, spend one recovery
//!   slot, swap one out-of-band challenge, take one ticket, take one setup token, replace one
//!   MFA state or organisation version, or create one login — exactly one wins; and
//!   [`THROTTLE_CONTENDERS`] concurrent reservations at one instant are allowed no more than the
//!   policy allows then: with 99 free attempts and a lock at 100, the failure counts reported are
//!   1 to 100 once each, one of them locks, and the rest are refused as locked without a write;
//!   with 2 free attempts, exactly 3 are allowed and the rest told to retry; and
//!   [`RACE_CONTENDERS`] concurrent sends to one
//!   destination with no cooldown are allowed exactly up to the hourly cap.
//! - Login steps ([`LoginStore`]): the snapshot reads the live ticket (without consuming it),
//!   the person, the organisation named, the MFA state with its watermarks, the active recovery
//!   set and the counters, by ticket, login name (an unknown name's counter included) or
//!   person; a step's writes commit all or nothing, each guarded (a stale counter, a step at the
//!   watermark, a spent slot or a spent ticket writes nothing at all); the locked step commits
//!   its decision's writes. Races: [`RACE_CONTENDERS`] servers finishing one ticket under the
//!   lock — exactly one sees it — or committing its outcome without the lock — exactly one
//!   commit applies, with its next ticket; [`THROTTLE_CONTENDERS`] wrong codes through the locked step at
//!   one instant with 2 free attempts — exactly 3 verified; wrong codes racing a right one —
//!   every failure counted once and the right one never accepted past the lock; and
//!   [`THROTTLE_CONTENDERS`] attempts counted by snapshot and compare-and-swap, as the password
//!   step counts — exactly 3 allowed.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;

use futures_util::future::join_all;

use crate::credential::factor::{FactorKind, ThrottledFactor};
use crate::credential::oob::{
    OobChallenge, OobConfig, OobIssue, OobKey, OobSendLog, SendDecision, SendRefusal,
};
use crate::credential::phone::PhoneNumber;
use crate::credential::recovery::{RecoveryCodeSet, RecoveryParams};
use crate::credential::throttle::{ThrottleDecision, ThrottleEvent, ThrottlePolicy, ThrottleState};
use crate::credential::token::BearerToken;
use crate::otp::clock::{Clock, ManualClock};
use crate::otp::totp::Totp;
use crate::policy::enrollment::{AuthenticatorName, EnrollmentConfig, EnrollmentPurpose, Mfa};
use crate::policy::factors::SecondFactors;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{
    Account, Grant, LoginDecision, LoginProgress, PasswordState, login_decision,
};
use crate::policy::organisation::Organisation;
use crate::policy::roles::Role;
use crate::store::login::LoginStore;
use crate::store::records::{
    Login, OobChallengeRecord, OobPurpose, PendingStep, PersonRecord, PruneReport, RecoverySlot,
    SetupTokenRecord, ThrottleKey, ThrottleOp, TicketRecord,
};
use crate::store::{CreateOutcome, OrganisationWrite, SecretStore, UserStore};

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

/// A failure inside one check, before it is named.
#[derive(Debug)]
struct Fail {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Fail {
    fn from(e: E) -> Self {
        Self {
            message: format!("unexpected error: {e}"),
            source: Some(Box::new(e)),
        }
    }
}

fn fail(message: String) -> Fail {
    Fail {
        message,
        source: None,
    }
}

/// Fails the check with a message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(fail(format!($($message)+)));
        }
    };
}

/// Fails the check unless the two values are equal.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($message:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(fail(format!(
                "{}: expected {:?}, got {:?}",
                format!($($message)+),
                right,
                left
            )));
        }
    }};
}

mod login;

type Checked = Result<(), Fail>;

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
    run!("not_found", not_found(&fx));
    run!("create_person", create_person(&fx));
    run!("unique_login", unique_login(&fx));
    run!("create_person_all_or_nothing", create_all_or_nothing(&fx));
    run!("person_updates", person_updates(&fx));
    run!("upgrade_password_hash", upgrade_password_hash(&fx, spawner));
    run!("organisation_versions", organisation_versions(&fx));
    run!("organisations_of", organisations_of(&fx));
    run!("throttle", throttle(&fx));
    run!("mfa_versions", mfa_versions(&fx));
    run!("watermark", watermark(&fx));
    run!("recovery_codes", recovery_codes(&fx));
    run!("recovery_pending_to_active", recovery_pending(&fx));
    run!("oob_compare_and_swap", oob(&fx));
    run!("oob_purposes_apart", oob_purposes(&fx));
    run!("oob_send_log", oob_send_log(&fx));
    run!("oob_daily_cap", oob_daily_cap(&fx));
    run!("setup_tokens", setup_tokens(&fx));
    run!("tickets", tickets(&fx));
    run!("prune_expired", prune(&fx));
    run!("race_watermark", race_watermark(&fx, spawner));
    run!("race_recovery_slot", race_recovery_slot(&fx, spawner));
    run!("race_oob_challenge", race_oob(&fx, spawner));
    run!("race_oob_send", race_oob_send(&fx, spawner));
    run!("race_ticket", race_ticket(&fx, spawner));
    run!("race_setup_token", race_setup_token(&fx, spawner));
    run!("race_replace_mfa", race_replace_mfa(&fx, spawner));
    run!(
        "race_replace_organisation",
        race_replace_organisation(&fx, spawner)
    );
    run!("race_create_person", race_create_person(&fx, spawner));
    run!("race_throttle", race_throttle(&fx, spawner));
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

/// The store, the clock, and fresh ids.
struct Fixture<'c, S> {
    store: Arc<S>,
    clock: &'c ManualClock,
    base: u128,
    next: core::sync::atomic::AtomicU32,
    oob_key: OobKey,
}

impl<'c, S: UserStore + SecretStore + 'static> Fixture<'c, S> {
    fn new(store: Arc<S>, clock: &'c ManualClock) -> Result<Self, ConformanceFailure> {
        let setup = |e: crate::error::Error| ConformanceFailure {
            check: "setup",
            message: format!("could not prepare the suite: {e}"),
            source: Some(Box::new(e)),
        };
        let mut bytes = [0u8; 16];
        rand_core::TryRng::try_fill_bytes(&mut getrandom::SysRng, &mut bytes)
            .map_err(|_| setup(crate::error::Error::Random))?;
        // Room below the top for the suite's own counter.
        let base = u128::from_be_bytes(bytes) >> 40 << 32;
        let oob_key = OobKey::generate_with_rng(&mut getrandom::SysRng).map_err(setup)?;
        Ok(Self {
            store,
            clock,
            base,
            next: core::sync::atomic::AtomicU32::new(1),
            oob_key,
        })
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn fresh(&self) -> u128 {
        let n = self
            .next
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        self.base | u128::from(n)
    }

    fn person_id(&self) -> PersonId {
        PersonId::new(self.fresh())
    }

    fn org_id(&self) -> OrgId {
        OrgId::new(self.fresh())
    }

    fn login_for(&self, id: PersonId) -> String {
        format!("conformance-{:x}@example.test", id.get())
    }

    fn record(&self, id: PersonId) -> Result<PersonRecord, Fail> {
        let login = Login::new(&self.login_for(id)).ok_or_else(|| fail("bad login".into()))?;
        Ok(PersonRecord {
            id,
            login,
            password_hash: String::from("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
            password_state: PasswordState::Current,
            password_expires_at: None,
            deactivated: false,
            phone: None,
            created_at: self.now(),
        })
    }

    /// A person who founded their own organisation.
    async fn founder(&self) -> Result<(PersonRecord, Organisation), Fail> {
        let person = self.record(self.person_id())?;
        let org = Organisation::found(self.org_id(), person.id, self.now()).state;
        let outcome = self
            .store
            .create_person(&person, OrganisationWrite::Insert(&org))
            .await?;
        ensure_eq!(outcome, CreateOutcome::Created, "founding an organisation");
        Ok((person, org))
    }

    /// `org` with `person` added as a User by its owner.
    fn with_member(
        &self,
        org: &Organisation,
        owner: PersonId,
        person: PersonId,
    ) -> Result<Organisation, Fail> {
        let now = self.now();
        let account = Account::new(owner).factors(SecondFactors::of(FactorKind::Totp));
        let progress = LoginProgress::password_verified(owner, org.id(), now)
            .with_second_factor(FactorKind::Totp);
        let grant: Grant =
            match login_decision(&account, org.member(owner), org.policy(), &progress, now) {
                LoginDecision::Allowed(grant) => grant,
                other => return Err(fail(format!("the owner could not sign in: {other:?}"))),
            };
        Ok(org.add_member(&grant, person, Role::User, now)?.state)
    }

    /// An MFA state with one active authenticator, through the enrollment ceremony.
    fn enrolled(&self, person: PersonId) -> Result<Mfa, Fail> {
        let now = self.now();
        let config = EnrollmentConfig::default();
        let name = AuthenticatorName::new("conformance")?;
        let started = Mfa::new(person)
            .start_enrollment_with_os_rng(EnrollmentPurpose::Add(name), None, &config, now)?
            .state;
        let secret = started
            .enrollment()
            .ok_or_else(|| fail("no enrollment".into()))?
            .expose_secret();
        let code = Totp::new(config.params(), secret).generate(now)?;
        let confirmed = started
            .confirm_enrollment(code.expose_secret(), &config, now)?
            .state;
        let issued = confirmed.recovery_codes_issued(&config, now)?.state;
        Ok(issued.acknowledge_recovery_codes(&config, now)?.state)
    }

    fn recovery_set(&self) -> Result<RecoveryCodeSet, Fail> {
        let params = RecoveryParams::builder()
            .count(4)
            .dangerous_argon2(8, 1, 1)
            .build()?;
        Ok(RecoveryCodeSet::generate(&params)?.set)
    }

    fn oob_challenge(&self) -> Result<OobChallenge, Fail> {
        match OobConfig::default().issue_with_os_rng(
            &self.oob_key,
            &OobSendLog::new(),
            self.now(),
        )? {
            OobIssue::Send { challenge, .. } => Ok(challenge),
            OobIssue::Refused { .. } => Err(fail("an out-of-band send was refused".into())),
        }
    }

    /// A challenge as stored: with a fresh destination.
    fn oob_record(&self, challenge: &OobChallenge) -> Result<OobChallengeRecord, Fail> {
        Ok(OobChallengeRecord {
            destination: self.phone()?,
            challenge: challenge.clone(),
        })
    }

    /// A fresh destination: `+44 20` and ten digits drawn from a fresh id.
    fn phone(&self) -> Result<PhoneNumber, Fail> {
        let digits = self.fresh().checked_rem(10_000_000_000).unwrap_or(0);
        Ok(PhoneNumber::parse(&format!("+4420{digits:010}"))?)
    }

    fn ticket(&self, person: PersonId, org: OrgId, ttl: u64) -> Result<TicketRecord, Fail> {
        let now = self.now();
        Ok(TicketRecord {
            digest: BearerToken::generate()?.digest(),
            step: PendingStep::SecondFactor,
            progress: LoginProgress::password_verified(person, org, now),
            expires_at: now.saturating_add(ttl),
        })
    }

    fn setup_token(
        &self,
        person: PersonId,
        org: OrgId,
        ttl: u64,
    ) -> Result<SetupTokenRecord, Fail> {
        Ok(SetupTokenRecord {
            digest: BearerToken::generate()?.digest(),
            person,
            org,
            expires_at: self.now().saturating_add(ttl),
        })
    }
}

async fn not_found<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let nobody = fx.person_id();
    let nowhere = fx.org_id();
    ensure!(
        s.person(nobody).await?.is_none(),
        "person(unknown) must be None"
    );
    ensure!(
        s.person_by_login(&fx.login_for(nobody)).await?.is_none(),
        "person_by_login(unknown) must be None"
    );
    ensure!(
        !s.set_password(nobody, "x", PasswordState::Current, None)
            .await?,
        "set_password(unknown) must be false"
    );
    ensure!(
        !s.set_phone(nobody, None).await?,
        "set_phone(unknown) must be false"
    );
    ensure!(
        !s.set_deactivated(nobody, true).await?,
        "set_deactivated(unknown) must be false"
    );
    ensure_eq!(
        s.throttle(&ThrottleKey::factor(nobody, ThrottledFactor::Totp))
            .await?,
        ThrottleState::new(),
        "throttle(unknown)"
    );
    ensure!(
        UserStore::organisation(s, nowhere).await?.is_none(),
        "organisation(unknown) must be None"
    );
    let org = Organisation::found(nowhere, nobody, fx.now()).state;
    ensure!(
        !s.replace_organisation(&org, 1).await?,
        "replace_organisation(unknown) must be false"
    );
    ensure!(
        s.organisations_of(nobody).await?.is_empty(),
        "organisations_of(unknown) must be empty"
    );
    ensure!(s.mfa(nobody).await?.is_none(), "mfa(unknown) must be None");
    ensure!(
        !s.advance_watermark(nobody, crate::policy::ids::AuthenticatorId::new(1), 10)
            .await?,
        "advance_watermark(unknown person) must be false"
    );
    for slot in [RecoverySlot::Active, RecoverySlot::Pending] {
        ensure!(
            s.recovery_codes(nobody, slot).await?.is_none(),
            "recovery_codes(unknown, {slot:?}) must be None"
        );
    }
    ensure!(
        !s.activate_pending_recovery_codes(nobody).await?,
        "activate_pending_recovery_codes(unknown) must be false"
    );
    ensure!(
        !s.spend_recovery_code(nobody, [0; 16], 0).await?,
        "spend_recovery_code(unknown) must be false"
    );
    for purpose in [OobPurpose::SignIn, OobPurpose::VerifyPhone] {
        ensure!(
            s.oob_challenge(nobody, purpose).await?.is_none(),
            "oob_challenge(unknown, {purpose:?}) must be None"
        );
    }
    let digest = BearerToken::generate()?.digest();
    ensure!(
        s.take_setup_token(&digest, fx.now()).await?.is_none(),
        "take_setup_token(unknown) must be None"
    );
    ensure!(
        s.take_ticket(&digest, fx.now()).await?.is_none(),
        "take_ticket(unknown) must be None"
    );
    Ok(())
}

async fn create_person<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let (person, org) = fx.founder().await?;
    ensure_eq!(
        s.person(person.id).await?,
        Some(person.clone()),
        "person(id) after create_person"
    );
    let shouted = format!("  {}  ", fx.login_for(person.id).to_ascii_uppercase());
    ensure_eq!(
        s.person_by_login(&shouted).await?,
        Some(person.clone()),
        "person_by_login with another case and surrounding spaces"
    );
    let stored = UserStore::organisation(s, org.id())
        .await?
        .ok_or_else(|| fail("the organisation was not written".into()))?;
    ensure_eq!(stored.version, 1, "a new organisation's version");
    ensure_eq!(stored.value, org, "the stored organisation");
    ensure_eq!(
        s.organisations_of(person.id).await?,
        alloc::vec![org.id()],
        "organisations_of the founder"
    );
    Ok(())
}

async fn unique_login<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let (first, _) = fx.founder().await?;
    let mut second = fx.record(fx.person_id())?;
    second.login = Login::new(&first.login.as_str().to_ascii_uppercase())
        .ok_or_else(|| fail("bad login".into()))?;
    let org = Organisation::found(fx.org_id(), second.id, fx.now()).state;
    ensure_eq!(
        s.create_person(&second, OrganisationWrite::Insert(&org))
            .await?,
        CreateOutcome::LoginTaken,
        "create_person with a taken login"
    );
    ensure!(
        s.person(second.id).await?.is_none(),
        "a refused person must not be written"
    );
    ensure!(
        UserStore::organisation(s, org.id()).await?.is_none(),
        "the organisation of a refused person must not be written"
    );
    ensure_eq!(
        s.person_by_login(first.login.as_str()).await?.map(|p| p.id),
        Some(first.id),
        "the login still names the first person"
    );
    Ok(())
}

async fn create_all_or_nothing<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (owner, org) = fx.founder().await?;
    // Inserting an organisation that exists: nothing is written.
    let newcomer = fx.record(fx.person_id())?;
    let clash = Organisation::found(org.id(), newcomer.id, fx.now()).state;
    ensure_eq!(
        s.create_person(&newcomer, OrganisationWrite::Insert(&clash))
            .await?,
        CreateOutcome::OrganisationConflict,
        "create_person inserting an existing organisation"
    );
    ensure!(
        s.person(newcomer.id).await?.is_none()
            && s.person_by_login(newcomer.login.as_str()).await?.is_none(),
        "a person whose organisation write failed must not be written"
    );
    // Replacing from a stale version: nothing is written.
    let added = fx.with_member(&org, owner.id, newcomer.id)?;
    ensure_eq!(
        s.create_person(
            &newcomer,
            OrganisationWrite::Replace {
                organisation: &added,
                expected_version: 2,
            },
        )
        .await?,
        CreateOutcome::OrganisationConflict,
        "create_person replacing from a stale version"
    );
    ensure!(
        s.person(newcomer.id).await?.is_none(),
        "a person whose organisation replacement failed must not be written"
    );
    let stored = UserStore::organisation(s, org.id())
        .await?
        .ok_or_else(|| fail("organisation lost".into()))?;
    ensure_eq!(
        stored.version,
        1,
        "a refused replacement leaves the version"
    );
    ensure_eq!(
        stored.value,
        org,
        "a refused replacement leaves the organisation"
    );
    // Replacing an organisation that does not exist: nothing is written.
    let ghost = Organisation::found(fx.org_id(), newcomer.id, fx.now()).state;
    ensure_eq!(
        s.create_person(
            &newcomer,
            OrganisationWrite::Replace {
                organisation: &ghost,
                expected_version: 1,
            },
        )
        .await?,
        CreateOutcome::OrganisationConflict,
        "create_person replacing a missing organisation"
    );
    ensure!(
        s.person(newcomer.id).await?.is_none(),
        "nothing is written when the organisation is missing"
    );
    // From the right version: both are written.
    ensure_eq!(
        s.create_person(
            &newcomer,
            OrganisationWrite::Replace {
                organisation: &added,
                expected_version: 1,
            },
        )
        .await?,
        CreateOutcome::Created,
        "create_person replacing from the current version"
    );
    let stored = UserStore::organisation(s, org.id())
        .await?
        .ok_or_else(|| fail("organisation lost".into()))?;
    ensure_eq!(stored.version, 2, "the version after a replacement");
    ensure_eq!(stored.value, added, "the replaced organisation");
    ensure_eq!(
        s.person(newcomer.id).await?,
        Some(newcomer.clone()),
        "the added person"
    );
    ensure_eq!(
        s.organisations_of(newcomer.id).await?,
        alloc::vec![org.id()],
        "organisations_of the added person"
    );
    Ok(())
}

async fn person_updates<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let (person, _) = fx.founder().await?;
    let expires = fx.now().saturating_add(3600);
    ensure!(
        s.set_password(
            person.id,
            "$argon2id$new",
            PasswordState::Temporary,
            Some(expires)
        )
        .await?,
        "set_password must report the update"
    );
    let phone = PhoneNumber::parse("+44 20 7946 0958")?;
    ensure!(
        s.set_phone(person.id, Some(&phone)).await?,
        "set_phone must report the update"
    );
    ensure!(
        s.set_deactivated(person.id, true).await?,
        "set_deactivated must report the update"
    );
    let stored = s
        .person(person.id)
        .await?
        .ok_or_else(|| fail("the person vanished".into()))?;
    ensure_eq!(
        stored.password_hash.as_str(),
        "$argon2id$new",
        "password hash"
    );
    ensure_eq!(
        stored.password_state,
        PasswordState::Temporary,
        "password state"
    );
    ensure_eq!(stored.password_expires_at, Some(expires), "password expiry");
    ensure_eq!(stored.phone, Some(phone), "phone");
    ensure!(stored.deactivated, "the person must be deactivated");
    ensure!(
        s.set_phone(person.id, None).await? && s.set_deactivated(person.id, false).await?,
        "clearing the phone and reactivating must report the update"
    );
    let stored = s
        .person(person.id)
        .await?
        .ok_or_else(|| fail("the person vanished".into()))?;
    ensure!(
        stored.phone.is_none() && !stored.deactivated,
        "phone cleared and person reactivated"
    );
    ensure_eq!(stored.login, person.login, "the login is unchanged");
    Ok(())
}

/// `upgrade_password_hash` replaces only the hash it expects, keeps the state and expiry, and
/// lets exactly one of several racing upgrades from one hash win.
async fn upgrade_password_hash<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let s = &*fx.store;
    ensure!(
        !s.upgrade_password_hash(fx.person_id(), "$argon2id$a", "$argon2id$b")
            .await?,
        "upgrade_password_hash(unknown) must be false"
    );
    let (person, _) = fx.founder().await?;
    let expires = fx.now().saturating_add(3600);
    ensure!(
        s.set_password(
            person.id,
            "$argon2id$old",
            PasswordState::Compromised,
            Some(expires)
        )
        .await?,
        "set_password must report the update"
    );
    ensure!(
        !s.upgrade_password_hash(person.id, "$argon2id$changed", "$argon2id$rehash")
            .await?,
        "upgrade_password_hash from another hash must be false"
    );
    ensure!(
        s.upgrade_password_hash(person.id, "$argon2id$old", "$argon2id$rehash")
            .await?,
        "upgrade_password_hash from the stored hash must be true"
    );
    let stored = s
        .person(person.id)
        .await?
        .ok_or_else(|| fail("the person vanished".into()))?;
    ensure_eq!(
        stored.password_hash.as_str(),
        "$argon2id$rehash",
        "the upgraded hash"
    );
    ensure_eq!(
        stored.password_state,
        PasswordState::Compromised,
        "the password state is kept"
    );
    ensure_eq!(
        stored.password_expires_at,
        Some(expires),
        "the password expiry is kept"
    );
    let id = person.id;
    let contenders = (0..RACE_CONTENDERS)
        .map(|i| {
            let store = Arc::clone(&fx.store);
            async move {
                let new = format!("$argon2id$race{i}");
                Ok::<_, Fail>(
                    store
                        .upgrade_password_hash(id, "$argon2id$rehash", &new)
                        .await?,
                )
            }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "upgrade one password hash",
    )?;
    Ok(())
}

async fn organisation_versions<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (owner, org) = fx.founder().await?;
    let changed = fx.with_member(&org, owner.id, fx.person_id())?;
    ensure!(
        !s.replace_organisation(&changed, 2).await?,
        "replace_organisation from a future version must be false"
    );
    ensure!(
        s.replace_organisation(&changed, 1).await?,
        "replace_organisation from the current version must be true"
    );
    ensure!(
        !s.replace_organisation(&org, 1).await?,
        "replace_organisation from a stale version must be false"
    );
    let stored = UserStore::organisation(s, org.id())
        .await?
        .ok_or_else(|| fail("organisation lost".into()))?;
    ensure_eq!(stored.version, 2, "the version after one replacement");
    ensure_eq!(stored.value, changed, "the replaced organisation");
    Ok(())
}

async fn organisations_of<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let (first_owner, first) = fx.founder().await?;
    let (member, second) = fx.founder().await?;
    let joined = fx.with_member(&first, first_owner.id, member.id)?;
    ensure!(
        s.replace_organisation(&joined, 1).await?,
        "adding a member must succeed"
    );
    let mut orgs = s.organisations_of(member.id).await?;
    orgs.sort_unstable();
    let mut expected = alloc::vec![first.id(), second.id()];
    expected.sort_unstable();
    ensure_eq!(orgs, expected, "organisations_of a member of two");
    ensure_eq!(
        s.organisations_of(first_owner.id).await?,
        alloc::vec![first.id()],
        "organisations_of the first owner"
    );
    Ok(())
}

async fn throttle<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let now = fx.now();
    let policy = ThrottlePolicy::builder()
        .free_attempts(1)
        .lock_after(3)
        .base_delay(10)
        .max_delay(10)
        .lock_duration(100)
        .forget_after(50)
        .build()?;
    let key = ThrottleKey::factor(id, ThrottledFactor::Totp);
    let first = s.reserve_attempt(&key, &policy, now).await?;
    ensure!(
        first.decision().is_allowed(),
        "a first attempt is allowed: {first:?}"
    );
    ensure_eq!(
        first.state().failures(),
        1,
        "a reservation counts a failure"
    );
    ensure_eq!(
        s.throttle(&key).await?,
        first.state(),
        "the stored state is the returned one"
    );
    ensure_eq!(
        s.throttle(&ThrottleKey::factor(id, ThrottledFactor::RecoveryCode))
            .await?,
        ThrottleState::new(),
        "another factor is untouched"
    );
    let cleared = s
        .apply_throttle(&key, ThrottleOp::Success, &policy, now)
        .await?;
    ensure_eq!(cleared.state(), ThrottleState::new(), "a success clears");
    ensure_eq!(
        s.throttle(&key).await?,
        ThrottleState::new(),
        "the cleared state is stored"
    );
    for _ in 0..2 {
        let allowed = s.reserve_attempt(&key, &policy, now).await?;
        ensure!(allowed.decision().is_allowed(), "allowed: {allowed:?}");
    }
    let waiting = s.throttle(&key).await?;
    let refused = s
        .reserve_attempt(&key, &policy, now.saturating_add(5))
        .await?;
    ensure_eq!(
        refused.decision(),
        ThrottleDecision::RetryAfter {
            seconds: 5,
            at: now.saturating_add(10)
        },
        "a reservation during the wait"
    );
    ensure_eq!(
        s.throttle(&key).await?,
        waiting,
        "a refused reservation writes nothing"
    );
    let locking = s
        .reserve_attempt(&key, &policy, now.saturating_add(10))
        .await?;
    let until = now.saturating_add(110);
    ensure_eq!(
        locking.event(),
        Some(ThrottleEvent::Locked { failures: 3, until }),
        "the third failure locks for the lock duration"
    );
    let during = s
        .reserve_attempt(&key, &policy, now.saturating_add(60))
        .await?;
    ensure_eq!(
        during.decision(),
        ThrottleDecision::Locked { until },
        "a reservation during the lock"
    );
    let lapsed = s.reserve_attempt(&key, &policy, until).await?;
    ensure!(
        lapsed.decision().is_allowed()
            && matches!(lapsed.event(), Some(ThrottleEvent::Locked { .. })),
        "after the lock lapses an attempt is allowed and locks again: {lapsed:?}"
    );
    let reset = s
        .apply_throttle(&key, ThrottleOp::Reset, &policy, until)
        .await?;
    ensure_eq!(
        reset.event(),
        Some(ThrottleEvent::Unlocked),
        "a reset unlocks"
    );
    ensure_eq!(
        s.throttle(&key).await?,
        ThrottleState::new(),
        "the reset is stored"
    );
    // A login name has its own counter, whoever holds it.
    let login =
        Login::new(&fx.login_for(fx.person_id())).ok_or_else(|| fail("bad login".into()))?;
    let login_key = ThrottleKey::login(&login);
    let counted = s.reserve_attempt(&login_key, &policy, now).await?;
    ensure!(
        counted.decision().is_allowed() && counted.state().failures() == 1,
        "a login name is counted: {counted:?}"
    );
    let forget_at = counted.state().forget_at();
    ensure_eq!(
        forget_at,
        now.saturating_add(50),
        "forgotten after forget_after"
    );
    let _ = s.prune_throttles(forget_at.saturating_sub(1)).await?;
    ensure_eq!(
        s.throttle(&login_key).await?,
        counted.state(),
        "a live counter is not pruned"
    );
    let pruned = s.prune_throttles(forget_at).await?;
    ensure!(pruned >= 1, "a forgotten counter is pruned: {pruned}");
    ensure_eq!(
        s.throttle(&login_key).await?,
        ThrottleState::new(),
        "the pruned counter is gone"
    );
    Ok(())
}

async fn mfa_versions<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let mfa = fx.enrolled(id)?;
    ensure!(
        !s.replace_mfa(id, &mfa, Some(1)).await?,
        "replace_mfa expecting a version when there is none must be false"
    );
    ensure!(
        s.replace_mfa(id, &mfa, None).await?,
        "the first replace_mfa expecting none must be true"
    );
    ensure!(
        !s.replace_mfa(id, &mfa, None).await?,
        "replace_mfa expecting none when there is one must be false"
    );
    let stored = s
        .mfa(id)
        .await?
        .ok_or_else(|| fail("the MFA state was not written".into()))?;
    ensure_eq!(stored.version, 1, "a new MFA state's version");
    ensure_eq!(
        stored.value.authenticators().len(),
        1,
        "authenticators stored"
    );
    ensure!(
        s.replace_mfa(id, &Mfa::new(id), Some(1)).await?,
        "replace_mfa from the current version must be true"
    );
    ensure!(
        !s.replace_mfa(id, &mfa, Some(1)).await?,
        "replace_mfa from a stale version must be false"
    );
    let stored = s
        .mfa(id)
        .await?
        .ok_or_else(|| fail("the MFA state vanished".into()))?;
    ensure_eq!(stored.version, 2, "the version after one replacement");
    ensure!(
        !stored.value.is_active(),
        "the replacement (MFA off) is what is stored"
    );
    Ok(())
}

async fn watermark<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let mfa = fx.enrolled(id)?;
    let (auth, start) = mfa
        .authenticators()
        .first()
        .map(|a| (a.id(), a.last_accepted_step()))
        .ok_or_else(|| fail("no authenticator".into()))?;
    ensure!(
        s.replace_mfa(id, &mfa, None).await?,
        "storing the MFA state"
    );
    let step = |n: u64| start.saturating_add(n);
    let watermark_now = || async {
        let mfa = s
            .mfa(id)
            .await?
            .ok_or_else(|| fail("the MFA state vanished".into()))?;
        let current = mfa
            .value
            .authenticator(auth)
            .map(|a| a.last_accepted_step());
        Ok::<_, Fail>((current, mfa.version))
    };
    ensure!(
        !s.advance_watermark(id, auth, start).await?,
        "advancing to the current watermark must be false"
    );
    ensure!(
        s.advance_watermark(id, auth, step(5)).await?,
        "advancing to a higher step must be true"
    );
    ensure!(
        !s.advance_watermark(id, auth, step(5)).await?,
        "advancing to the same step again must be false"
    );
    ensure!(
        !s.advance_watermark(id, auth, step(3)).await?,
        "advancing to a lower step must be false"
    );
    let other = crate::policy::ids::AuthenticatorId::new(auth.get().saturating_add(100));
    ensure!(
        !s.advance_watermark(id, other, step(9)).await?,
        "advancing an unknown authenticator must be false"
    );
    ensure_eq!(
        watermark_now().await?,
        (Some(step(5)), 1),
        "the watermark read back (and the version, which it does not change)"
    );
    // A write computed from the state read before the advance keeps the higher watermark.
    ensure!(
        s.replace_mfa(id, &mfa, Some(1)).await?,
        "replace_mfa from the current version"
    );
    ensure_eq!(
        watermark_now().await?,
        (Some(step(5)), 2),
        "the watermark after writing an older state"
    );
    ensure!(
        !s.advance_watermark(id, auth, step(5)).await?,
        "the kept watermark still refuses its step"
    );
    // A write that carries a higher watermark raises it.
    let mut higher = mfa.duplicate_secret_state()?;
    let _ = higher.restore_watermark(auth, step(8));
    ensure!(
        s.replace_mfa(id, &higher, Some(2)).await?,
        "replace_mfa with a higher watermark"
    );
    ensure_eq!(
        watermark_now().await?,
        (Some(step(8)), 3),
        "the watermark after writing a higher one"
    );
    ensure!(
        !s.advance_watermark(id, auth, step(8)).await?,
        "the written watermark refuses its step"
    );
    Ok(())
}

async fn recovery_codes<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let set = fx.recovery_set()?;
    let active = RecoverySlot::Active;
    s.replace_recovery_codes(id, active, Some(&set)).await?;
    let stored = s
        .recovery_codes(id, active)
        .await?
        .ok_or_else(|| fail("the set was not written".into()))?;
    ensure_eq!(stored, set, "the stored set");
    ensure!(
        s.recovery_codes(id, RecoverySlot::Pending).await?.is_none(),
        "the pending slot is separate"
    );
    ensure!(
        s.spend_recovery_code(id, set.set_id(), 2).await?,
        "spending an unspent slot must be true"
    );
    ensure!(
        !s.spend_recovery_code(id, set.set_id(), 2).await?,
        "spending a spent slot must be false"
    );
    ensure!(
        !s.spend_recovery_code(id, set.set_id(), set.len()).await?,
        "spending a slot outside the set must be false"
    );
    ensure!(
        !s.spend_recovery_code(id, [0xA5; 16], 1).await?,
        "spending in another set must be false"
    );
    let stored = s
        .recovery_codes(id, active)
        .await?
        .ok_or_else(|| fail("the set vanished".into()))?;
    ensure!(stored.is_spent(2), "the spent slot is spent when read back");
    ensure_eq!(
        stored.remaining(),
        set.len().saturating_sub(1),
        "remaining codes"
    );
    ensure_eq!(stored.set_id(), set.set_id(), "the set id");
    // Regenerating: the old set's slots are no longer spendable, the new set's are.
    let regenerated = fx.recovery_set()?;
    s.replace_recovery_codes(id, active, Some(&regenerated))
        .await?;
    ensure!(
        !s.spend_recovery_code(id, set.set_id(), 0).await?,
        "a slot of a replaced set must not be spendable"
    );
    ensure!(
        s.spend_recovery_code(id, regenerated.set_id(), 2).await?,
        "the same slot of the new set is spendable"
    );
    s.replace_recovery_codes(id, active, None).await?;
    ensure!(
        s.recovery_codes(id, active).await?.is_none(),
        "a deleted set is gone"
    );
    ensure!(
        !s.spend_recovery_code(id, regenerated.set_id(), 0).await?,
        "a deleted set cannot be spent"
    );
    Ok(())
}

async fn recovery_pending<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let live = fx.recovery_set()?;
    let pending = fx.recovery_set()?;
    s.replace_recovery_codes(id, RecoverySlot::Active, Some(&live))
        .await?;
    s.replace_recovery_codes(id, RecoverySlot::Pending, Some(&pending))
        .await?;
    ensure!(
        !s.spend_recovery_code(id, pending.set_id(), 0).await?,
        "a pending set must not be spendable"
    );
    ensure!(
        s.spend_recovery_code(id, live.set_id(), 0).await?,
        "the live set is spendable while another is pending"
    );
    ensure!(
        s.activate_pending_recovery_codes(id).await?,
        "activating a pending set must be true"
    );
    ensure!(
        !s.activate_pending_recovery_codes(id).await?,
        "activating again must be false"
    );
    ensure!(
        s.recovery_codes(id, RecoverySlot::Pending).await?.is_none(),
        "the pending slot is empty after activation"
    );
    let active = s
        .recovery_codes(id, RecoverySlot::Active)
        .await?
        .ok_or_else(|| fail("no active set after activation".into()))?;
    ensure!(
        active.set_id() == pending.set_id(),
        "the active set is the formerly pending one"
    );
    ensure_eq!(active.remaining(), pending.len(), "nothing of it is spent");
    ensure!(
        !s.spend_recovery_code(id, live.set_id(), 1).await?,
        "the previous set is no longer spendable"
    );
    ensure!(
        s.spend_recovery_code(id, pending.set_id(), 0).await?,
        "the activated set is spendable"
    );
    Ok(())
}

async fn oob<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let sign_in = OobPurpose::SignIn;
    let first = fx.oob_challenge()?;
    let second = fx.oob_challenge()?;
    let first_record = fx.oob_record(&first)?;
    let second_record = fx.oob_record(&second)?;
    ensure!(
        !s.replace_oob_challenge(id, sign_in, Some(&first), Some(&second_record))
            .await?,
        "expecting a challenge when there is none must be false"
    );
    ensure!(
        s.replace_oob_challenge(id, sign_in, None, Some(&first_record))
            .await?,
        "storing the first challenge must be true"
    );
    ensure!(
        !s.replace_oob_challenge(id, sign_in, None, Some(&second_record))
            .await?,
        "expecting none when there is one must be false"
    );
    ensure!(
        !s.replace_oob_challenge(id, sign_in, Some(&second), None)
            .await?,
        "expecting another challenge must be false"
    );
    ensure_eq!(
        s.oob_challenge(id, sign_in).await?,
        Some(first_record.clone()),
        "the stored challenge and its destination"
    );
    // A copy with one attempt used differs from the stored one: refused.
    let tried = first
        .verify(&fx.oob_key, "not a code", fx.now())
        .into_challenge();
    let tried_record = OobChallengeRecord {
        destination: first_record.destination.clone(),
        challenge: tried.clone(),
    };
    ensure!(
        !s.replace_oob_challenge(id, sign_in, Some(&tried), Some(&second_record))
            .await?,
        "expecting a challenge that differs in attempts must be false"
    );
    ensure!(
        s.replace_oob_challenge(id, sign_in, Some(&first), Some(&tried_record))
            .await?,
        "swapping from the stored challenge must be true"
    );
    ensure_eq!(
        s.oob_challenge(id, sign_in).await?,
        Some(tried_record),
        "the swapped challenge"
    );
    // A swap writes the destination with the challenge.
    ensure!(
        s.replace_oob_challenge(id, sign_in, Some(&tried), Some(&second_record))
            .await?,
        "swapping to a challenge for another destination must be true"
    );
    ensure_eq!(
        s.oob_challenge(id, sign_in).await?,
        Some(second_record),
        "the new challenge and its new destination"
    );
    ensure!(
        s.replace_oob_challenge(id, sign_in, Some(&second), None)
            .await?,
        "clearing from the stored challenge must be true"
    );
    ensure!(
        s.oob_challenge(id, sign_in).await?.is_none(),
        "the challenge is gone"
    );
    Ok(())
}

/// A person's sign-in challenge and phone-verification challenge are kept apart: each is stored,
/// compared and cleared on its own, even when they hold the same challenge.
async fn oob_purposes<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let (sign_in, verify) = (OobPurpose::SignIn, OobPurpose::VerifyPhone);
    let login = fx.oob_challenge()?;
    let login_record = fx.oob_record(&login)?;
    let phone = fx.oob_challenge()?;
    let phone_record = fx.oob_record(&phone)?;
    ensure!(
        s.replace_oob_challenge(id, sign_in, None, Some(&login_record))
            .await?,
        "storing a sign-in challenge must be true"
    );
    ensure!(
        s.oob_challenge(id, verify).await?.is_none(),
        "a sign-in challenge is not a phone verification"
    );
    ensure!(
        !s.replace_oob_challenge(id, verify, Some(&login), Some(&phone_record))
            .await?,
        "the sign-in challenge must not be expected as a phone verification"
    );
    ensure!(
        s.replace_oob_challenge(id, verify, None, Some(&phone_record))
            .await?,
        "storing a phone verification beside a sign-in challenge must be true"
    );
    ensure_eq!(
        s.oob_challenge(id, sign_in).await?,
        Some(login_record.clone()),
        "the sign-in challenge after the phone verification was stored"
    );
    ensure_eq!(
        s.oob_challenge(id, verify).await?,
        Some(phone_record.clone()),
        "the phone verification"
    );
    // The same challenge under both purposes: clearing one leaves the other.
    let same = OobChallengeRecord {
        destination: phone_record.destination.clone(),
        challenge: login.clone(),
    };
    ensure!(
        s.replace_oob_challenge(id, verify, Some(&phone), Some(&same))
            .await?,
        "swapping the phone verification must be true"
    );
    ensure!(
        s.replace_oob_challenge(id, sign_in, Some(&login), None)
            .await?,
        "clearing the sign-in challenge must be true"
    );
    ensure!(
        s.oob_challenge(id, sign_in).await?.is_none(),
        "the sign-in challenge is gone"
    );
    ensure_eq!(
        s.oob_challenge(id, verify).await?,
        Some(same),
        "the phone verification stays when the sign-in challenge is cleared"
    );
    ensure!(
        s.replace_oob_challenge(id, verify, Some(&login), None)
            .await?,
        "clearing the phone verification must be true"
    );
    ensure!(
        s.oob_challenge(id, verify).await?.is_none(),
        "the phone verification is gone"
    );
    Ok(())
}

async fn oob_send_log<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let config = OobConfig::builder()
        .resend_cooldown(60)
        .hourly_cap(3)
        .build()?;
    let (person, other) = (fx.person_id(), fx.person_id());
    let (sign_in, verify) = (OobPurpose::SignIn, OobPurpose::VerifyPhone);
    let t0 = fx.now();
    let at = |offset: u64| t0.saturating_add(offset);
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, t0).await?,
        SendDecision::Allowed,
        "the first send"
    );
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(59)).await?,
        SendDecision::Refused {
            reason: SendRefusal::Cooldown,
            retry_at: at(60)
        },
        "a send within the cooldown"
    );
    ensure_eq!(
        s.record_oob_send(other, sign_in, &config, at(59)).await?,
        SendDecision::Allowed,
        "another person is not held by the first one's cooldown"
    );
    ensure_eq!(
        s.record_oob_send(person, verify, &config, at(59)).await?,
        SendDecision::Allowed,
        "the person's verification budget is apart from their sign-in budget"
    );
    // A refused send is not recorded: the cooldown still runs from the first send.
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(200)).await?,
        SendDecision::Allowed,
        "the second send, after the cooldown"
    );
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(300)).await?,
        SendDecision::Allowed,
        "the third send"
    );
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(400)).await?,
        SendDecision::Refused {
            reason: SendRefusal::HourlyCap,
            retry_at: at(3600)
        },
        "a fourth send within the hour"
    );
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(3600))
            .await?,
        SendDecision::Allowed,
        "a send once the first one left the hour"
    );
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(3700))
            .await?,
        SendDecision::Refused {
            reason: SendRefusal::HourlyCap,
            retry_at: at(3800)
        },
        "the cap counts the sends of the sliding hour"
    );
    Ok(())
}

/// Verification sends are capped per person and day (a window from the first counted send);
/// sign-in sends are not, and other people's verifications never count.
async fn oob_daily_cap<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let config = OobConfig::builder()
        .resend_cooldown(0)
        .hourly_cap(10)
        .daily_verification_cap(3)
        .build()?;
    let (person, other) = (fx.person_id(), fx.person_id());
    let verify = OobPurpose::VerifyPhone;
    let t0 = fx.now();
    let day: u64 = 86_400;
    let at = |offset: u64| t0.saturating_add(offset);
    for (i, offset) in [0, 3600, 7200].into_iter().enumerate() {
        ensure_eq!(
            s.record_oob_send(person, verify, &config, at(offset))
                .await?,
            SendDecision::Allowed,
            "verification send {i} within the daily cap"
        );
    }
    ensure_eq!(
        s.record_oob_send(person, verify, &config, at(10_800))
            .await?,
        SendDecision::Refused {
            reason: SendRefusal::DailyCap,
            retry_at: at(day)
        },
        "a fourth verification send the same day"
    );
    ensure_eq!(
        s.record_oob_send(other, verify, &config, at(10_800))
            .await?,
        SendDecision::Allowed,
        "another person's verification budget is their own"
    );
    for i in 0..4u64 {
        ensure_eq!(
            s.record_oob_send(
                person,
                OobPurpose::SignIn,
                &config,
                at(10_800_u64.saturating_add(i))
            )
            .await?,
            SendDecision::Allowed,
            "sign-in sends know no daily cap ({i})"
        );
    }
    ensure_eq!(
        s.record_oob_send(person, verify, &config, at(day.saturating_sub(1)))
            .await?,
        SendDecision::Refused {
            reason: SendRefusal::DailyCap,
            retry_at: at(day)
        },
        "the cap holds to the end of the day window"
    );
    ensure_eq!(
        s.record_oob_send(person, verify, &config, at(day)).await?,
        SendDecision::Allowed,
        "a new day window"
    );
    Ok(())
}

async fn setup_tokens<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let (person, org) = (fx.person_id(), fx.org_id());
    let token = fx.setup_token(person, org, 60)?;
    s.insert_setup_token(&token).await?;
    let other = BearerToken::generate()?.digest();
    ensure!(
        s.take_setup_token(&other, fx.now()).await?.is_none(),
        "another digest takes nothing"
    );
    ensure_eq!(
        s.take_setup_token(&token.digest, fx.now()).await?,
        Some(token),
        "taking the token"
    );
    ensure!(
        s.take_setup_token(&token.digest, fx.now()).await?.is_none(),
        "a token is taken once"
    );
    let expiring = fx.setup_token(person, org, 60)?;
    s.insert_setup_token(&expiring).await?;
    fx.clock.advance(60);
    ensure!(
        s.take_setup_token(&expiring.digest, fx.now())
            .await?
            .is_none(),
        "a token is refused at its expiry time"
    );
    Ok(())
}

/// Pruning deletes what expired and nothing live: short-lived tickets, tokens and challenges at
/// their expiry, a send log an hour after its last send; a pruned ticket or token is gone even
/// for a time it was live; pruning again finds nothing. Other data may be pruned too (the counts
/// are at least those of this check's rows).
async fn prune<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let (person, org) = (fx.person_id(), fx.org_id());
    let t0 = fx.now();
    let short_ticket = fx.ticket(person, org, 300)?;
    let long_ticket = fx.ticket(person, org, 7200)?;
    let short_token = fx.setup_token(person, org, 300)?;
    let long_token = fx.setup_token(person, org, 7200)?;
    s.insert_ticket(&short_ticket).await?;
    s.insert_ticket(&long_ticket).await?;
    s.insert_setup_token(&short_token).await?;
    s.insert_setup_token(&long_token).await?;
    // A challenge issued now (the default lifetime: it expires at t0 + 300), and a send.
    let old = fx.oob_challenge()?;
    ensure!(
        s.replace_oob_challenge(
            person,
            OobPurpose::SignIn,
            None,
            Some(&fx.oob_record(&old)?)
        )
        .await?,
        "storing a challenge"
    );
    let config = OobConfig::builder()
        .resend_cooldown(OobConfig::MAX_COOLDOWN)
        .build()?;
    let early = fx.person_id();
    ensure_eq!(
        s.record_oob_send(early, OobPurpose::SignIn, &config, t0)
            .await?,
        SendDecision::Allowed,
        "a first send"
    );
    // 200 seconds later: a challenge expiring at t0 + 500, and a send to another number.
    fx.clock.advance(200);
    let young = fx.oob_challenge()?;
    ensure!(
        s.replace_oob_challenge(
            person,
            OobPurpose::VerifyPhone,
            None,
            Some(&fx.oob_record(&young)?)
        )
        .await?,
        "storing a second challenge"
    );
    let late = fx.person_id();
    ensure_eq!(
        s.record_oob_send(late, OobPurpose::SignIn, &config, fx.now())
            .await?,
        SendDecision::Allowed,
        "a send for another person"
    );

    // At t0 + 300: what expired then goes, at its expiry time.
    fx.clock.advance(100);
    let report = s.prune_expired(fx.now()).await?;
    ensure!(
        report.tickets >= 1 && report.setup_tokens >= 1 && report.oob_challenges >= 1,
        "pruning at the expiry time must delete the expired ticket, token and challenge: {report:?}"
    );
    ensure!(
        s.take_ticket(&short_ticket.digest, t0).await?.is_none(),
        "a pruned ticket can no longer be taken, even at a time it was live"
    );
    ensure!(
        s.take_setup_token(&short_token.digest, t0).await?.is_none(),
        "a pruned setup token can no longer be taken, even at a time it was live"
    );
    ensure!(
        s.oob_challenge(person, OobPurpose::SignIn).await?.is_none(),
        "the expired challenge is pruned"
    );
    ensure_eq!(
        s.oob_challenge(person, OobPurpose::VerifyPhone)
            .await?
            .map(|r| r.challenge),
        Some(young.clone()),
        "a live challenge stays"
    );
    ensure_eq!(
        s.prune_expired(fx.now()).await?,
        PruneReport::default(),
        "pruning twice at one time: the second finds nothing"
    );

    // At t0 + 3600: the first send left the hourly window, its log goes; the later one's log
    // stays (its cooldown still refuses a send).
    fx.clock.advance(3300);
    let report = s.prune_expired(fx.now()).await?;
    ensure!(
        report.oob_send_logs >= 1 && report.oob_challenges >= 1,
        "pruning an hour after a send must delete its log, and the expired challenge: {report:?}"
    );
    ensure!(
        s.oob_challenge(person, OobPurpose::VerifyPhone)
            .await?
            .is_none(),
        "the second challenge is pruned once expired"
    );
    ensure!(
        matches!(
            s.record_oob_send(late, OobPurpose::SignIn, &config, fx.now())
                .await?,
            SendDecision::Refused { .. }
        ),
        "a live send log stays: its cooldown still refuses a send"
    );
    ensure_eq!(
        s.take_ticket(&long_ticket.digest, fx.now()).await?,
        Some(long_ticket),
        "a live ticket stays"
    );
    ensure_eq!(
        s.take_setup_token(&long_token.digest, fx.now()).await?,
        Some(long_token),
        "a live setup token stays"
    );
    ensure_eq!(
        s.prune_expired(fx.now()).await?,
        PruneReport::default(),
        "pruning again finds nothing"
    );
    Ok(())
}

async fn tickets<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let (person, org) = (fx.person_id(), fx.org_id());
    let ticket = fx.ticket(person, org, 300)?;
    s.insert_ticket(&ticket).await?;
    let other = BearerToken::generate()?.digest();
    ensure!(
        s.take_ticket(&other, fx.now()).await?.is_none(),
        "another digest takes nothing"
    );
    fx.clock.advance(299);
    ensure_eq!(
        s.take_ticket(&ticket.digest, fx.now()).await?,
        Some(ticket),
        "taking the ticket just before its expiry"
    );
    ensure!(
        s.take_ticket(&ticket.digest, fx.now()).await?.is_none(),
        "a ticket is taken once"
    );
    let expiring = fx.ticket(person, org, 300)?;
    s.insert_ticket(&expiring).await?;
    fx.clock.advance(300);
    ensure!(
        s.take_ticket(&expiring.digest, fx.now()).await?.is_none(),
        "a ticket is refused at its expiry time"
    );
    fx.clock.advance(1000);
    ensure!(
        s.take_ticket(&expiring.digest, fx.now()).await?.is_none(),
        "a ticket is refused after its expiry time"
    );
    Ok(())
}

/// Runs `contenders` concurrently through `spawner` and collects their results.
async fn race<P, T, Fut>(spawner: &P, contenders: Vec<Fut>) -> Result<Vec<T>, Fail>
where
    P: Spawner,
    T: Send + 'static,
    Fut: Future<Output = Result<T, Fail>> + Send + 'static,
{
    let running: Vec<_> = contenders.into_iter().map(|c| spawner.spawn(c)).collect();
    join_all(running).await.into_iter().collect()
}

fn exactly_one(wins: usize, what: &str) -> Checked {
    ensure!(
        wins == 1,
        "{RACE_CONTENDERS} concurrent attempts to {what}: expected exactly one to win, {wins} did"
    );
    Ok(())
}

async fn race_watermark<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let id = fx.person_id();
    let mfa = fx.enrolled(id)?;
    let (auth, start) = mfa
        .authenticators()
        .first()
        .map(|a| (a.id(), a.last_accepted_step()))
        .ok_or_else(|| fail("no authenticator".into()))?;
    ensure!(fx.store.replace_mfa(id, &mfa, None).await?, "storing MFA");
    let step = start.saturating_add(1);
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move { Ok::<_, Fail>(store.advance_watermark(id, auth, step).await?) }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "advance one watermark",
    )?;
    let stored = fx
        .store
        .mfa(id)
        .await?
        .and_then(|m| m.value.authenticator(auth).map(|a| a.last_accepted_step()));
    ensure_eq!(stored, Some(step), "the watermark after the race");
    Ok(())
}

async fn race_recovery_slot<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let id = fx.person_id();
    let set = fx.recovery_set()?;
    fx.store
        .replace_recovery_codes(id, RecoverySlot::Active, Some(&set))
        .await?;
    let set_id = set.set_id();
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move { Ok::<_, Fail>(store.spend_recovery_code(id, set_id, 1).await?) }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "spend one recovery slot",
    )?;
    let stored = fx.store.recovery_codes(id, RecoverySlot::Active).await?;
    ensure_eq!(
        stored.map(|s| (s.is_spent(1), s.remaining())),
        Some((true, set.len().saturating_sub(1))),
        "the set after the race"
    );
    Ok(())
}

async fn race_oob<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let id = fx.person_id();
    let stored = fx.oob_challenge()?;
    ensure!(
        fx.store
            .replace_oob_challenge(id, OobPurpose::SignIn, None, Some(&fx.oob_record(&stored)?))
            .await?,
        "storing the challenge"
    );
    let mut contenders = Vec::with_capacity(RACE_CONTENDERS);
    let mut replacements = Vec::with_capacity(RACE_CONTENDERS);
    for _ in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let expected = stored.clone();
        let new = fx.oob_record(&fx.oob_challenge()?)?;
        replacements.push(new.clone());
        contenders.push(async move {
            Ok::<_, Fail>(
                store
                    .replace_oob_challenge(id, OobPurpose::SignIn, Some(&expected), Some(&new))
                    .await?,
            )
        });
    }
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "swap one out-of-band challenge",
    )?;
    let winner = results
        .iter()
        .zip(&replacements)
        .find(|(won, _)| **won)
        .map(|(_, challenge)| challenge.clone());
    ensure_eq!(
        fx.store.oob_challenge(id, OobPurpose::SignIn).await?,
        winner,
        "the stored challenge is the winner's"
    );
    Ok(())
}

async fn race_oob_send<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let cap = 5u8;
    let config = OobConfig::builder()
        .resend_cooldown(0)
        .hourly_cap(cap)
        .build()?;
    let person = fx.person_id();
    let now = fx.now();
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move {
                Ok::<_, Fail>(
                    store
                        .record_oob_send(person, OobPurpose::SignIn, &config, now)
                        .await?,
                )
            }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    let allowed = results
        .iter()
        .filter(|d| **d == SendDecision::Allowed)
        .count();
    ensure_eq!(
        allowed,
        usize::from(cap),
        "{RACE_CONTENDERS} concurrent sends from one budget: the sends allowed"
    );
    ensure_eq!(
        fx.store
            .record_oob_send(person, OobPurpose::SignIn, &config, now)
            .await?,
        SendDecision::Refused {
            reason: SendRefusal::HourlyCap,
            retry_at: now.saturating_add(3600)
        },
        "a send after the race"
    );

    // The daily verification cap holds under the same race.
    let daily = 3u16;
    let config = OobConfig::builder()
        .resend_cooldown(0)
        .hourly_cap(10)
        .daily_verification_cap(daily)
        .build()?;
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move {
                Ok::<_, Fail>(
                    store
                        .record_oob_send(person, OobPurpose::VerifyPhone, &config, now)
                        .await?,
                )
            }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    let allowed = results
        .iter()
        .filter(|d| **d == SendDecision::Allowed)
        .count();
    ensure_eq!(
        allowed,
        usize::from(daily),
        "{RACE_CONTENDERS} concurrent verification sends: the sends allowed under the daily cap"
    );
    Ok(())
}

async fn race_ticket<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let ticket = fx.ticket(fx.person_id(), fx.org_id(), 300)?;
    fx.store.insert_ticket(&ticket).await?;
    let now = fx.now();
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move { Ok::<_, Fail>(store.take_ticket(&ticket.digest, now).await?) }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    let taken: Vec<_> = results.into_iter().flatten().collect();
    exactly_one(taken.len(), "take one ticket")?;
    ensure_eq!(taken, alloc::vec![ticket], "the ticket taken");
    Ok(())
}

async fn race_setup_token<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let token = fx.setup_token(fx.person_id(), fx.org_id(), 300)?;
    fx.store.insert_setup_token(&token).await?;
    let now = fx.now();
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move { Ok::<_, Fail>(store.take_setup_token(&token.digest, now).await?) }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    let taken: Vec<_> = results.into_iter().flatten().collect();
    exactly_one(taken.len(), "take one setup token")?;
    ensure_eq!(taken, alloc::vec![token], "the token taken");
    Ok(())
}

async fn race_replace_mfa<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let id = fx.person_id();
    let mfa = fx.enrolled(id)?;
    ensure!(fx.store.replace_mfa(id, &mfa, None).await?, "storing MFA");
    let mut contenders = Vec::with_capacity(RACE_CONTENDERS);
    for _ in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let copy = mfa.duplicate_secret_state()?;
        contenders.push(async move { Ok::<_, Fail>(store.replace_mfa(id, &copy, Some(1)).await?) });
    }
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "replace one MFA version",
    )?;
    ensure_eq!(
        fx.store.mfa(id).await?.map(|m| m.version),
        Some(2),
        "the MFA version after the race"
    );
    Ok(())
}

async fn race_replace_organisation<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let (owner, org) = fx.founder().await?;
    let mut contenders = Vec::with_capacity(RACE_CONTENDERS);
    for _ in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let changed = fx.with_member(&org, owner.id, fx.person_id())?;
        contenders
            .push(async move { Ok::<_, Fail>(store.replace_organisation(&changed, 1).await?) });
    }
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "replace one organisation version",
    )?;
    let stored = UserStore::organisation(&*fx.store, org.id())
        .await?
        .ok_or_else(|| fail("organisation lost".into()))?;
    ensure_eq!(stored.version, 2, "the version after the race");
    ensure_eq!(stored.value.members().len(), 2, "one member was added");
    Ok(())
}

async fn race_create_person<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let login = Login::new(&fx.login_for(fx.person_id())).ok_or_else(|| fail("login".into()))?;
    let mut contenders = Vec::with_capacity(RACE_CONTENDERS);
    let mut attempts = Vec::with_capacity(RACE_CONTENDERS);
    for _ in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let mut person = fx.record(fx.person_id())?;
        person.login = login.clone();
        let org = Organisation::found(fx.org_id(), person.id, fx.now()).state;
        attempts.push((person.id, org.id()));
        contenders.push(async move {
            Ok::<_, Fail>(
                store
                    .create_person(&person, OrganisationWrite::Insert(&org))
                    .await?,
            )
        });
    }
    let results = race(spawner, contenders).await?;
    exactly_one(
        results
            .iter()
            .filter(|o| **o == CreateOutcome::Created)
            .count(),
        "create people with one login",
    )?;
    ensure!(
        results
            .iter()
            .all(|o| matches!(o, CreateOutcome::Created | CreateOutcome::LoginTaken)),
        "the losers must be told the login is taken: {results:?}"
    );
    for ((person, org), outcome) in attempts.iter().zip(&results) {
        let written = fx.store.person(*person).await?.is_some();
        let org_written = UserStore::organisation(&*fx.store, *org).await?.is_some();
        let created = *outcome == CreateOutcome::Created;
        ensure!(
            written == created && org_written == created,
            "exactly the winner's person and organisation are written"
        );
    }
    Ok(())
}

async fn race_throttle<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let now = fx.now();
    // Everything allowed at this instant up to the lock: 99 free attempts, locked at 100.
    let policy = ThrottlePolicy::builder()
        .free_attempts(99)
        .lock_after(100)
        .build()?;
    let key = ThrottleKey::factor(fx.person_id(), ThrottledFactor::Totp);
    let reservations = reserve_racing(fx, spawner, &key, policy, now).await?;
    let lock_after = usize::from(policy.lock_after());
    let mut counted: Vec<u8> = Vec::new();
    let mut locks = 0usize;
    let mut refused = 0usize;
    for reservation in &reservations {
        match (reservation.decision(), reservation.event()) {
            (ThrottleDecision::Locked { .. }, None) => refused = refused.saturating_add(1),
            (ThrottleDecision::Allowed, Some(ThrottleEvent::Locked { failures, .. })) => {
                locks = locks.saturating_add(1);
                counted.push(failures);
            }
            (
                ThrottleDecision::Allowed,
                Some(
                    ThrottleEvent::FailureCounted { failures, .. }
                    | ThrottleEvent::BackoffStarted { failures, .. }
                    | ThrottleEvent::BackoffExtended { failures, .. },
                ),
            ) => counted.push(failures),
            other => return Err(fail(format!("unexpected reservation {other:?}"))),
        }
    }
    counted.sort_unstable();
    let expected: Vec<u8> = (1..=policy.lock_after()).collect();
    ensure!(
        counted == expected,
        "{THROTTLE_CONTENDERS} concurrent reservations must report the failure counts 1 to \
         {lock_after} once each (a lost or doubled update otherwise); got {} counts: {counted:?}",
        counted.len()
    );
    ensure_eq!(locks, 1, "exactly one reservation locks");
    ensure_eq!(
        refused,
        THROTTLE_CONTENDERS.saturating_sub(lock_after),
        "reservations after the lock are refused"
    );
    let state = fx.store.throttle(&key).await?;
    ensure!(
        state.is_locked() && usize::from(state.failures()) == lock_after,
        "the final state is locked at {lock_after} failures: got {state:?}"
    );

    // 2 free attempts and a lock at 5: at one instant only the 2 free ones and the one that
    // starts the back-off are allowed.
    let policy = ThrottlePolicy::builder()
        .free_attempts(2)
        .lock_after(5)
        .build()?;
    let key = ThrottleKey::login(
        &Login::new(&fx.login_for(fx.person_id())).ok_or_else(|| fail("bad login".into()))?,
    );
    let reservations = reserve_racing(fx, spawner, &key, policy, now).await?;
    let allowed = reservations
        .iter()
        .filter(|r| r.decision().is_allowed())
        .count();
    ensure_eq!(
        allowed,
        usize::from(policy.free_attempts()).saturating_add(1),
        "concurrent reservations allowed with 2 free attempts"
    );
    ensure!(
        reservations.iter().all(|r| r.decision().is_allowed()
            || matches!(r.decision(), ThrottleDecision::RetryAfter { .. })),
        "the others are told to retry"
    );
    ensure_eq!(
        usize::from(fx.store.throttle(&key).await?.failures()),
        allowed,
        "each allowed reservation is counted once"
    );
    Ok(())
}

/// [`THROTTLE_CONTENDERS`] concurrent reservations on `key` at `now`.
async fn reserve_racing<S, P>(
    fx: &Fixture<'_, S>,
    spawner: &P,
    key: &ThrottleKey,
    policy: ThrottlePolicy,
    now: u64,
) -> Result<Vec<crate::credential::throttle::ThrottleReservation>, Fail>
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let contenders = (0..THROTTLE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            let key = key.clone();
            async move { Ok::<_, Fail>(store.reserve_attempt(&key, &policy, now).await?) }
        })
        .collect();
    race(spawner, contenders).await
}
