//! Checks of what only the SQL stores have, shared by the SQLite and PostgreSQL store tests:
//! re-sealing after a key rotation, schema upgrades that keep their rows, and sealed or tagged
//! rows that someone with write access to the database but no key altered, copied or forged.
//! The storage contract every store meets is the conformance suite (`support/conformance.rs`).

use authcore::credential::{
    OobChallenge, OobConfig, OobIssue, OobKey, OobSendLog, PhoneNumber, RecoveryCodeSet,
    RecoveryParams, ThrottleDecision, ThrottlePolicy, ThrottleState, ThrottledFactor,
};
use authcore::otp::Totp;
use authcore::policy::{
    AuthenticatorName, EnrollmentConfig, EnrollmentPurpose, LoginProgress, Mfa, Organisation,
    PasswordState,
};
use authcore::store::{
    CreateOutcome, Login, OobChallengeRecord, OobPurpose, OrganisationWrite, PendingStep,
    PersonRecord, RecoverySlot, SetupTokenRecord, ThrottleKey, TicketRecord, TokenDigest,
};
use authcore::{OrgId, PersonId, SecretStore, UserStore};

pub const T0: u64 = 1_700_000_010;
pub const ALICE: PersonId = PersonId::new(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
pub const BOB: PersonId = PersonId::new(2);
pub const ORG: OrgId = OrgId::new(100);
/// Stands for a plaintext password a host hashed: it must never reach the database.
pub const PASSWORD: &str = "correct horse battery staple";

pub fn person(id: PersonId, login: &str) -> PersonRecord {
    PersonRecord {
        id,
        login: Login::new(login).unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        password_state: PasswordState::Current,
        password_expires_at: None,
        deactivated: false,
        phone: None,
        created_at: T0,
        address_verified_at: None,
    }
}

/// An MFA state with one active authenticator, through the public ceremony.
pub fn enrolled(person: PersonId) -> Mfa {
    let config = EnrollmentConfig::default();
    let started = Mfa::new(person)
        .start_enrollment_with_os_rng(
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
            None,
            &config,
            T0,
        )
        .unwrap()
        .state;
    let secret = started.enrollment().unwrap().expose_secret();
    let code = Totp::new(config.params(), secret).generate(T0).unwrap();
    let confirmed = started
        .confirm_enrollment(code.expose_secret(), &config, T0)
        .unwrap()
        .state;
    let issued = confirmed.recovery_codes_issued(&config, T0).unwrap().state;
    issued
        .acknowledge_recovery_codes(&config, T0)
        .unwrap()
        .state
}

pub fn cheap_recovery() -> RecoveryParams {
    RecoveryParams::builder()
        .count(10)
        .dangerous_argon2(8, 1, 1)
        .build()
        .unwrap()
}

/// What the re-seal check needs from a SQL store beside the traits.
pub trait Resealable: SecretStore + UserStore {
    fn reseal(&self, batch: u32) -> impl Future<Output = Result<u64, authcore::SqlStoreError>>;
    /// Every stored `mfa.state_key`, by person.
    fn state_keys(&self) -> impl Future<Output = Vec<Vec<u8>>>;
    /// Every stored row tag, of every tagged table.
    fn tags(&self) -> impl Future<Output = Vec<Vec<u8>>>;
}

/// The key id each stored MFA state names (bytes 2 to 5 of `mfa.state_key`), by person.
async fn sealed_key_ids(store: &impl Resealable) -> Vec<u32> {
    let keys = store.state_keys().await;
    keys.iter()
        .map(|k| u32::from_be_bytes(k[1..5].try_into().unwrap()))
        .collect()
}

/// Implements [`Resealable`] for a SQL store (its inherent `reseal`, and its pool).
macro_rules! impl_resealable {
    ($store:ty) => {
        impl Resealable for $store {
            async fn reseal(&self, batch: u32) -> Result<u64, authcore::SqlStoreError> {
                <$store>::reseal(self, batch).await
            }
            async fn state_keys(&self) -> Vec<Vec<u8>> {
                sqlx::query_scalar("SELECT state_key FROM mfa ORDER BY person")
                    .fetch_all(self.pool())
                    .await
                    .unwrap()
            }
            async fn tags(&self) -> Vec<Vec<u8>> {
                sqlx::query_scalar(
                    "SELECT tag FROM tickets UNION ALL SELECT tag FROM setup_tokens \
                     UNION ALL SELECT tag FROM recovery_sets \
                     UNION ALL SELECT tag FROM authenticator_watermarks \
                     UNION ALL SELECT tag FROM oob_challenges \
                     UNION ALL SELECT tag FROM organisations \
                     UNION ALL SELECT phone_tag FROM people WHERE phone IS NOT NULL",
                )
                .fetch_all(self.pool())
                .await
                .unwrap()
            }
        }
    };
}
pub(crate) use impl_resealable;

fn sealing_key(byte: u8) -> authcore::credential::SealingKey {
    authcore::credential::SealingKey::from_bytes(&[byte; 32]).unwrap()
}

/// The key id each stored row tag names (bytes 2 to 5), sorted.
async fn tag_key_ids(store: &impl Resealable) -> Vec<u32> {
    let mut ids: Vec<u32> = store
        .tags()
        .await
        .iter()
        .map(|k| u32::from_be_bytes(k[1..5].try_into().unwrap()))
        .collect();
    ids.sort_unstable();
    ids
}

/// A key rotation finished by `reseal`: states sealed under key 1 are sealed again under key 2,
/// and row tags made under key 1 are made again under key 2, a batch at a time, after which key
/// 1 can leave the keyring; a state under a key the keyring lacks stops the pass with an error.
pub async fn reseal_after_rotation<S: Resealable>(
    open: impl AsyncFn(authcore::credential::Keyring) -> S,
) {
    use authcore::SqlStoreError;
    use authcore::credential::{KeyId, Keyring};
    let people = [ALICE, BOB, PersonId::new(3)];
    let old = open(Keyring::new(KeyId::new(1), sealing_key(1))).await;
    for person in people {
        assert!(
            old.replace_mfa(person, &enrolled(person), None)
                .await
                .unwrap()
        );
    }
    let written: Vec<_> = {
        let mut out = Vec::new();
        for person in people {
            let mfa = old.mfa(person).await.unwrap().unwrap();
            out.push((mfa.version, format!("{:?}", mfa.value.authenticators())));
        }
        out
    };
    // One row of every other tagged kind: a ticket, a setup token, a recovery-code set, an
    // out-of-band challenge and an organisation (beside the three watermarks).
    let ticket = TicketRecord {
        digest: TokenDigest([2; 32]),
        step: PendingStep::SecondFactor,
        progress: LoginProgress::password_verified(ALICE, ORG, T0),
        expires_at: T0 + 300,
    };
    old.insert_ticket(&ticket).await.unwrap();
    let token = SetupTokenRecord {
        digest: TokenDigest([1; 32]),
        person: BOB,
        org: ORG,
        expires_at: T0 + 100,
    };
    old.insert_setup_token(&token).await.unwrap();
    let codes = RecoveryCodeSet::generate(&cheap_recovery()).unwrap();
    old.replace_recovery_codes(ALICE, RecoverySlot::Active, Some(&codes.set))
        .await
        .unwrap();
    let challenge = OobChallengeRecord {
        destination: PhoneNumber::parse("+44 20 7946 0958").unwrap(),
        challenge: version_1_challenge(),
    };
    assert!(
        old.replace_oob_challenge(ALICE, OobPurpose::SignIn, None, Some(&challenge))
            .await
            .unwrap()
    );
    let org = Organisation::found(ORG, ALICE, T0).state;
    assert_eq!(
        old.create_person(&person(ALICE, "alice"), OrganisationWrite::Insert(&org))
            .await
            .unwrap(),
        CreateOutcome::Created
    );
    let phone = PhoneNumber::parse("+44 20 7946 0958").unwrap();
    assert!(old.set_phone(ALICE, Some(&phone)).await.unwrap());
    assert_eq!(sealed_key_ids(&old).await, [1, 1, 1]);
    assert_eq!(tag_key_ids(&old).await, [1; 9]);
    // Nothing to do while the current key is the only one in use.
    assert_eq!(old.reseal(10).await.unwrap(), 0);

    let rotating = open(
        Keyring::builder(KeyId::new(2), sealing_key(2))
            .previous(KeyId::new(1), sealing_key(1))
            .build()
            .unwrap(),
    )
    .await;
    // A batch of 2 over 3 states and 9 tagged rows: every row is visited once across batches.
    assert_eq!(rotating.reseal(2).await.unwrap(), 3 + 9);
    assert_eq!(sealed_key_ids(&rotating).await, [2, 2, 2]);
    assert_eq!(tag_key_ids(&rotating).await, [2; 9]);
    assert_eq!(rotating.reseal(2).await.unwrap(), 0);

    // Key 1 can go: every state opens under key 2 alone, unchanged (same version too: the
    // state itself was not rewritten).
    let rotated = open(Keyring::new(KeyId::new(2), sealing_key(2))).await;
    for (person, (version, authenticators)) in people.into_iter().zip(&written) {
        let mfa = rotated.mfa(person).await.unwrap().unwrap();
        assert_eq!(mfa.version, *version);
        assert_eq!(format!("{:?}", mfa.value.authenticators()), *authenticators);
    }
    assert_eq!(
        rotated.take_ticket(&ticket.digest, T0).await.unwrap(),
        Some(ticket)
    );
    assert_eq!(
        rotated.take_setup_token(&token.digest, T0).await.unwrap(),
        Some(token)
    );
    assert_eq!(
        rotated
            .recovery_codes(ALICE, RecoverySlot::Active)
            .await
            .unwrap()
            .unwrap()
            .set_id(),
        codes.set.set_id()
    );
    assert_eq!(
        rotated
            .oob_challenge(ALICE, OobPurpose::SignIn)
            .await
            .unwrap(),
        Some(challenge)
    );
    assert_eq!(rotated.organisation(ORG).await.unwrap().unwrap().version, 1);
    assert_eq!(
        rotated.person(ALICE).await.unwrap().unwrap().phone,
        Some(phone)
    );

    // A state sealed under a key the keyring does not hold is an error, never skipped.
    let other = open(Keyring::new(KeyId::new(9), sealing_key(9))).await;
    let stranger = PersonId::new(4);
    assert!(
        other
            .replace_mfa(stranger, &enrolled(stranger), None)
            .await
            .unwrap()
    );
    assert!(matches!(
        rotated.reseal(10).await,
        Err(SqlStoreError::Open { .. })
    ));
}

/// Lays out a version-1 database on `$pool`: the first migration (`$migration`) applied and
/// recorded, and ALICE (with a phone) and BOB (without) each holding a pending challenge, which
/// it returns. `$false` is the dialect's literal for false.
macro_rules! seed_version_1 {
    ($pool:expr, $migration:expr, $false:literal) => {{
        sqlx::raw_sql($migration).execute($pool).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE authcore_schema (version BIGINT PRIMARY KEY NOT NULL); \
             INSERT INTO authcore_schema (version) VALUES (1);",
        )
        .execute($pool)
        .await
        .unwrap();
        let challenge = version_1_challenge();
        for (id, login, phone) in [
            (ALICE, "alice@example.com", Some("+442079460958")),
            (BOB, "bob@example.com", None),
        ] {
            sqlx::query(concat!(
                "INSERT INTO people (id, login, password_hash, password_state, ",
                "password_expires_at, deactivated, phone, created_at) ",
                "VALUES ($1, $2, 'hash', 'current', NULL, ",
                $false,
                ", $3, 0)"
            ))
            .bind(id.get().to_be_bytes().to_vec())
            .bind(login)
            .bind(phone)
            .execute($pool)
            .await
            .unwrap();
            sqlx::query("INSERT INTO oob_challenges (person, challenge) VALUES ($1, $2)")
                .bind(id.get().to_be_bytes().to_vec())
                .bind(challenge.to_stored_bytes().to_vec())
                .execute($pool)
                .await
                .unwrap();
        }
        challenge
    }};
}
pub(crate) use seed_version_1;

/// An organisation (ALICE its founder, BOB a member holding a delegation she granted) and a
/// pending login ticket of BOB's, with the JSON text a version before ids had a text form stored
/// for each: every id a JSON number (ALICE's beyond 64 bits).
pub fn number_id_states() -> (Organisation, TicketRecord, String, String) {
    use authcore::credential::FactorKind;
    use authcore::policy::{Account, LoginDecision, Role, SecondFactors, login_decision};
    let founded = Organisation::found(ORG, ALICE, T0).state;
    let progress =
        LoginProgress::password_verified(ALICE, ORG, T0).with_second_factor(FactorKind::Totp);
    let LoginDecision::Allowed(owner) = login_decision(
        &Account::new(ALICE).factors(SecondFactors::of(FactorKind::Totp)),
        founded.member(ALICE),
        founded.policy(),
        &progress,
        T0,
    ) else {
        panic!("the founder signs in");
    };
    let org = founded
        .add_member(&owner, BOB, Role::User, T0)
        .unwrap()
        .state
        .delegate(&owner, BOB, Role::Manager, T0 + 3600, T0)
        .unwrap()
        .state;
    let ticket = TicketRecord {
        digest: TokenDigest([5; 32]),
        step: PendingStep::SecondFactor,
        progress: LoginProgress::password_verified(BOB, ORG, T0),
        expires_at: T0 + 300,
    };
    let numbers = |json: String| {
        let mut json = json;
        for id in [ALICE.get(), BOB.get(), ORG.get()] {
            json = json.replace(&format!("\"{id:032x}\""), &id.to_string());
        }
        assert!(!json.contains(&format!("{:032x}", ALICE.get())));
        json
    };
    let org_json = numbers(serde_json::to_string(&org).unwrap());
    assert!(org_json.contains(&format!("\"granted_by\":{}", ALICE.get())));
    let progress_json = numbers(serde_json::to_string(&ticket.progress).unwrap());
    assert!(progress_json.contains(&format!("\"person\":{}", BOB.get())));
    (org, ticket, org_json, progress_json)
}

/// Writes the rows of [`number_id_states`] into a version-1 database on `$pool` (laid out by
/// [`seed_version_1`]) as that version wrote them, and returns the organisation and the ticket.
macro_rules! seed_number_id_states {
    ($pool:expr) => {{
        let (org, ticket, org_json, progress_json) = number_id_states();
        sqlx::query("INSERT INTO organisations (id, state, version) VALUES ($1, $2, 1)")
            .bind(ORG.get().to_be_bytes().to_vec())
            .bind(org_json)
            .execute($pool)
            .await
            .unwrap();
        for person in [ALICE, BOB] {
            sqlx::query("INSERT INTO memberships (person, org) VALUES ($1, $2)")
                .bind(person.get().to_be_bytes().to_vec())
                .bind(ORG.get().to_be_bytes().to_vec())
                .execute($pool)
                .await
                .unwrap();
        }
        sqlx::query(
            "INSERT INTO tickets (digest, step, progress, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(ticket.digest.0.to_vec())
        .bind("second_factor")
        .bind(progress_json)
        .bind(ticket.expires_at as i64)
        .execute($pool)
        .await
        .unwrap();
        (org, ticket)
    }};
}
pub(crate) use seed_number_id_states;

/// After upgrading the rows of [`seed_number_id_states`]: the organisation and the ticket read
/// back as they were, and the organisation is written again (in the current form) and read back.
pub async fn number_id_states_still_work<S: UserStore + SecretStore>(
    store: &S,
    org: &Organisation,
    ticket: &TicketRecord,
) {
    let stored = store.organisation(ORG).await.unwrap().unwrap();
    assert_eq!(stored.value, *org);
    assert_eq!(stored.version, 1);
    assert_eq!(store.organisations_of(BOB).await.unwrap(), [ORG]);
    assert!(store.replace_organisation(org, 1).await.unwrap());
    let rewritten = store.organisation(ORG).await.unwrap().unwrap();
    assert_eq!(rewritten.value, *org);
    assert_eq!(rewritten.version, 2);
    assert_eq!(
        store
            .take_ticket(&ticket.digest, T0)
            .await
            .unwrap()
            .as_ref(),
        Some(ticket)
    );
    // A ticket written now is in the current form and reads back too.
    store.insert_ticket(ticket).await.unwrap();
    assert_eq!(
        store
            .take_ticket(&ticket.digest, T0)
            .await
            .unwrap()
            .as_ref(),
        Some(ticket)
    );
}

/// Adds throttle rows as a version-1 to version-3 database held them (`(person, factor)` keys,
/// locks without an end) to `$pool`: ALICE's password locked at 100 failures, ALICE's TOTP at 3
/// failures waiting until `T0 + 60`, BOB's recovery codes at none, and the password of a person
/// who no longer exists. `$true` and `$false` are the dialect's literals.
macro_rules! seed_old_throttles {
    ($pool:expr, $true:literal, $false:literal) => {{
        for (id, factor, failures, not_before, locked) in [
            (ALICE, "password", 100i64, T0 as i64, $true),
            (ALICE, "totp", 3, T0 as i64 + 60, $false),
            (BOB, "recovery_code", 0, 0, $false),
            (authcore::PersonId::new(99), "password", 7, 0, $false),
        ] {
            sqlx::query(&format!(
                "INSERT INTO throttles (person, factor, failures, not_before, locked) \
                 VALUES ($1, $2, $3, $4, {locked})"
            ))
            .bind(id.get().to_be_bytes().to_vec())
            .bind(factor)
            .bind(failures)
            .bind(not_before)
            .execute($pool)
            .await
            .unwrap();
        }
    }};
}
pub(crate) use seed_old_throttles;

/// After migrating the rows of [`seed_old_throttles`]: ALICE's password counter is her login's,
/// still locked but now for a day from the upgrade, after which her password is tried again;
/// her TOTP counter is carried under her id; nothing else is left, and no counter is forgotten
/// early.
pub async fn throttles_after_the_key_migration<S: UserStore>(store: &S) {
    let policy = ThrottlePolicy::default();
    let upgraded = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let alice = Login::new("alice@example.com").unwrap();
    let password = store.throttle(&ThrottleKey::login(&alice)).await.unwrap();
    assert_eq!(password.failures(), 100);
    assert!(password.is_locked());
    let until = password.not_before();
    assert!(until >= upgraded + 86_400 - 5 && until <= upgraded + 86_400 + 60);
    assert!(matches!(
        policy.decide(&password, upgraded),
        ThrottleDecision::Locked { .. }
    ));
    assert!(policy.decide(&password, until).is_allowed());
    assert!(password.forget_at() >= until + 2_592_000);
    let totp = store
        .throttle(&ThrottleKey::factor(ALICE, ThrottledFactor::Totp))
        .await
        .unwrap();
    assert_eq!(
        (totp.failures(), totp.not_before(), totp.is_locked()),
        (3, T0 + 60, false)
    );
    assert!(totp.forget_at() + 5 >= upgraded + 2_592_000);
    // Nothing forgotten yet, and these were the only rows worth carrying.
    assert_eq!(store.prune_throttles(upgraded).await.unwrap(), 0);
    for key in [
        ThrottleKey::factor(ALICE, ThrottledFactor::Password),
        ThrottleKey::factor(BOB, ThrottledFactor::RecoveryCode),
        ThrottleKey::factor(PersonId::new(99), ThrottledFactor::Password),
    ] {
        assert_eq!(store.throttle(&key).await.unwrap(), ThrottleState::new());
    }
    assert_eq!(store.prune_throttles(u64::MAX >> 2).await.unwrap(), 2);
}

/// A stored challenge as a version-1 database held it: `(person, challenge)` only.
pub fn version_1_challenge() -> OobChallenge {
    let key = OobKey::from_bytes(&[9u8; 32]).unwrap();
    match OobConfig::default()
        .issue_with_os_rng(&key, &OobSendLog::new(), T0)
        .unwrap()
    {
        OobIssue::Send { challenge, .. } => challenge,
        other => panic!("refused: {other:?}"),
    }
}

/// After migrating a version-1 database in which ALICE (phone `+44 20 7946 0958`) and BOB (no
/// phone) each had a pending challenge: ALICE's is her sign-in challenge, sent to her phone;
/// BOB's, which nothing could answer, is gone; a phone verification can be stored beside hers.
pub async fn challenges_after_the_purpose_migration<S: SecretStore>(
    store: &S,
    challenge: &OobChallenge,
) {
    let phone = PhoneNumber::parse("+44 20 7946 0958").unwrap();
    assert_eq!(
        store
            .oob_challenge(ALICE, OobPurpose::SignIn)
            .await
            .unwrap(),
        Some(OobChallengeRecord {
            destination: phone.clone(),
            challenge: challenge.clone(),
        })
    );
    assert!(
        store
            .oob_challenge(BOB, OobPurpose::SignIn)
            .await
            .unwrap()
            .is_none()
    );
    let pending = OobChallengeRecord {
        destination: PhoneNumber::parse("+44 20 7946 0959").unwrap(),
        challenge: challenge.clone(),
    };
    assert!(
        store
            .replace_oob_challenge(ALICE, OobPurpose::VerifyPhone, None, Some(&pending))
            .await
            .unwrap()
    );
    assert!(
        store
            .replace_oob_challenge(ALICE, OobPurpose::SignIn, Some(challenge), None)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .oob_challenge(ALICE, OobPurpose::VerifyPhone)
            .await
            .unwrap(),
        Some(pending)
    );
}

/// Someone who can write the database but holds no sealing key rewrites a pending-login ticket
/// (its progress claims a second factor, its step becomes `enrol_mfa`), inserts one whole under
/// the digest of a token they made, or puts another ticket's tag beside it: each is an error when
/// taken, never a ticket, and is spent all the same.
macro_rules! forged_tickets_are_refused {
    ($store:expr) => {{
        use authcore::credential::FactorKind;
        use authcore::{SecretStore as _, SqlStoreError};
        let store = $store;
        let real = authcore::store::TicketRecord {
            digest: authcore::store::TokenDigest([3; 32]),
            step: authcore::store::PendingStep::SecondFactor,
            progress: authcore::policy::LoginProgress::password_verified(ALICE, ORG, T0),
            expires_at: T0 + 300,
        };
        store.insert_ticket(&real).await.unwrap();
        let forged =
            serde_json::to_string(&real.progress.with_second_factor(FactorKind::Totp)).unwrap();
        sqlx::query("UPDATE tickets SET step = 'enrol_mfa', progress = $1 WHERE digest = $2")
            .bind(&forged)
            .bind(real.digest.0.to_vec())
            .execute(store.pool())
            .await
            .unwrap();
        let taken = store.take_ticket(&real.digest, T0).await;
        assert!(
            matches!(
                taken,
                Err(SqlStoreError::Open {
                    table: "tickets",
                    ..
                })
            ),
            "{taken:?}"
        );
        assert!(store.take_ticket(&real.digest, T0).await.unwrap().is_none());

        sqlx::query(
            "INSERT INTO tickets (digest, step, progress, expires_at) \
             VALUES ($1, 'enrol_mfa', $2, $3)",
        )
        .bind(vec![4u8; 32])
        .bind(&forged)
        .bind((T0 + 300) as i64)
        .execute(store.pool())
        .await
        .unwrap();
        let taken = store
            .take_ticket(&authcore::store::TokenDigest([4; 32]), T0)
            .await;
        assert!(
            matches!(
                taken,
                Err(SqlStoreError::Open {
                    table: "tickets",
                    ..
                })
            ),
            "{taken:?}"
        );

        store.insert_ticket(&real).await.unwrap();
        sqlx::query(
            "INSERT INTO tickets (digest, step, progress, expires_at, tag) \
             SELECT $1, step, $2, expires_at, tag FROM tickets WHERE digest = $3",
        )
        .bind(vec![5u8; 32])
        .bind(&forged)
        .bind(real.digest.0.to_vec())
        .execute(store.pool())
        .await
        .unwrap();
        let taken = store
            .take_ticket(&authcore::store::TokenDigest([5; 32]), T0)
            .await;
        assert!(
            matches!(
                taken,
                Err(SqlStoreError::Open {
                    table: "tickets",
                    ..
                })
            ),
            "{taken:?}"
        );
        // The genuine ticket is untouched.
        assert_eq!(
            store.take_ticket(&real.digest, T0).await.unwrap(),
            Some(real)
        );
    }};
}
pub(crate) use forged_tickets_are_refused;

/// A setup token moved to another person, or a setup-token row inserted whole: an error when
/// taken, and spent.
macro_rules! forged_setup_tokens_are_refused {
    ($store:expr) => {{
        use authcore::{SecretStore as _, SqlStoreError};
        let store = $store;
        let token = authcore::store::SetupTokenRecord {
            digest: authcore::store::TokenDigest([6; 32]),
            person: ALICE,
            org: ORG,
            expires_at: T0 + 100,
        };
        store.insert_setup_token(&token).await.unwrap();
        sqlx::query("UPDATE setup_tokens SET person = $1 WHERE digest = $2")
            .bind(BOB.get().to_be_bytes().to_vec())
            .bind(token.digest.0.to_vec())
            .execute(store.pool())
            .await
            .unwrap();
        let taken = store.take_setup_token(&token.digest, T0).await;
        assert!(
            matches!(
                taken,
                Err(SqlStoreError::Open {
                    table: "setup_tokens",
                    ..
                })
            ),
            "{taken:?}"
        );
        assert!(
            store
                .take_setup_token(&token.digest, T0)
                .await
                .unwrap()
                .is_none()
        );

        sqlx::query(
            "INSERT INTO setup_tokens (digest, person, org, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(vec![7u8; 32])
        .bind(BOB.get().to_be_bytes().to_vec())
        .bind(ORG.get().to_be_bytes().to_vec())
        .bind((T0 + 100) as i64)
        .execute(store.pool())
        .await
        .unwrap();
        let taken = store
            .take_setup_token(&authcore::store::TokenDigest([7; 32]), T0)
            .await;
        assert!(
            matches!(
                taken,
                Err(SqlStoreError::Open {
                    table: "setup_tokens",
                    ..
                })
            ),
            "{taken:?}"
        );
    }};
}
pub(crate) use forged_setup_tokens_are_refused;

/// BOB's recovery-code set (whose codes the attacker knows) copied into ALICE's row, first
/// without and then with its tag: an error, never a set whose codes verify for her.
macro_rules! copied_recovery_sets_are_refused {
    ($store:expr) => {{
        use authcore::{SecretStore as _, SqlStoreError};
        let store = $store;
        let active = authcore::store::RecoverySlot::Active;
        let alice = authcore::credential::RecoveryCodeSet::generate(&cheap_recovery()).unwrap();
        let bob = authcore::credential::RecoveryCodeSet::generate(&cheap_recovery()).unwrap();
        store
            .replace_recovery_codes(ALICE, active, Some(&alice.set))
            .await
            .unwrap();
        store
            .replace_recovery_codes(BOB, active, Some(&bob.set))
            .await
            .unwrap();
        let copy = |column: &str| {
            format!(
                "UPDATE recovery_sets SET {column} = (SELECT {column} FROM recovery_sets \
                 WHERE person = $1 AND slot = 'active') WHERE person = $2 AND slot = 'active'"
            )
        };
        for column in ["set_id", "codes", "stored", "spent"] {
            sqlx::query(&copy(column))
                .bind(BOB.get().to_be_bytes().to_vec())
                .bind(ALICE.get().to_be_bytes().to_vec())
                .execute(store.pool())
                .await
                .unwrap();
        }
        let got = store.recovery_codes(ALICE, active).await;
        assert!(
            matches!(
                got,
                Err(SqlStoreError::Open {
                    table: "recovery_sets",
                    ..
                })
            ),
            "{:?}",
            got.map(|s| s.map(|s| s.set_id()))
        );
        sqlx::query(&copy("tag"))
            .bind(BOB.get().to_be_bytes().to_vec())
            .bind(ALICE.get().to_be_bytes().to_vec())
            .execute(store.pool())
            .await
            .unwrap();
        let got = store.recovery_codes(ALICE, active).await;
        assert!(
            matches!(
                got,
                Err(SqlStoreError::Open {
                    table: "recovery_sets",
                    ..
                })
            ),
            "{:?}",
            got.map(|s| s.map(|s| s.set_id()))
        );
        // BOB's own set still loads.
        assert_eq!(
            store
                .recovery_codes(BOB, active)
                .await
                .unwrap()
                .unwrap()
                .set_id(),
            bob.set.set_id()
        );
    }};
}
pub(crate) use copied_recovery_sets_are_refused;

/// ALICE's older MFA state put back: under the newer version number it does not open; as a
/// whole row it opens but keeps the newer watermark; with its watermark row lowered or deleted
/// it is an error, never a lower watermark.
macro_rules! restored_mfa_rows_do_not_lower_the_watermark {
    ($store:expr) => {{
        use authcore::{SecretStore as _, SqlStoreError};
        let store = $store;
        let alice = ALICE.get().to_be_bytes().to_vec();
        let mfa = enrolled(ALICE);
        let auth = mfa.authenticators()[0].id();
        let base = mfa.authenticators()[0].last_accepted_step();
        assert!(store.replace_mfa(ALICE, &mfa, None).await.unwrap());
        let old: (Vec<u8>, Vec<u8>) =
            sqlx::query_as("SELECT state_key, state FROM mfa WHERE person = $1")
                .bind(&alice)
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert!(
            store
                .advance_watermark(ALICE, auth, base + 5)
                .await
                .unwrap()
        );
        let current = store.mfa(ALICE).await.unwrap().unwrap();
        assert!(
            store
                .replace_mfa(ALICE, &current.value, Some(current.version))
                .await
                .unwrap()
        );
        let step_now = async || {
            store.mfa(ALICE).await.map(|m| {
                let m = m.unwrap();
                (m.version, m.value.authenticators()[0].last_accepted_step())
            })
        };
        assert_eq!(step_now().await.unwrap(), (2, base + 5));

        // The older sealed state beside the newer version number.
        sqlx::query("UPDATE mfa SET state_key = $1, state = $2 WHERE person = $3")
            .bind(&old.0)
            .bind(&old.1)
            .bind(&alice)
            .execute(store.pool())
            .await
            .unwrap();
        let got = step_now().await;
        assert!(
            matches!(got, Err(SqlStoreError::Open { table: "mfa", .. })),
            "{got:?}"
        );

        // The whole older row: it opens, and the watermark stays where it was.
        sqlx::query("UPDATE mfa SET version = 1 WHERE person = $1")
            .bind(&alice)
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(step_now().await.unwrap(), (1, base + 5));

        // The watermark row lowered.
        sqlx::query("UPDATE authenticator_watermarks SET last_step = $1 WHERE person = $2")
            .bind(base as i64)
            .bind(&alice)
            .execute(store.pool())
            .await
            .unwrap();
        let got = step_now().await;
        assert!(
            matches!(
                got,
                Err(SqlStoreError::Open {
                    table: "authenticator_watermarks",
                    ..
                })
            ),
            "{got:?}"
        );

        // The watermark row deleted, so that only the older state's would count.
        sqlx::query("DELETE FROM authenticator_watermarks WHERE person = $1")
            .bind(&alice)
            .execute(store.pool())
            .await
            .unwrap();
        let got = step_now().await;
        assert!(
            matches!(
                got,
                Err(SqlStoreError::Decode {
                    table: "authenticator_watermarks",
                    ..
                })
            ),
            "{got:?}"
        );
    }};
}
pub(crate) use restored_mfa_rows_do_not_lower_the_watermark;

/// BOB's sign-in challenge (whose code the attacker received) copied into ALICE's row: an error,
/// never a challenge her sign-in answers with his code.
macro_rules! copied_oob_challenges_are_refused {
    ($store:expr) => {{
        use authcore::{SecretStore as _, SqlStoreError};
        let store = $store;
        let phone = authcore::credential::PhoneNumber::parse("+44 20 7946 0958").unwrap();
        for person in [ALICE, BOB] {
            let record = authcore::store::OobChallengeRecord {
                destination: phone.clone(),
                challenge: version_1_challenge(),
            };
            assert!(
                store
                    .replace_oob_challenge(
                        person,
                        authcore::store::OobPurpose::SignIn,
                        None,
                        Some(&record)
                    )
                    .await
                    .unwrap()
            );
        }
        sqlx::query(
            "UPDATE oob_challenges SET challenge = (SELECT challenge FROM oob_challenges \
             WHERE person = $1 AND purpose = 'sign_in') WHERE person = $2 AND purpose = 'sign_in'",
        )
        .bind(BOB.get().to_be_bytes().to_vec())
        .bind(ALICE.get().to_be_bytes().to_vec())
        .execute(store.pool())
        .await
        .unwrap();
        let got = store
            .oob_challenge(ALICE, authcore::store::OobPurpose::SignIn)
            .await;
        assert!(
            matches!(
                got,
                Err(SqlStoreError::Open {
                    table: "oob_challenges",
                    ..
                })
            ),
            "{got:?}"
        );
        assert!(
            store
                .oob_challenge(BOB, authcore::store::OobPurpose::SignIn)
                .await
                .unwrap()
                .is_some()
        );
    }};
}
pub(crate) use copied_oob_challenges_are_refused;

/// An organisation's stored state (policy, roster, roles) altered in the database: an error,
/// never the altered roster.
macro_rules! altered_organisations_are_refused {
    ($store:expr) => {{
        use authcore::{SqlStoreError, UserStore as _};
        let store = $store;
        let org = authcore::policy::Organisation::found(ORG, ALICE, T0).state;
        assert_eq!(
            store
                .create_person(
                    &person(ALICE, "alice"),
                    authcore::store::OrganisationWrite::Insert(&org)
                )
                .await
                .unwrap(),
            authcore::store::CreateOutcome::Created
        );
        assert!(store.organisation(ORG).await.unwrap().is_some());
        sqlx::query("UPDATE organisations SET state = state || ' ' WHERE id = $1")
            .bind(ORG.get().to_be_bytes().to_vec())
            .execute(store.pool())
            .await
            .unwrap();
        let got = store.organisation(ORG).await;
        assert!(
            matches!(
                got,
                Err(SqlStoreError::Open {
                    table: "organisations",
                    ..
                })
            ),
            "{:?}",
            got.map(|o| o.map(|o| o.version))
        );
    }};
}
pub(crate) use altered_organisations_are_refused;

/// A person's phone number (an out-of-band second factor) rewritten to a number the attacker
/// holds, or copied with its tag from another person: an error when the person is read, never a
/// phone that receives their sign-in codes.
macro_rules! altered_phone_numbers_are_refused {
    ($store:expr) => {{
        use authcore::{SqlStoreError, UserStore as _};
        let store = $store;
        let org = authcore::policy::Organisation::found(ORG, ALICE, T0).state;
        let mut bob = person(BOB, "bob");
        bob.phone = Some(authcore::credential::PhoneNumber::parse("+44 20 7946 0959").unwrap());
        assert_eq!(
            store
                .create_person(&bob, authcore::store::OrganisationWrite::Insert(&org))
                .await
                .unwrap(),
            authcore::store::CreateOutcome::Created
        );
        let stored = store.organisation(ORG).await.unwrap().unwrap();
        assert_eq!(
            store
                .create_person(
                    &person(ALICE, "alice"),
                    authcore::store::OrganisationWrite::Replace {
                        organisation: &stored.value,
                        expected_version: stored.version,
                    },
                )
                .await
                .unwrap(),
            authcore::store::CreateOutcome::Created
        );
        let phone = authcore::credential::PhoneNumber::parse("+44 20 7946 0958").unwrap();
        assert!(store.set_phone(ALICE, Some(&phone)).await.unwrap());
        assert_eq!(
            store.person(ALICE).await.unwrap().unwrap().phone,
            Some(phone)
        );
        let alice = ALICE.get().to_be_bytes().to_vec();

        sqlx::query("UPDATE people SET phone = '+15005550006' WHERE id = $1")
            .bind(&alice)
            .execute(store.pool())
            .await
            .unwrap();
        let got = store.person(ALICE).await;
        assert!(
            matches!(
                got,
                Err(SqlStoreError::Open {
                    table: "people",
                    ..
                })
            ),
            "{got:?}"
        );
        let got = store.person_by_login("alice").await;
        assert!(
            matches!(
                got,
                Err(SqlStoreError::Open {
                    table: "people",
                    ..
                })
            ),
            "{got:?}"
        );
        sqlx::query(
            "UPDATE people SET phone = (SELECT phone FROM people WHERE id = $1), \
             phone_tag = (SELECT phone_tag FROM people WHERE id = $1) WHERE id = $2",
        )
        .bind(BOB.get().to_be_bytes().to_vec())
        .bind(&alice)
        .execute(store.pool())
        .await
        .unwrap();
        let got = store.person(ALICE).await;
        assert!(
            matches!(
                got,
                Err(SqlStoreError::Open {
                    table: "people",
                    ..
                })
            ),
            "{got:?}"
        );
        // Removing the number is not detected (a deletion); the person then has no phone.
        assert!(store.set_phone(ALICE, None).await.unwrap());
        assert_eq!(store.person(ALICE).await.unwrap().unwrap().phone, None);
        assert!(store.person(BOB).await.unwrap().unwrap().phone.is_some());
    }};
}
pub(crate) use altered_phone_numbers_are_refused;

/// A login name's password counter is stored under a keyed digest, never the name: counters
/// exist for names nobody holds too (a mistyped login, a password typed into the login field).
/// The same name under the same keyring finds its counter again.
macro_rules! login_names_are_not_stored {
    ($store:expr) => {{
        use authcore::UserStore as _;
        let store = $store;
        let policy = authcore::credential::ThrottlePolicy::default();
        let typed = authcore::store::Login::new("Correct-Horse-Battery-Staple").unwrap();
        let key = authcore::store::ThrottleKey::login(&typed);
        let reserved = store.reserve_attempt(&key, &policy, T0).await.unwrap();
        assert!(reserved.decision().is_allowed());
        let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM throttle_keys")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert!(keys[0].starts_with("login:"), "{keys:?}");
        assert!(
            !keys[0].to_lowercase().contains("horse"),
            "the name reached the store: {keys:?}"
        );
        assert_eq!(store.throttle(&key).await.unwrap().failures(), 1);
    }};
}
pub(crate) use login_names_are_not_stored;

/// A session row raised to AAL2, extended or moved to another epoch in the database: an error
/// when a store that has not checked it reads it, never a grant; a store that checked it before
/// answers with the session it checked, the altered columns ignored. A device token extended in
/// the database: an error.
macro_rules! altered_sessions_are_refused {
    ($store:expr, $keyring:expr) => {{
        use authcore::policy::{
            DeviceTokenRecord, SessionConfig, SessionId, SessionLabels, SessionRecord,
        };
        use authcore::store::SessionStore;
        let store = $store;
        let org = authcore::policy::Organisation::found(ORG, ALICE, T0).state;
        assert_eq!(
            store
                .create_person(
                    &person(ALICE, "alice"),
                    authcore::store::OrganisationWrite::Insert(&org)
                )
                .await
                .unwrap(),
            authcore::store::CreateOutcome::Created
        );
        let progress = authcore::policy::LoginProgress::password_verified(ALICE, ORG, T0);
        let grant = match authcore::policy::login_decision(
            &authcore::policy::Account::new(ALICE),
            org.member(ALICE),
            org.policy(),
            &progress,
            T0,
        ) {
            authcore::policy::LoginDecision::Allowed(grant) => grant,
            other => panic!("{other:?}"),
        };
        let config = SessionConfig::default();
        let session = SessionRecord::start(SessionId::new(1), &grant, 0, &config);
        let digest = authcore::BearerToken::generate().unwrap().digest();
        assert!(
            store
                .create_session(&digest, &session, &SessionLabels::new())
                .await
                .unwrap()
        );
        let checked = store.session(&digest).await.unwrap().unwrap();
        for forgery in [
            "UPDATE sessions SET aal = 2, factors = 3 WHERE digest = $1",
            "UPDATE sessions SET expires_at = expires_at + 1 WHERE digest = $1",
            "UPDATE sessions SET epoch = 5 WHERE digest = $1",
        ] {
            sqlx::query(forgery)
                .bind(digest.0.to_vec())
                .execute(store.pool())
                .await
                .unwrap();
            // Kept and checked before: the checked session, not the altered row.
            assert_eq!(
                store.session(&digest).await.unwrap().unwrap().session,
                checked.session,
                "{forgery}"
            );
            // Not checked before (another server, or this one started again): refused.
            let cold = authcore::SqlStore::from_pool(store.pool().clone(), $keyring);
            let got = cold.session(&digest).await;
            assert!(
                matches!(
                    got,
                    Err(SqlStoreError::Open {
                        table: "sessions",
                        ..
                    })
                ),
                "{forgery}: {got:?}"
            );
        }
        // A row gone is gone (no kept copy answers for it), and a row written again under the
        // digest (a new tag) is read whole and checked.
        sqlx::query("DELETE FROM sessions WHERE digest = $1")
            .bind(digest.0.to_vec())
            .execute(store.pool())
            .await
            .unwrap();
        assert!(store.session(&digest).await.unwrap().is_none());
        assert!(
            store
                .create_session(&digest, &session, &SessionLabels::new())
                .await
                .unwrap()
        );
        assert_eq!(
            store.session(&digest).await.unwrap().unwrap().session,
            session
        );
        let device = authcore::BearerToken::generate().unwrap().digest();
        let token = DeviceTokenRecord::issue(ALICE, 0, &config, T0);
        assert!(store.insert_device_token(&device, &token, 3).await.unwrap());
        assert!(store.device_token(&device).await.unwrap().is_some());
        sqlx::query("UPDATE device_tokens SET expires_at = expires_at + 86400 WHERE digest = $1")
            .bind(device.0.to_vec())
            .execute(store.pool())
            .await
            .unwrap();
        assert!(matches!(
            store.device_token(&device).await,
            Err(SqlStoreError::Open {
                table: "device_tokens",
                ..
            })
        ));
    }};
}
pub(crate) use altered_sessions_are_refused;
