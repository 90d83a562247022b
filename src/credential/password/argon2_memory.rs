//! The working memory of argon2 evaluations: wiped after every evaluation and, with `std`, kept
//! for the next one.
//!
//! An argon2 evaluation fills `m_cost` KiB with blocks derived from the password (or recovery
//! code), the salt and the pepper. The `argon2` crate frees the memory it allocates itself without
//! wiping it, and the first block of a finished evaluation is enough to test guesses at the cost of
//! a few BLAKE2b calls each, skipping the memory-hard work the parameters were chosen for. Every
//! argon2 evaluation in this crate therefore goes through [`hash_into`], which:
//!
//! - runs argon2 on memory it owns and wipes every block the evaluation used before returning,
//!   whatever the outcome (the wipe is in a `Drop`, so it also runs while unwinding);
//! - with `std`, keeps wiped buffers for later evaluations, up to [`MAX_IDLE_BYTES`] in all (three
//!   buffers of the default 19 MiB), so a login neither allocates nor page-faults its 19 MiB
//!   afresh. An idle buffer holds only zeros.
//!
//! Without `std` each evaluation allocates its memory and wipes it before freeing it.

use alloc::vec::Vec;

use argon2::{Argon2, Block};
use zeroize::Zeroize;

/// The most memory, in bytes, kept idle for later evaluations.
#[cfg(feature = "std")]
pub(crate) const MAX_IDLE_BYTES: usize = 64 << 20;

/// Wiped buffers waiting for the next evaluation.
#[cfg(feature = "std")]
static IDLE: std::sync::Mutex<Vec<Vec<Block>>> = std::sync::Mutex::new(Vec::new());

/// argon2 over `pwd` and `salt` into `out` (whose length is the output length), with the
/// parameters, algorithm, version and secret of `argon2`, on memory that is wiped afterwards.
pub(crate) fn hash_into(
    argon2: &Argon2<'_>,
    pwd: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = argon2.params().block_count();
    let mut lease = Lease::take(blocks)?;
    argon2.hash_password_into_with_memory(pwd, salt, out, lease.blocks())
}

/// A buffer of at least the blocks one evaluation needs; wipes the blocks it lent out on drop
/// and hands the buffer back to the idle pool.
struct Lease {
    memory: Vec<Block>,
    used: usize,
}

impl Lease {
    fn take(used: usize) -> Result<Self, argon2::Error> {
        let memory = match reuse(used) {
            Some(memory) => memory,
            None => {
                let mut memory = Vec::new();
                memory
                    .try_reserve_exact(used)
                    .map_err(|_| argon2::Error::OutOfMemory)?;
                memory.resize(used, Block::default());
                memory
            }
        };
        Ok(Self { memory, used })
    }

    fn blocks(&mut self) -> &mut [Block] {
        let used = self.used.min(self.memory.len());
        self.memory.get_mut(..used).unwrap_or_default()
    }

    fn wipe(&mut self) {
        for block in self.blocks() {
            block.zeroize();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.wipe();
        give_back(core::mem::take(&mut self.memory));
    }
}

/// The smallest idle buffer of at least `blocks` blocks, if there is one.
#[cfg(feature = "std")]
fn reuse(blocks: usize) -> Option<Vec<Block>> {
    let mut idle = IDLE.lock().ok()?;
    let (index, _) = idle
        .iter()
        .enumerate()
        .filter(|(_, memory)| memory.len() >= blocks)
        .min_by_key(|(_, memory)| memory.len())?;
    Some(idle.swap_remove(index))
}

#[cfg(not(feature = "std"))]
fn reuse(_blocks: usize) -> Option<Vec<Block>> {
    None
}

/// Keeps a wiped buffer for later evaluations while the pool has room; frees it otherwise.
#[cfg(feature = "std")]
fn give_back(memory: Vec<Block>) {
    if let Ok(mut idle) = IDLE.lock() {
        let held: usize = idle.iter().map(|m| bytes(m)).sum();
        if held.saturating_add(bytes(&memory)) <= MAX_IDLE_BYTES {
            idle.push(memory);
        }
    }
}

#[cfg(not(feature = "std"))]
fn give_back(_memory: Vec<Block>) {}

#[cfg(feature = "std")]
fn bytes(memory: &[Block]) -> usize {
    memory.len().saturating_mul(Block::SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{Algorithm, Params, Version};

    fn argon2(m_kib: u32) -> Argon2<'static> {
        let params = Params::new(m_kib, 1, 1, Some(32)).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    #[test]
    fn matches_the_argon2_crate() {
        for m_kib in [8, 64, 1024] {
            let argon2 = argon2(m_kib);
            let mut ours = [0u8; 32];
            let mut theirs = [0u8; 32];
            hash_into(&argon2, b"password", b"somesalt", &mut ours).unwrap();
            argon2
                .hash_password_into(b"password", b"somesalt", &mut theirs)
                .unwrap();
            assert_eq!(ours, theirs, "m = {m_kib} KiB");
        }
    }

    #[test]
    fn a_larger_reused_buffer_gives_the_same_output() {
        let mut first = [0u8; 32];
        let mut again = [0u8; 32];
        hash_into(&argon2(8), b"pw", b"saltsalt", &mut first).unwrap();
        // Evaluations with more memory leave larger buffers behind; a small evaluation may get
        // one of them and must use only the blocks it needs.
        hash_into(&argon2(4096), b"pw", b"saltsalt", &mut [0u8; 32]).unwrap();
        hash_into(&argon2(8), b"pw", b"saltsalt", &mut again).unwrap();
        assert_eq!(first, again);
    }

    #[test]
    fn the_wipe_leaves_only_zeros() {
        let mut lease = Lease::take(16).unwrap();
        argon2(16)
            .fill_memory(b"password", b"somesalt", lease.blocks())
            .unwrap();
        assert!(
            lease
                .blocks()
                .iter()
                .any(|b| b.as_ref().iter().any(|&w| w != 0))
        );
        lease.wipe();
        assert!(
            lease
                .memory
                .iter()
                .all(|b| b.as_ref().iter().all(|&w| w == 0))
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn idle_buffers_are_zero_and_bounded() {
        for _ in 0..8 {
            hash_into(&argon2(1024), b"password", b"somesalt", &mut [0u8; 32]).unwrap();
        }
        let idle = IDLE.lock().unwrap();
        assert!(idle.iter().map(|m| bytes(m)).sum::<usize>() <= MAX_IDLE_BYTES);
        assert!(!idle.is_empty());
        for memory in idle.iter() {
            assert!(memory.iter().all(|b| b.as_ref().iter().all(|&w| w == 0)));
        }
    }

    #[test]
    fn too_little_memory_for_the_output_is_an_error_not_a_panic() {
        // An output buffer argon2 refuses: the error comes back and the lease is still wiped.
        let err = hash_into(&argon2(8), b"pw", b"saltsalt", &mut [0u8; 2]);
        assert_eq!(err, Err(argon2::Error::OutputTooShort));
    }

    #[cfg(feature = "std")]
    #[test]
    fn an_idle_buffer_is_lent_again() {
        // Every argon2 evaluation needs at least 8 blocks (m >= 8 KiB), so no other test takes a
        // buffer of 3: the one put in the pool here is the one lent back.
        IDLE.lock().unwrap().push(alloc::vec![Block::default(); 3]);
        let lent = reuse(3).unwrap();
        assert_eq!(lent.len(), 3);
    }

    #[cfg(feature = "std")]
    #[test]
    fn a_buffer_larger_than_the_pool_is_freed() {
        let blocks = MAX_IDLE_BYTES / Block::SIZE + 1;
        assert_eq!(
            bytes(&[Block::default(), Block::default()]),
            2 * Block::SIZE
        );
        give_back(alloc::vec![Block::default(); blocks]);
        let idle = IDLE.lock().unwrap();
        assert!(idle.iter().all(|memory| memory.len() < blocks));
        let held: usize = idle.iter().map(|m| m.len() * Block::SIZE).sum();
        assert!(held <= MAX_IDLE_BYTES, "{held} bytes idle");
    }
}
