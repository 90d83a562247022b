//! Differential test of the hand-written HMAC against the `hmac` crate.
//!
//! Random keys (empty, shorter than a block, exactly a block, longer than a block so the key is
//! hashed first) and random messages, for SHA-1, SHA-256 and SHA-512. Three paths are compared:
//! the generic message MAC, the single-counter MAC and the batched counter MAC that verification
//! runs on the hot path.

use alloc::vec::Vec;

use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;

use super::*;

fn reference<D>(key: &[u8], message: &[u8]) -> Vec<u8>
where
    Hmac<D>: KeyInit + Mac,
    D: hmac::EagerHash,
{
    let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn counter_digest<H: BlockFunction>(keyed: &Keyed<H>, counter: u64) -> Vec<u8> {
    let mut out = alloc::vec![0u8; H::OUTPUT_LEN];
    H::write_digest(&keyed.mac_counter(counter), &mut out);
    out
}

/// Every counter of one `mac_counters` batch of `len` consecutive counters.
fn batch_digests<H: BlockFunction>(keyed: &Keyed<H>, first: u64, len: usize) -> Vec<Vec<u8>> {
    let mut states = [H::IV; BATCH];
    let states = &mut states[..len];
    keyed.mac_counters(first, states, &mut BlockBuffers::new());
    states
        .iter()
        .map(|state| {
            let mut out = alloc::vec![0u8; H::OUTPUT_LEN];
            H::write_digest(state, &mut out);
            out
        })
        .collect()
}

/// Compares all three paths of `H` against the `hmac` crate over digest `D`.
fn compare<H: BlockFunction, D>(key: &[u8], message: &[u8], counter: u64, batch: usize)
where
    Hmac<D>: KeyInit + Mac,
    D: hmac::EagerHash,
{
    let keyed = Keyed::<H>::new(key);
    assert_eq!(keyed.mac(message), reference::<D>(key, message), "message");
    assert_eq!(
        counter_digest(&keyed, counter),
        reference::<D>(key, &counter.to_be_bytes()),
        "counter {counter}"
    );
    for (offset, digest) in (0u64..).zip(batch_digests(&keyed, counter, batch)) {
        let this = counter.wrapping_add(offset);
        assert_eq!(
            digest,
            reference::<D>(key, &this.to_be_bytes()),
            "batch from {counter}, counter {this}"
        );
    }
}

/// Keys around the block sizes of both block functions (64 and 128 bytes), and anything else.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 1..64),
        prop::collection::vec(any::<u8>(), 63..=65),
        prop::collection::vec(any::<u8>(), 127..=129),
        prop::collection::vec(any::<u8>(), 130..400),
    ]
}

/// Messages around one and two blocks, where the padding spills into an extra block.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..16),
        prop::collection::vec(any::<u8>(), 50..=70),
        prop::collection::vec(any::<u8>(), 108..=140),
        prop::collection::vec(any::<u8>(), 0..600),
    ]
}

fn counter() -> impl Strategy<Value = u64> {
    prop_oneof![any::<u64>(), 0u64..16, (u64::MAX - 8)..=u64::MAX,]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sha1_matches_hmac_crate(
        key in key(), message in message(), counter in counter(), batch in 1..=BATCH,
    ) {
        compare::<Sha1Block, sha1::Sha1>(&key, &message, counter, batch);
    }

    #[test]
    fn sha256_matches_hmac_crate(
        key in key(), message in message(), counter in counter(), batch in 1..=BATCH,
    ) {
        compare::<Sha256Block, sha2::Sha256>(&key, &message, counter, batch);
    }

    #[test]
    fn sha512_matches_hmac_crate(
        key in key(), message in message(), counter in counter(), batch in 1..=BATCH,
    ) {
        compare::<Sha512Block, sha2::Sha512>(&key, &message, counter, batch);
    }
}

/// Every key length from empty to past the larger block, so no boundary is left to chance.
#[test]
fn every_key_length_up_to_two_blocks_matches_hmac_crate() {
    for len in 0..=260usize {
        let key: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(31) ^ len) as u8).collect();
        let message: Vec<u8> = (0..len % 150).map(|i| i as u8).collect();
        compare::<Sha1Block, sha1::Sha1>(&key, &message, len as u64, 1 + len % BATCH);
        compare::<Sha256Block, sha2::Sha256>(&key, &message, len as u64, 1 + len % BATCH);
        compare::<Sha512Block, sha2::Sha512>(&key, &message, len as u64, 1 + len % BATCH);
    }
}

/// The enum the verifiers build holds the same keyed states as the generic type.
#[test]
fn keyed_mac_for_each_algorithm_matches_hmac_crate() {
    let key = [0x5au8; 100];
    let counter = 0x0102_0304_0506_0708u64;
    let expected = [
        reference::<sha1::Sha1>(&key, &counter.to_be_bytes()),
        reference::<sha2::Sha256>(&key, &counter.to_be_bytes()),
        reference::<sha2::Sha512>(&key, &counter.to_be_bytes()),
    ];
    for (algorithm, expected) in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
        .into_iter()
        .zip(expected)
    {
        let got = match KeyedMac::new(algorithm, &key) {
            KeyedMac::Sha1(keyed) => counter_digest(&keyed, counter),
            KeyedMac::Sha256(keyed) => counter_digest(&keyed, counter),
            KeyedMac::Sha512(keyed) => counter_digest(&keyed, counter),
        };
        assert_eq!(got, expected, "{algorithm:?}");
    }
}
