//! A counting global allocator shows that generating and verifying codes allocate nothing.
#![allow(unsafe_code)] // implementing `GlobalAlloc` requires it; the library itself forbids it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use authcore::{Algorithm, Digits, Hotp, LookAhead, SecretKey, Totp, TotpParams, Window};

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
