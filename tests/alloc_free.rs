//! A counting global allocator shows that the hot paths allocate nothing: generating and verifying
//! codes, the authorisation check and the login decision.
#![allow(unsafe_code)] // implementing `GlobalAlloc` requires it; the library itself forbids it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use authcore::otp::{Algorithm, Digits, Hotp, LookAhead, SecretKey, Totp, TotpParams, Window};

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct CountingAllocator;

// SAFETY: delegates every call to the system allocator unchanged; only counts allocations made on
// the current thread.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn generate_and_verify_allocate_nothing() {
    // The sanity check that the counter works at all.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 10]))) >= 1);

    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let key = SecretKey::from_bytes(&[7u8; 100]).unwrap();
        let params = TotpParams::builder()
            .algorithm(algorithm)
            .digits(8)
            .build()
            .unwrap();
        let totp = Totp::new(params, &key);
        let hotp = Hotp::new(algorithm, Digits::Six, &key);
        let code = totp.generate(1_700_000_000).unwrap();
        let presented = code.expose_secret().to_owned();
        let window = Window::new(Window::MAX).unwrap();
        let count = allocations_during(|| {
            for now in [0u64, 59, 1_700_000_000, u64::MAX] {
                let generated = totp.generate(now);
                std::hint::black_box(&generated);
                let result = totp.verify(&presented, now, window, None);
                std::hint::black_box(&result);
                let result = totp.verify("not a code", now, window, Some(1));
                std::hint::black_box(&result);
            }
            let generated = hotp.generate(5);
            std::hint::black_box(&generated);
            let result = hotp.verify("123456", 0, LookAhead::new(LookAhead::MAX).unwrap());
            std::hint::black_box(&result);
        });
        assert_eq!(count, 0, "{algorithm}");
    }
}

mod policy {
    use super::allocations_during;
    use authcore::credential::FactorKind;
    use authcore::policy::{
        Account, LoginDecision, LoginProgress, MfaSettings, Organisation, Permission, Resource,
        Role, SecondFactors, authorize, login_decision,
    };
    use authcore::{OrgId, PersonId};

    const T0: u64 = 1_700_000_000;
    const OWNER: PersonId = PersonId::new(1);
    const ADMIN: PersonId = PersonId::new(2);
    const ORG: OrgId = OrgId::new(10);

    fn factors() -> SecondFactors {
        SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode)
    }

    fn grant_for(org: &Organisation, person: PersonId) -> authcore::Grant {
        let progress =
            LoginProgress::password_verified(person, ORG, T0).with_second_factor(FactorKind::Totp);
        match login_decision(
            &Account::new(person).factors(factors()),
            org.member(person),
            org.policy(),
            &progress,
            T0,
        ) {
            LoginDecision::Allowed(grant) => grant,
            other => panic!("not allowed: {other:?}"),
        }
    }

    #[test]
    fn authorize_and_login_decision_allocate_nothing() {
        let org = Organisation::found(ORG, OWNER, T0).state;
        let owner = grant_for(&org, OWNER);
        let org = org
            .set_mfa_policy(
                &owner,
                factors(),
                MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 7 * 86_400).unwrap(),
                T0,
            )
            .unwrap()
            .state;
        let org = org
            .add_member(&owner, ADMIN, Role::Admin, T0)
            .unwrap()
            .state;
        let grant = grant_for(&org, ADMIN);
        let member = *org.member(ADMIN).unwrap();
        let policy = *org.policy();
        let account = Account::new(ADMIN).factors(factors());
        let progress =
            LoginProgress::password_verified(ADMIN, ORG, T0).with_second_factor(FactorKind::Totp);
        let resource = Resource::of_org(ORG);
        let count = allocations_during(|| {
            let allowed = authorize(
                &grant,
                &member,
                &Permission::ManageBilling,
                &resource,
                T0 + 60,
            );
            std::hint::black_box(&allowed);
            let denied = authorize(
                &grant,
                &member,
                &Permission::ManageBilling,
                &Resource::of_org(OrgId::new(11)),
                T0 + 60,
            );
            std::hint::black_box(&denied);
            let decision = login_decision(&account, Some(&member), &policy, &progress, T0 + 60);
            std::hint::black_box(&decision);
        });
        assert_eq!(count, 0);
    }
}

/// The per-request session check on the memory store: parse the token, hash it, one read, the
/// decision. No heap allocation.
#[cfg(feature = "memory")]
mod session {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use authcore::credential::password::HashParams;
    use authcore::otp::ManualClock;
    use authcore::store::{MemoryAuditLog, RecordingNotifier};
    use authcore::{Authenticator, MemoryStore, Password, PasswordHasher, ServiceConfig, Services};

    use super::allocations_during;

    /// Polls a future that never waits (the memory store's, an inline hasher's) to its end.
    fn ready<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut context = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
        }
    }

    #[test]
    fn authenticate_on_the_memory_store_allocates_nothing() {
        let clock = Arc::new(ManualClock::new(1_700_000_010));
        let hasher = PasswordHasher::builder()
            .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
            .build()
            .unwrap();
        let services = Services {
            store: MemoryStore::new(),
            audit: MemoryAuditLog::new(),
            notifier: RecordingNotifier::new(),
            clock: Arc::clone(&clock),
            hasher,
        };
        let service = Authenticator::new(services, ServiceConfig::builder("T").build().unwrap());
        let pw = "correct horse battery staple 42";
        let up = ready(service.sign_up("a@example.com", Password::from(pw))).unwrap();
        let step = ready(service.login_to(up.org, "a@example.com", Password::from(pw))).unwrap();
        let opened = step.into_session().unwrap();
        let token = opened.token.expose_secret().to_string();
        let count = allocations_during(|| {
            for _ in 0..100 {
                let got = ready(service.authenticate(std::hint::black_box(&token)));
                std::hint::black_box(&got.unwrap());
            }
        });
        assert_eq!(count, 0);
        // The touch a minute later writes in place: still nothing on the heap.
        clock.advance(61);
        let count = allocations_during(|| {
            std::hint::black_box(&ready(service.authenticate(&token)).unwrap());
        });
        assert_eq!(count, 0);
    }
}
