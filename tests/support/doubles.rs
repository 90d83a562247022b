//! Test doubles for service tests: a store wrapper that forwards every call to the wrapped store,
//! writes the call's name to a log, and first yields to the scheduler, so that concurrent
//! requests interleave at every store call as they do over a network; and a password hasher
//! that counts its jobs.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use authcore::credential::{
    OobChallenge, OobConfig, PhoneNumber, RecoveryCodeSet, SendDecision, ThrottlePolicy,
    ThrottleReservation, ThrottleState, ThrottleUpdate,
};
use authcore::policy::{AuthenticatorId, Mfa, Organisation, PasswordState};
use authcore::policy::{
    DeviceTokenRecord, DeviceTokenView, ListedSession, SessionId, SessionLabels, SessionRecord,
    SessionTouch, SessionView,
};
use authcore::store::{AccountTokenPurpose, AccountTokenRecord, Login, LoginChange};
use authcore::store::{
    CreateOutcome, OobChallengeRecord, OobPurpose, OrganisationWrite, PersonRecord, PruneReport,
    RecoverySlot, SetupTokenRecord, ThrottleKey, ThrottleOp, TicketRecord, TokenDigest, Versioned,
};
use authcore::store::{LoginSnapshot, SessionPruneReport, SessionStore, SnapshotAt, StepWrite};
use authcore::{LoginStore, OrgId, PersonId, SecretStore, UserStore};

/// Runs every argon2 job on tokio's blocking pool, so that concurrent requests interleave around
/// it as they would on a server, and counts the jobs: one per verified password or recovery code.
pub struct CountingHasher {
    pub hasher: Arc<authcore::PasswordHasher>,
    pub jobs: Arc<AtomicUsize>,
}

impl CountingHasher {
    /// A hasher with cheap argon2 parameters, and its job counter.
    pub fn cheap() -> (Self, Arc<AtomicUsize>) {
        let jobs = Arc::new(AtomicUsize::new(0));
        let hasher = authcore::PasswordHasher::builder()
            .params(authcore::credential::password::HashParams::dangerous_weak(64, 1, 1).unwrap())
            .build()
            .unwrap();
        (
            Self {
                hasher: Arc::new(hasher),
                jobs: Arc::clone(&jobs),
            },
            jobs,
        )
    }
}

impl authcore::PasswordHashing for CountingHasher {
    fn run(
        &self,
        job: authcore::service::HashJob,
    ) -> impl Future<Output = authcore::service::HashOutput> + Send {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        let hasher = Arc::clone(&self.hasher);
        async move {
            tokio::task::spawn_blocking(move || job.run(&hasher))
                .await
                .unwrap_or_else(|_| authcore::service::HashOutput::failed())
        }
    }
}

/// Forwards to `inner`, logging each call by name.
pub struct Recording<T> {
    pub inner: T,
    log: Mutex<Vec<&'static str>>,
}

impl<T> Recording<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            log: Mutex::new(Vec::new()),
        }
    }

    /// The calls made since the last take, oldest first.
    pub fn take_log(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    async fn note(&self, call: &'static str) {
        self.log.lock().unwrap().push(call);
        tokio::task::yield_now().await;
    }
}

impl<T: UserStore> UserStore for Recording<T> {
    type Error = T::Error;

    async fn create_person(
        &self,
        person: &PersonRecord,
        organisation: OrganisationWrite<'_>,
    ) -> Result<CreateOutcome, Self::Error> {
        self.note("create_person").await;
        self.inner.create_person(person, organisation).await
    }

    async fn person_by_login(&self, login: &str) -> Result<Option<PersonRecord>, Self::Error> {
        self.note("person_by_login").await;
        self.inner.person_by_login(login).await
    }

    async fn person(&self, id: PersonId) -> Result<Option<PersonRecord>, Self::Error> {
        self.note("person").await;
        self.inner.person(id).await
    }

    async fn set_password(
        &self,
        id: PersonId,
        password_hash: &str,
        state: PasswordState,
        expires_at: Option<u64>,
    ) -> Result<bool, Self::Error> {
        self.note("set_password").await;
        self.inner
            .set_password(id, password_hash, state, expires_at)
            .await
    }

    async fn upgrade_password_hash(
        &self,
        id: PersonId,
        expected_hash: &str,
        new_hash: &str,
    ) -> Result<bool, Self::Error> {
        self.note("upgrade_password_hash").await;
        self.inner
            .upgrade_password_hash(id, expected_hash, new_hash)
            .await
    }

    async fn set_phone(
        &self,
        id: PersonId,
        phone: Option<&PhoneNumber>,
    ) -> Result<bool, Self::Error> {
        self.note("set_phone").await;
        self.inner.set_phone(id, phone).await
    }

    async fn set_deactivated(&self, id: PersonId, deactivated: bool) -> Result<bool, Self::Error> {
        self.note("set_deactivated").await;
        self.inner.set_deactivated(id, deactivated).await
    }

    async fn mark_address_verified(
        &self,
        id: PersonId,
        login: &Login,
        at: u64,
    ) -> Result<bool, Self::Error> {
        self.note("mark_address_verified").await;
        self.inner.mark_address_verified(id, login, at).await
    }

    async fn change_login(
        &self,
        id: PersonId,
        from: &Login,
        to: &Login,
        verified_at: u64,
    ) -> Result<LoginChange, Self::Error> {
        self.note("change_login").await;
        self.inner.change_login(id, from, to, verified_at).await
    }

    async fn throttle(&self, key: &ThrottleKey) -> Result<ThrottleState, Self::Error> {
        self.note("throttle").await;
        self.inner.throttle(key).await
    }

    async fn reserve_attempt(
        &self,
        key: &ThrottleKey,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> Result<ThrottleReservation, Self::Error> {
        self.note("reserve_attempt").await;
        self.inner.reserve_attempt(key, policy, now).await
    }

    async fn apply_throttle(
        &self,
        key: &ThrottleKey,
        op: ThrottleOp,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> Result<ThrottleUpdate, Self::Error> {
        self.note("apply_throttle").await;
        self.inner.apply_throttle(key, op, policy, now).await
    }

    async fn prune_throttles(&self, now: u64) -> Result<u64, Self::Error> {
        self.note("prune_throttles").await;
        self.inner.prune_throttles(now).await
    }

    async fn organisation(
        &self,
        id: OrgId,
    ) -> Result<Option<Versioned<Organisation>>, Self::Error> {
        self.note("organisation").await;
        UserStore::organisation(&self.inner, id).await
    }

    async fn replace_organisation(
        &self,
        organisation: &Organisation,
        expected_version: u64,
    ) -> Result<bool, Self::Error> {
        self.note("replace_organisation").await;
        self.inner
            .replace_organisation(organisation, expected_version)
            .await
    }

    async fn organisations_of(&self, id: PersonId) -> Result<Vec<OrgId>, Self::Error> {
        self.note("organisations_of").await;
        self.inner.organisations_of(id).await
    }
}

impl<T: SecretStore> SecretStore for Recording<T> {
    type Error = T::Error;

    async fn mfa(&self, person: PersonId) -> Result<Option<Versioned<Mfa>>, Self::Error> {
        self.note("mfa").await;
        self.inner.mfa(person).await
    }

    async fn replace_mfa(
        &self,
        person: PersonId,
        mfa: &Mfa,
        expected_version: Option<u64>,
    ) -> Result<bool, Self::Error> {
        self.note("replace_mfa").await;
        self.inner.replace_mfa(person, mfa, expected_version).await
    }

    async fn advance_watermark(
        &self,
        person: PersonId,
        authenticator: AuthenticatorId,
        step: u64,
    ) -> Result<bool, Self::Error> {
        self.note("advance_watermark").await;
        self.inner
            .advance_watermark(person, authenticator, step)
            .await
    }

    async fn recovery_codes(
        &self,
        person: PersonId,
        slot: RecoverySlot,
    ) -> Result<Option<RecoveryCodeSet>, Self::Error> {
        self.note("recovery_codes").await;
        self.inner.recovery_codes(person, slot).await
    }

    async fn replace_recovery_codes(
        &self,
        person: PersonId,
        slot: RecoverySlot,
        set: Option<&RecoveryCodeSet>,
    ) -> Result<(), Self::Error> {
        self.note("replace_recovery_codes").await;
        self.inner.replace_recovery_codes(person, slot, set).await
    }

    async fn activate_pending_recovery_codes(&self, person: PersonId) -> Result<bool, Self::Error> {
        self.note("activate_pending_recovery_codes").await;
        self.inner.activate_pending_recovery_codes(person).await
    }

    async fn spend_recovery_code(
        &self,
        person: PersonId,
        set_id: [u8; 16],
        index: u8,
    ) -> Result<bool, Self::Error> {
        self.note("spend_recovery_code").await;
        self.inner.spend_recovery_code(person, set_id, index).await
    }

    async fn oob_challenge(
        &self,
        person: PersonId,
        purpose: OobPurpose,
    ) -> Result<Option<OobChallengeRecord>, Self::Error> {
        self.note("oob_challenge").await;
        self.inner.oob_challenge(person, purpose).await
    }

    async fn replace_oob_challenge(
        &self,
        person: PersonId,
        purpose: OobPurpose,
        expected: Option<&OobChallenge>,
        new: Option<&OobChallengeRecord>,
    ) -> Result<bool, Self::Error> {
        self.note("replace_oob_challenge").await;
        self.inner
            .replace_oob_challenge(person, purpose, expected, new)
            .await
    }

    async fn record_oob_send(
        &self,
        person: PersonId,
        purpose: OobPurpose,
        config: &OobConfig,
        now: u64,
    ) -> Result<SendDecision, Self::Error> {
        self.note("record_oob_send").await;
        self.inner
            .record_oob_send(person, purpose, config, now)
            .await
    }

    async fn insert_setup_token(&self, token: &SetupTokenRecord) -> Result<(), Self::Error> {
        self.note("insert_setup_token").await;
        self.inner.insert_setup_token(token).await
    }

    async fn take_setup_token(
        &self,
        digest: &TokenDigest,
        now: u64,
    ) -> Result<Option<SetupTokenRecord>, Self::Error> {
        self.note("take_setup_token").await;
        self.inner.take_setup_token(digest, now).await
    }

    async fn insert_account_token(&self, token: &AccountTokenRecord) -> Result<(), Self::Error> {
        self.note("insert_account_token").await;
        self.inner.insert_account_token(token).await
    }

    async fn account_token(
        &self,
        digest: &TokenDigest,
        purpose: AccountTokenPurpose,
        now: u64,
    ) -> Result<Option<AccountTokenRecord>, Self::Error> {
        self.note("account_token").await;
        self.inner.account_token(digest, purpose, now).await
    }

    async fn take_account_token(
        &self,
        digest: &TokenDigest,
        purpose: AccountTokenPurpose,
        now: u64,
    ) -> Result<Option<AccountTokenRecord>, Self::Error> {
        self.note("take_account_token").await;
        self.inner.take_account_token(digest, purpose, now).await
    }

    async fn insert_ticket(&self, ticket: &TicketRecord) -> Result<(), Self::Error> {
        self.note("insert_ticket").await;
        self.inner.insert_ticket(ticket).await
    }

    async fn take_ticket(
        &self,
        digest: &TokenDigest,
        now: u64,
    ) -> Result<Option<TicketRecord>, Self::Error> {
        self.note("take_ticket").await;
        self.inner.take_ticket(digest, now).await
    }

    async fn prune_expired(&self, now: u64) -> Result<PruneReport, Self::Error> {
        self.note("prune_expired").await;
        self.inner.prune_expired(now).await
    }
}

impl<T: SessionStore> SessionStore for Recording<T> {
    type Error = T::Error;

    async fn security_epoch(&self, person: PersonId) -> Result<Option<u64>, Self::Error> {
        self.note("security_epoch").await;
        self.inner.security_epoch(person).await
    }

    async fn bump_epoch(
        &self,
        person: PersonId,
        keep: Option<SessionId>,
    ) -> Result<Option<u64>, Self::Error> {
        self.note("bump_epoch").await;
        self.inner.bump_epoch(person, keep).await
    }

    async fn create_session(
        &self,
        digest: &TokenDigest,
        session: &SessionRecord,
        labels: &SessionLabels,
    ) -> Result<bool, Self::Error> {
        self.note("create_session").await;
        self.inner.create_session(digest, session, labels).await
    }

    async fn session(&self, digest: &TokenDigest) -> Result<Option<SessionView>, Self::Error> {
        self.note("session").await;
        self.inner.session(digest).await
    }

    async fn session_by_id(
        &self,
        person: PersonId,
        id: SessionId,
    ) -> Result<Option<SessionView>, Self::Error> {
        self.note("session_by_id").await;
        self.inner.session_by_id(person, id).await
    }

    async fn label_session(
        &self,
        digest: &TokenDigest,
        labels: &SessionLabels,
    ) -> Result<bool, Self::Error> {
        self.note("label_session").await;
        self.inner.label_session(digest, labels).await
    }

    async fn touch_session(
        &self,
        digest: &TokenDigest,
        touch: &SessionTouch,
    ) -> Result<bool, Self::Error> {
        self.note("touch_session").await;
        self.inner.touch_session(digest, touch).await
    }

    async fn rotate_session(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        session: &SessionRecord,
    ) -> Result<bool, Self::Error> {
        self.note("rotate_session").await;
        self.inner.rotate_session(old, new, session).await
    }

    async fn revoke_session(&self, person: PersonId, id: SessionId) -> Result<bool, Self::Error> {
        self.note("revoke_session").await;
        self.inner.revoke_session(person, id).await
    }

    async fn sessions_of(&self, person: PersonId) -> Result<Vec<ListedSession>, Self::Error> {
        self.note("sessions_of").await;
        self.inner.sessions_of(person).await
    }

    async fn insert_device_token(
        &self,
        digest: &TokenDigest,
        token: &DeviceTokenRecord,
        max_per_person: u32,
    ) -> Result<bool, Self::Error> {
        self.note("insert_device_token").await;
        self.inner
            .insert_device_token(digest, token, max_per_person)
            .await
    }

    async fn device_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<DeviceTokenView>, Self::Error> {
        self.note("device_token").await;
        self.inner.device_token(digest).await
    }

    async fn prune_sessions(&self, now: u64) -> Result<SessionPruneReport, Self::Error> {
        self.note("prune_sessions").await;
        self.inner.prune_sessions(now).await
    }
}

impl<T: LoginStore> LoginStore for Recording<T> {
    async fn login_snapshot(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<LoginSnapshot, <T as SecretStore>::Error> {
        self.note("login_snapshot").await;
        self.inner.login_snapshot(at, org, now).await
    }

    async fn apply_step(&self, write: &StepWrite) -> Result<bool, <T as SecretStore>::Error> {
        self.note("apply_step").await;
        self.inner.apply_step(write).await
    }

    async fn locked_step<R, F>(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
        decide: F,
    ) -> Result<R, <T as SecretStore>::Error>
    where
        F: FnMut(&LoginSnapshot) -> (StepWrite, R) + Send,
        R: Send,
    {
        self.note("locked_step").await;
        self.inner.locked_step(at, org, now, decide).await
    }

    async fn remove_factor(
        &self,
        person: PersonId,
        factor: &authcore::store::FactorRemoval,
        expected_epoch: u64,
        keep: Option<authcore::policy::SessionId>,
    ) -> Result<Option<u64>, <T as SecretStore>::Error> {
        self.note("remove_factor").await;
        self.inner
            .remove_factor(person, factor, expected_epoch, keep)
            .await
    }
}

impl<T: authcore::store::InvitationStore> authcore::store::InvitationStore for Recording<T> {
    type Error = T::Error;

    async fn insert_invitation(
        &self,
        invitation: &authcore::store::InvitationRecord,
    ) -> Result<(), Self::Error> {
        self.note("insert_invitation").await;
        self.inner.insert_invitation(invitation).await
    }

    async fn invitation(
        &self,
        digest: &authcore::store::TokenDigest,
        person: authcore::PersonId,
        now: u64,
    ) -> Result<Option<authcore::policy::Invitation>, Self::Error> {
        self.note("invitation").await;
        self.inner.invitation(digest, person, now).await
    }

    async fn take_invitation(
        &self,
        digest: &authcore::store::TokenDigest,
        person: authcore::PersonId,
        now: u64,
    ) -> Result<Option<authcore::store::InvitationRecord>, Self::Error> {
        self.note("take_invitation").await;
        self.inner.take_invitation(digest, person, now).await
    }

    async fn prune_invitations(&self, now: u64) -> Result<u64, Self::Error> {
        self.note("prune_invitations").await;
        self.inner.prune_invitations(now).await
    }

    async fn organisation_ids(&self) -> Result<Vec<authcore::OrgId>, Self::Error> {
        self.note("organisation_ids").await;
        self.inner.organisation_ids().await
    }
}

#[cfg(feature = "passkeys")]
impl<T: authcore::store::PasskeyStore> authcore::store::PasskeyStore for Recording<T> {
    type Error = <T as authcore::store::PasskeyStore>::Error;

    async fn ensure_user_handle(
        &self,
        person: PersonId,
        candidate: authcore::credential::passkey::UserHandle,
    ) -> Result<Option<authcore::credential::passkey::UserHandle>, Self::Error> {
        self.note("ensure_user_handle").await;
        self.inner.ensure_user_handle(person, candidate).await
    }

    async fn put_passkey_challenge(
        &self,
        record: &authcore::store::PasskeyChallengeRecord,
    ) -> Result<(), Self::Error> {
        self.note("put_passkey_challenge").await;
        self.inner.put_passkey_challenge(record).await
    }

    async fn take_passkey_challenge(
        &self,
        person: PersonId,
        purpose: authcore::store::PasskeyPurpose,
        ticket: Option<&TokenDigest>,
        now: u64,
    ) -> Result<Option<authcore::store::PasskeyChallengeRecord>, Self::Error> {
        self.note("take_passkey_challenge").await;
        self.inner
            .take_passkey_challenge(person, purpose, ticket, now)
            .await
    }

    async fn insert_passkey(
        &self,
        record: &authcore::store::PasskeyRecord,
        epoch: u64,
        keep: Option<authcore::policy::SessionId>,
    ) -> Result<Option<u64>, Self::Error> {
        self.note("insert_passkey").await;
        self.inner.insert_passkey(record, epoch, keep).await
    }

    async fn passkey_by_id(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<authcore::store::PasskeyRecord>, Self::Error> {
        self.note("passkey_by_id").await;
        self.inner.passkey_by_id(credential_id).await
    }

    async fn passkeys(
        &self,
        person: PersonId,
    ) -> Result<Vec<authcore::store::PasskeyRecord>, Self::Error> {
        self.note("passkeys").await;
        self.inner.passkeys(person).await
    }

    async fn record_passkey_use(
        &self,
        person: PersonId,
        credential_id: &[u8],
        write: &authcore::store::PasskeyUseWrite,
    ) -> Result<bool, Self::Error> {
        self.note("record_passkey_use").await;
        self.inner
            .record_passkey_use(person, credential_id, write)
            .await
    }

    async fn remove_passkeys(&self, person: PersonId) -> Result<u64, Self::Error> {
        self.note("remove_passkeys").await;
        self.inner.remove_passkeys(person).await
    }

    async fn prune_passkey_challenges(&self, now: u64) -> Result<u64, Self::Error> {
        self.note("prune_passkey_challenges").await;
        self.inner.prune_passkey_challenges(now).await
    }
}
