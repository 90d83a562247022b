//! The store under test, the clock, fresh ids, and the records the checks write.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;

use crate::credential::factor::FactorKind;
use crate::credential::oob::{OobChallenge, OobConfig, OobIssue, OobKey, OobSendLog};
use crate::credential::phone::PhoneNumber;
use crate::credential::recovery::{RecoveryCodeSet, RecoveryParams};
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
use crate::store::records::{
    Login, OobChallengeRecord, PendingStep, PersonRecord, SetupTokenRecord, TicketRecord,
};
use crate::store::{CreateOutcome, OrganisationWrite, SecretStore, UserStore};

use super::ConformanceFailure;
use super::harness::{Fail, fail};

/// The store, the clock, and fresh ids.
pub(super) struct Fixture<'c, S> {
    pub(super) store: Arc<S>,
    pub(super) clock: &'c ManualClock,
    base: u128,
    next: core::sync::atomic::AtomicU32,
    pub(super) oob_key: OobKey,
}

impl<'c, S: UserStore + SecretStore + 'static> Fixture<'c, S> {
    pub(super) fn new(store: Arc<S>, clock: &'c ManualClock) -> Result<Self, ConformanceFailure> {
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
        let oob_key =
            OobKey::generate_with_rng(&mut getrandom::SysRng).map_err(|e| setup(e.into()))?;
        Ok(Self {
            store,
            clock,
            base,
            next: core::sync::atomic::AtomicU32::new(1),
            oob_key,
        })
    }

    pub(super) fn now(&self) -> u64 {
        self.clock.now()
    }

    pub(super) fn fresh(&self) -> u128 {
        let n = self
            .next
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        self.base | u128::from(n)
    }

    pub(super) fn person_id(&self) -> PersonId {
        PersonId::new(self.fresh())
    }

    pub(super) fn org_id(&self) -> OrgId {
        OrgId::new(self.fresh())
    }

    pub(super) fn login_for(&self, id: PersonId) -> String {
        format!("conformance-{:x}@example.test", id.get())
    }

    pub(super) fn record(&self, id: PersonId) -> Result<PersonRecord, Fail> {
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
            address_verified_at: None,
        })
    }

    /// A person who founded their own organisation.
    pub(super) async fn founder(&self) -> Result<(PersonRecord, Organisation), Fail> {
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
    pub(super) fn with_member(
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
    pub(super) fn enrolled(&self, person: PersonId) -> Result<Mfa, Fail> {
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

    pub(super) fn recovery_set(&self) -> Result<RecoveryCodeSet, Fail> {
        let params = RecoveryParams::builder()
            .count(4)
            .dangerous_argon2(8, 1, 1)
            .build()?;
        Ok(RecoveryCodeSet::generate(&params)?.set)
    }

    pub(super) fn oob_challenge(&self) -> Result<OobChallenge, Fail> {
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
    pub(super) fn oob_record(&self, challenge: &OobChallenge) -> Result<OobChallengeRecord, Fail> {
        Ok(OobChallengeRecord {
            destination: self.phone()?,
            challenge: challenge.clone(),
        })
    }

    /// A fresh destination: `+44 20` and ten digits drawn from a fresh id.
    pub(super) fn phone(&self) -> Result<PhoneNumber, Fail> {
        let digits = self.fresh().checked_rem(10_000_000_000).unwrap_or(0);
        Ok(PhoneNumber::parse(&format!("+4420{digits:010}"))?)
    }

    pub(super) fn ticket(
        &self,
        person: PersonId,
        org: OrgId,
        ttl: u64,
    ) -> Result<TicketRecord, Fail> {
        let now = self.now();
        Ok(TicketRecord {
            digest: BearerToken::generate()?.digest(),
            step: PendingStep::SecondFactor,
            progress: LoginProgress::password_verified(person, org, now),
            expires_at: now.saturating_add(ttl),
        })
    }

    pub(super) fn setup_token(
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
