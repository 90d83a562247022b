//! Rows read back from a SQLite database that someone without the sealing key can write: every
//! authenticated column of every tagged or sealed row (ticket progress, setup tokens, recovery
//! sets, the sealed MFA state and its watermarks, out-of-band challenges, organisations, phone
//! numbers) is replaced or bit-flipped by the input, and the store's read verb must return an
//! error — never a panic, never a value from the altered row. Needs the `sqlite` feature of
//! authcore in fuzz/Cargo.toml.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use authcore::credential::{
    KeyId, Keyring, OobConfig, OobIssue, OobKey, OobSendLog, PhoneNumber, RecoveryCodeSet,
    RecoveryParams, SealingKey,
};
use authcore::otp::Totp;
use authcore::policy::{
    AuthenticatorName, EnrollmentConfig, EnrollmentPurpose, LoginProgress, Mfa, Organisation,
    PasswordState,
};
use authcore::store::{
    Login, OobChallengeRecord, OobPurpose, OrganisationWrite, PendingStep, PersonRecord,
    RecoverySlot, SetupTokenRecord, TicketRecord, TokenDigest,
};
use authcore::{OrgId, PersonId, SecretStore, SqliteStore, UserStore};
use libfuzzer_sys::fuzz_target;
use sqlx::Row;

const T0: u64 = 1_700_000_010;
const ALICE: PersonId = PersonId::new(1);
const ORG: OrgId = OrgId::new(100);
const TICKET: TokenDigest = TokenDigest([2; 32]);
const TOKEN: TokenDigest = TokenDigest([1; 32]);

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Blob,
    Text,
    Int,
}

/// Every authenticated column: (table, column, kind).
const COLUMNS: &[(&str, &str, Kind)] = &[
    ("tickets", "step", Kind::Text),
    ("tickets", "progress", Kind::Text),
    ("tickets", "expires_at", Kind::Int),
    ("tickets", "tag", Kind::Blob),
    ("setup_tokens", "person", Kind::Blob),
    ("setup_tokens", "org", Kind::Blob),
    ("setup_tokens", "expires_at", Kind::Int),
    ("setup_tokens", "tag", Kind::Blob),
    ("recovery_sets", "set_id", Kind::Blob),
    ("recovery_sets", "codes", Kind::Int),
    ("recovery_sets", "stored", Kind::Blob),
    ("recovery_sets", "tag", Kind::Blob),
    ("mfa", "state_key", Kind::Blob),
    ("mfa", "state", Kind::Blob),
    ("mfa", "version", Kind::Int),
    ("authenticator_watermarks", "last_step", Kind::Int),
    ("authenticator_watermarks", "tag", Kind::Blob),
    ("oob_challenges", "destination", Kind::Text),
    ("oob_challenges", "challenge", Kind::Blob),
    ("oob_challenges", "tag", Kind::Blob),
    ("organisations", "state", Kind::Text),
    ("organisations", "version", Kind::Int),
    ("organisations", "tag", Kind::Blob),
    ("people", "phone", Kind::Text),
    ("people", "phone_tag", Kind::Blob),
];

const TABLES: &[&str] = &[
    "tickets",
    "setup_tokens",
    "recovery_sets",
    "mfa",
    "authenticator_watermarks",
    "oob_challenges",
    "organisations",
    "people",
];

#[derive(Arbitrary, Debug)]
enum Change {
    Bytes(Vec<u8>),
    Text(String),
    Int(i64),
    Flip(u16),
}

#[derive(Arbitrary, Debug)]
struct Input {
    column: u8,
    change: Change,
}

enum Value {
    Blob(Vec<u8>),
    Text(String),
    Int(i64),
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: SqliteStore,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let store = runtime.block_on(setup());
        Fixture { runtime, store }
    })
}

/// One genuine row of every kind, written through the store, and a copy of every table.
async fn setup() -> SqliteStore {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("database");
    let keyring = Keyring::new(
        KeyId::new(1),
        SealingKey::from_bytes(&[7; 32]).expect("key"),
    );
    let store = SqliteStore::from_pool(pool, keyring);
    store.migrate().await.expect("migrate");

    let phone = PhoneNumber::parse("+44 20 7946 0958").expect("phone");
    let person = PersonRecord {
        id: ALICE,
        login: Login::new("alice").expect("login"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        password_state: PasswordState::Current,
        password_expires_at: None,
        deactivated: false,
        address_verified_at: None,
        phone: Some(phone.clone()),
        created_at: T0,
    };
    let org = Organisation::found(ORG, ALICE, T0).state;
    let created = store
        .create_person(&person, OrganisationWrite::Insert(&org))
        .await
        .expect("person");
    assert_eq!(created, authcore::store::CreateOutcome::Created);

    let config = EnrollmentConfig::default();
    let started = Mfa::new(ALICE)
        .start_enrollment_with_os_rng(
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").expect("name")),
            None,
            &config,
            T0,
        )
        .expect("start")
        .state;
    let secret = started.enrollment().expect("enrollment").expose_secret();
    let code = Totp::new(config.params(), secret)
        .generate(T0)
        .expect("code");
    let mfa = started
        .confirm_enrollment(code.expose_secret(), &config, T0)
        .expect("confirm")
        .state
        .recovery_codes_issued(&config, T0)
        .expect("issued")
        .state
        .acknowledge_recovery_codes(&config, T0)
        .expect("acknowledged")
        .state;
    store.replace_mfa(ALICE, &mfa, None).await.expect("mfa");

    let params = RecoveryParams::builder()
        .count(10)
        .dangerous_argon2(8, 1, 1)
        .build()
        .expect("params");
    let codes = RecoveryCodeSet::generate(&params).expect("codes");
    store
        .replace_recovery_codes(ALICE, RecoverySlot::Active, Some(&codes.set))
        .await
        .expect("recovery");

    let key = OobKey::from_bytes(&[9; 32]).expect("oob key");
    let OobIssue::Send { challenge, .. } = OobConfig::default()
        .issue_with_os_rng(&key, &OobSendLog::new(), T0)
        .expect("issue")
    else {
        panic!("no challenge");
    };
    let record = OobChallengeRecord {
        destination: phone,
        challenge,
    };
    store
        .replace_oob_challenge(ALICE, OobPurpose::SignIn, None, Some(&record))
        .await
        .expect("challenge");
    store
        .insert_setup_token(&SetupTokenRecord {
            digest: TOKEN,
            person: ALICE,
            org: ORG,
            expires_at: T0 + 100,
        })
        .await
        .expect("token");
    store
        .insert_ticket(&TicketRecord {
            digest: TICKET,
            step: PendingStep::SecondFactor,
            progress: LoginProgress::password_verified(ALICE, ORG, T0),
            expires_at: T0 + 300,
        })
        .await
        .expect("ticket");
    for table in TABLES {
        sqlx::query(&format!(
            "CREATE TABLE backup_{table} AS SELECT * FROM {table}"
        ))
        .execute(store.pool())
        .await
        .expect("backup");
    }
    // Every genuine row reads back.
    assert!(read(&store, "tickets").await);
    restore(&store, "tickets").await;
    assert!(read(&store, "setup_tokens").await);
    restore(&store, "setup_tokens").await;
    for table in &TABLES[2..] {
        assert!(read(&store, table).await, "{table}");
    }
    store
}

async fn restore(store: &SqliteStore, table: &str) {
    for sql in [
        format!("DELETE FROM {table}"),
        format!("INSERT INTO {table} SELECT * FROM backup_{table}"),
    ] {
        sqlx::query(&sql)
            .execute(store.pool())
            .await
            .expect("restore");
    }
}

/// Reads the row of `table` through the store: `true` if it read back as a value.
async fn read(store: &SqliteStore, table: &str) -> bool {
    match table {
        "tickets" => store
            .take_ticket(&TICKET, T0)
            .await
            .is_ok_and(|t| t.is_some()),
        "setup_tokens" => store
            .take_setup_token(&TOKEN, T0)
            .await
            .is_ok_and(|t| t.is_some()),
        "recovery_sets" => store
            .recovery_codes(ALICE, RecoverySlot::Active)
            .await
            .is_ok_and(|s| s.is_some()),
        "mfa" | "authenticator_watermarks" => store.mfa(ALICE).await.is_ok_and(|m| m.is_some()),
        "oob_challenges" => store
            .oob_challenge(ALICE, OobPurpose::SignIn)
            .await
            .is_ok_and(|c| c.is_some()),
        "organisations" => store.organisation(ORG).await.is_ok_and(|o| o.is_some()),
        "people" => store.person(ALICE).await.is_ok_and(|p| p.is_some()),
        _ => unreachable!("unknown table"),
    }
}

async fn original(store: &SqliteStore, table: &str, column: &str, kind: Kind) -> Value {
    let row = sqlx::query(&format!("SELECT {column} FROM backup_{table}"))
        .fetch_one(store.pool())
        .await
        .expect("original");
    match kind {
        Kind::Blob => Value::Blob(row.try_get(0).expect("blob")),
        Kind::Text => Value::Text(row.try_get(0).expect("text")),
        Kind::Int => Value::Int(row.try_get(0).expect("int")),
    }
}

fn flip_blob(bytes: &[u8], bit: u16) -> Option<Value> {
    let mut bytes = bytes.to_vec();
    let len = bytes.len();
    let index = usize::from(bit / 8) % len;
    bytes[index] ^= 1 << (bit % 8);
    Some(Value::Blob(bytes))
}

fuzz_target!(|input: Input| {
    let fx = fixture();
    let (table, column, kind) = COLUMNS[usize::from(input.column) % COLUMNS.len()];
    fx.runtime.block_on(async {
        let store = &fx.store;
        let original = original(store, table, column, kind).await;
        let value = match (&original, input.change) {
            (Value::Blob(b), Change::Bytes(new)) => (new != *b).then(|| Value::Blob(new)),
            (Value::Text(t), Change::Text(new)) => (new != *t).then(|| Value::Text(new)),
            (Value::Int(i), Change::Int(new)) => (new != *i).then(|| Value::Int(new)),
            (Value::Blob(b), Change::Flip(bit)) if !b.is_empty() => flip_blob(b, bit),
            (Value::Text(t), Change::Flip(bit)) if !t.is_empty() => flip_blob(t.as_bytes(), bit),
            (Value::Int(i), Change::Flip(bit)) => Some(Value::Int(i ^ (1 << (bit % 64)))),
            _ => None,
        };
        let Some(value) = value else {
            return;
        };
        let sql = format!("UPDATE {table} SET {column} = $1");
        let query = sqlx::query(&sql);
        let query = match value {
            Value::Blob(b) => query.bind(b),
            Value::Text(t) => query.bind(t),
            Value::Int(i) => query.bind(i),
        };
        // A constraint (a primary key, a CHECK) may refuse the change: nothing to read then.
        if query.execute(store.pool()).await.is_ok() {
            assert!(
                !read(store, table).await,
                "an altered {table}.{column} read back as a value"
            );
        }
        restore(store, table).await;
    });
});
