//! The HOTP value (RFC 4226 §5.3) of a counter, and batched scans over ranges of counters: the
//! piece that both [`hotp`](super::hotp) and [`totp`](super::totp) (whose time step is an RFC
//! 4226 counter) compute with.

use zeroize::Zeroize;

use crate::otp::code::Digits;
use crate::otp::mac::{BATCH, BlockBuffers, BlockFunction, Keyed, dynamic_truncate};

/// Calls `visit(counter, code)` for every counter of `first..=last`, in order.
///
/// HMACs are computed in batches (see [`Keyed::mac_counters`]); the intermediate states, which
/// derive from the key, are wiped once at the end.
#[inline(always)]
pub(crate) fn scan_codes<H: BlockFunction>(
    keyed: &Keyed<H>,
    digits: Digits,
    first: u64,
    last: u64,
    mut visit: impl FnMut(u64, u32),
) {
    let mut states = [H::IV; BATCH];
    let mut buffers = BlockBuffers::new();
    let mut used = 0usize;
    let mut start = first;
    loop {
        let remaining = last.saturating_sub(start).saturating_add(1);
        let count = usize::try_from(remaining).map_or(BATCH, |r| r.min(BATCH));
        used = used.max(count);
        if let Some(batch) = states.get_mut(..count) {
            keyed.mac_counters(start, batch, &mut buffers);
            let mut counter = start;
            for state in batch.iter() {
                visit(
                    counter,
                    digits.reduce(dynamic_truncate(&H::truncation_input(state))),
                );
                counter = counter.wrapping_add(1);
            }
        }
        match start.checked_add(count as u64) {
            Some(next) if next <= last => start = next,
            _ => break,
        }
    }
    for state in states.iter_mut().take(used) {
        state.zeroize();
    }
}

/// The code for one counter.
pub(crate) fn code_at<H: BlockFunction>(keyed: &Keyed<H>, counter: u64, digits: Digits) -> u32 {
    let mut code = 0;
    scan_codes(keyed, digits, counter, counter, |_, value| code = value);
    code
}
