//! Rows read back from a SQL database that someone may have corrupted or written to without the
//! keys: a person's sealed MFA state (both sealed columns), a pending-login ticket (its step
//! name and its progress JSON) and a recovery-code set. Reading any tampered row through the
//! store gives a typed error or a value that keeps its invariants, never a panic; a changed
//! sealed state never opens; an untouched row reads back exactly as written.
//!
//! One SQLite database is set up once per process (a person with an active authenticator app
//! and recovery codes, enrolled through the service); each input tampers with one row, reads it
//! back, and restores it.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use authcore::{
    Authenticator, AuthenticatorName, Clock, EnrollmentPurpose, Factor, HashParams, KeyId, Keyring,
    LoginProgress, LoginStep, ManualClock, MemoryAuditLog, OrgId, Password, PasswordHasher,
    PendingStep, PersonId, RecordingNotifier, RecoveryParams, RecoverySlot, SealingKey, SecretKey,
    SecretStore, ServiceConfig, Services, SqliteStore, TicketRecord, TokenDigest, Totp, TotpParams,
};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: SqliteStore,
    person: PersonId,
    org: OrgId,
    now: u64,
    mfa: (Vec<u8>, Vec<u8>),
    recovery: Vec<u8>,
}

const PASSWORD: &str = "correct horse battery staple 42";

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let path = std::env::temp_dir().join(format!("authcore-fuzz-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let keyring = Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7u8; 32]).unwrap());
        let clock = Arc::new(ManualClock::new(1_700_000_010));
        let (store, person, org) = runtime.block_on(async {
            let store = SqliteStore::open(&path, keyring).await.unwrap();
            let services = Services {
                users: store.clone(),
                secrets: store.clone(),
                clock: Arc::clone(&clock),
                audit: MemoryAuditLog::new(),
                notifier: RecordingNotifier::new(),
                hasher: PasswordHasher::builder()
                    .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
                    .build()
                    .unwrap(),
            };
            let config = ServiceConfig::builder("Example")
                .recovery(
                    RecoveryParams::builder()
                        .dangerous_argon2(64, 1, 1)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            let service = Authenticator::new(services, config);
            let up = service
                .sign_up("owner@example.com", Password::from(PASSWORD))
                .await
                .unwrap();
            let step = service
                .login(up.org, "owner@example.com", Password::from(PASSWORD))
                .await
                .unwrap();
            let LoginStep::Granted(grant) = step else {
                panic!("a password-only owner is signed in");
            };
            let setup = service
                .start_enrollment(
                    &grant,
                    EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
                )
                .await
                .unwrap();
            let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
            let code = Totp::new(TotpParams::builder().build().unwrap(), &key)
                .generate(clock.now())
                .unwrap();
            service
                .confirm_enrollment(&grant, code.expose_secret())
                .await
                .unwrap();
            service.acknowledge_enrollment(&grant).await.unwrap();
            (store, up.person, up.org)
        });
        let (mfa, recovery) = runtime.block_on(async {
            let row: (Vec<u8>, Vec<u8>) = sqlx::query_as("SELECT state_key, state FROM mfa")
                .fetch_one(store.pool())
                .await
                .unwrap();
            let (stored,): (Vec<u8>,) =
                sqlx::query_as("SELECT stored FROM recovery_sets WHERE slot = 'active'")
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            (row, stored)
        });
        Fixture {
            runtime,
            store,
            person,
            org,
            now: clock.now(),
            mfa,
            recovery,
        }
    })
}

#[derive(Arbitrary, Debug)]
enum Tamper {
    /// Bit flips at chosen offsets of a sealed MFA column (`false`: the key, `true`: the state).
    MfaFlips { state: bool, flips: Vec<(u16, u8)> },
    /// A sealed MFA column replaced outright.
    MfaBytes { state: bool, bytes: Vec<u8> },
    /// The ticket's step name and progress JSON replaced.
    Ticket { step: String, progress: String },
    /// Byte changes in the ticket's genuine progress JSON.
    TicketFlips { flips: Vec<(u16, u8)> },
    /// Bit flips in the stored recovery set.
    RecoveryFlips { flips: Vec<(u16, u8)> },
}

fn flipped(original: &[u8], flips: &[(u16, u8)]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    if !bytes.is_empty() {
        for &(at, mask) in flips {
            let len = bytes.len();
            bytes[usize::from(at) % len] ^= mask;
        }
    }
    bytes
}

fuzz_target!(|tamper: Tamper| {
    let f = fixture();
    f.runtime.block_on(async {
        let pool = f.store.pool();
        match tamper {
            Tamper::MfaFlips { state, flips } => {
                let original = if state { &f.mfa.1 } else { &f.mfa.0 };
                check_mfa(f, state, flipped(original, &flips)).await;
            }
            Tamper::MfaBytes { state, bytes } => check_mfa(f, state, bytes).await,
            Tamper::Ticket { step, progress } => check_ticket(f, Some(step), progress).await,
            Tamper::TicketFlips { flips } => {
                let genuine = serde_json::to_string(&genuine_progress(f)).unwrap();
                let bytes = flipped(genuine.as_bytes(), &flips);
                let Ok(text) = String::from_utf8(bytes) else {
                    return;
                };
                check_ticket(f, None, text).await;
            }
            Tamper::RecoveryFlips { flips } => {
                let bytes = flipped(&f.recovery, &flips);
                sqlx::query("UPDATE recovery_sets SET stored = $1 WHERE slot = 'active'")
                    .bind(&bytes)
                    .execute(pool)
                    .await
                    .unwrap();
                let read = f.store.recovery_codes(f.person, RecoverySlot::Active).await;
                if bytes == f.recovery {
                    assert!(matches!(read, Ok(Some(_))), "an untouched set reads back");
                }
                sqlx::query("UPDATE recovery_sets SET stored = $1 WHERE slot = 'active'")
                    .bind(&f.recovery)
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    });
});

async fn check_mfa(f: &Fixture, state: bool, bytes: Vec<u8>) {
    let pool = f.store.pool();
    let column = if state { "state" } else { "state_key" };
    let original = if state { &f.mfa.1 } else { &f.mfa.0 };
    sqlx::query(&format!("UPDATE mfa SET {column} = $1"))
        .bind(&bytes)
        .execute(pool)
        .await
        .unwrap();
    let read = f.store.mfa(f.person).await;
    if &bytes == original {
        assert!(
            matches!(read, Ok(Some(_))),
            "an untouched sealed state opens"
        );
    } else {
        assert!(read.is_err(), "a tampered sealed state opened");
    }
    sqlx::query(&format!("UPDATE mfa SET {column} = $1"))
        .bind(original)
        .execute(pool)
        .await
        .unwrap();
}

fn genuine_progress(f: &Fixture) -> LoginProgress {
    LoginProgress::password_verified(f.person, f.org, f.now)
}

/// Stores a genuine ticket, overwrites its step and progress, and takes it back.
async fn check_ticket(f: &Fixture, step: Option<String>, progress: String) {
    let record = TicketRecord {
        digest: TokenDigest([0x42; 32]),
        step: PendingStep::SecondFactor,
        progress: genuine_progress(f),
        expires_at: f.now + 600,
    };
    f.store.insert_ticket(&record).await.unwrap();
    let genuine_json = serde_json::to_string(&record.progress).unwrap();
    let untouched = step.is_none() && progress == genuine_json;
    let pool = f.store.pool();
    match &step {
        Some(step) => sqlx::query("UPDATE tickets SET step = $1, progress = $2")
            .bind(step)
            .bind(&progress),
        None => sqlx::query("UPDATE tickets SET progress = $1").bind(&progress),
    }
    .execute(pool)
    .await
    .unwrap();
    let taken = f.store.take_ticket(&record.digest, f.now).await;
    match taken {
        Ok(Some(taken)) => {
            // Whatever decodes is a well-formed progress: the password is always in it.
            assert!(taken.progress.factors().contains(Factor::Password));
            if untouched {
                assert_eq!(taken, record, "an untouched ticket reads back");
            }
        }
        Ok(None) => panic!("the ticket row vanished"),
        Err(_) => assert!(!untouched, "an untouched ticket failed to decode"),
    }
    // Taking spends it; make sure nothing is left for the next input.
    let _ = sqlx::query("DELETE FROM tickets").execute(pool).await;
}
