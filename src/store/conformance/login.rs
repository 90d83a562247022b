//! The contracts of [`LoginStore`]: the one-statement snapshot, the guarded all-or-nothing
//! commit, and the locked step, races included.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::fixture::Fixture;
use super::harness::{Checked, Fail, exactly_one, fail, race};
use super::{RACE_CONTENDERS, Spawner, THROTTLE_CONTENDERS};
use crate::credential::factor::ThrottledFactor;
use crate::credential::throttle::{ThrottleDecision, ThrottlePolicy, ThrottleState};
use crate::policy::login::LoginProgress;
use crate::store::login::{CounterWrite, LoginStore, NextTicket, SnapshotAt, StepWrite};
use crate::store::records::{Login, PendingStep, RecoverySlot, ThrottleKey, TicketRecord};

/// A person with an organisation, an enrolled authenticator, an active recovery set, a TOTP
/// counter with one failure, and a live second-factor ticket.
struct Setup {
    person: crate::store::records::PersonRecord,
    org: crate::policy::organisation::Organisation,
    ticket: crate::store::records::TicketRecord,
    authenticator: crate::policy::ids::AuthenticatorId,
    start: u64,
    set_id: [u8; 16],
}

async fn setup<S: LoginStore + 'static>(fx: &Fixture<'_, S>) -> Result<Setup, Fail> {
    let s = &*fx.store;
    let (person, org) = fx.founder().await?;
    let mfa = fx.enrolled(person.id)?;
    let (authenticator, start) = mfa
        .authenticators()
        .first()
        .map(|a| (a.id(), a.last_accepted_step()))
        .ok_or_else(|| fail("no authenticator".into()))?;
    ensure!(
        s.replace_mfa(person.id, &mfa, None).await?,
        "storing the MFA state"
    );
    ensure!(
        s.advance_watermark(person.id, authenticator, start.saturating_add(2))
            .await?,
        "advancing the watermark"
    );
    let set = fx.recovery_set()?;
    s.replace_recovery_codes(person.id, RecoverySlot::Active, Some(&set))
        .await?;
    ensure!(
        s.spend_recovery_code(person.id, set.set_id(), 1).await?,
        "spending slot 1"
    );
    let policy = ThrottlePolicy::default();
    let key = ThrottleKey::factor(person.id, ThrottledFactor::Totp);
    let _ = s.reserve_attempt(&key, &policy, fx.now()).await?;
    let ticket = fx.ticket(person.id, org.id(), 300)?;
    s.insert_ticket(&ticket).await?;
    Ok(Setup {
        set_id: set.set_id(),
        person,
        org,
        ticket,
        authenticator,
        start,
    })
}

pub(super) async fn login_snapshot<S: LoginStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let up = setup(fx).await?;
    let now = fx.now();
    let snapshot = s
        .login_snapshot(
            SnapshotAt::Ticket(&up.ticket.digest),
            Some(up.org.id()),
            now,
        )
        .await?;
    ensure_eq!(snapshot.ticket, Some(up.ticket), "the ticket read");
    ensure_eq!(
        snapshot.person,
        Some(up.person.clone()),
        "the ticket's person"
    );
    ensure_eq!(
        snapshot
            .organisation
            .as_ref()
            .map(|o| (o.value.id(), o.version)),
        Some((up.org.id(), 1)),
        "the organisation named, with its version"
    );
    ensure_eq!(
        snapshot.mfa.as_ref().and_then(|m| m
            .value
            .authenticator(up.authenticator)
            .map(|a| (a.last_accepted_step(), m.version))),
        Some((up.start.saturating_add(2), 1)),
        "the MFA state with its advanced watermark"
    );
    ensure_eq!(
        snapshot
            .recovery
            .as_ref()
            .map(|set| (set.set_id(), set.remaining())),
        Some((up.set_id, 3)),
        "the active recovery set with its spent slot"
    );
    ensure_eq!(
        snapshot.counters.totp.map(|c| c.failures()),
        Some(1),
        "the stored TOTP counter"
    );
    ensure_eq!(
        (
            snapshot.counters.login,
            snapshot.counters.recovery_code,
            snapshot.counters.out_of_band
        ),
        (None, None, None),
        "counters never stored are none"
    );
    ensure_eq!(
        s.take_ticket(&up.ticket.digest, now).await?,
        Some(up.ticket),
        "the snapshot does not consume the ticket"
    );
    let gone = s
        .login_snapshot(
            SnapshotAt::Ticket(&up.ticket.digest),
            Some(up.org.id()),
            now,
        )
        .await?;
    ensure!(
        gone.ticket.is_none() && gone.person.is_none() && gone.mfa.is_none(),
        "a spent ticket reads as an empty snapshot"
    );
    let expiring = fx.ticket(up.person.id, up.org.id(), 10)?;
    s.insert_ticket(&expiring).await?;
    let expired = s
        .login_snapshot(
            SnapshotAt::Ticket(&expiring.digest),
            None,
            now.saturating_add(10),
        )
        .await?;
    ensure!(
        expired.ticket.is_none() && expired.person.is_none(),
        "a ticket reads as none from its expiry time on"
    );

    // By login name: the person holding it, and the name's counter either way.
    let policy = ThrottlePolicy::default();
    let _ = s
        .reserve_attempt(&ThrottleKey::login(&up.person.login), &policy, now)
        .await?;
    let by_login = s
        .login_snapshot(SnapshotAt::Login(&up.person.login), None, now)
        .await?;
    ensure_eq!(
        by_login.person,
        Some(up.person.clone()),
        "the person by login"
    );
    ensure_eq!(
        by_login.counters.login.map(|c| c.failures()),
        Some(1),
        "the login name's counter"
    );
    ensure!(
        by_login.organisation.is_none() && by_login.ticket.is_none(),
        "no organisation is read without one named, and no ticket by login"
    );
    // By ticket, the counter of the ticket's person's login name too: for a ticket stored
    // with the next step's write and for one stored alone.
    let with_step = fx.ticket(up.person.id, up.org.id(), 300)?;
    ensure!(
        s.apply_step(&StepWrite {
            next_ticket: Some(NextTicket {
                record: with_step,
                login: up.person.login.clone(),
            }),
            ..StepWrite::default()
        })
        .await?,
        "storing a ticket with a step"
    );
    let alone = fx.ticket(up.person.id, up.org.id(), 300)?;
    s.insert_ticket(&alone).await?;
    for ticket in [with_step, alone] {
        let snapshot = s
            .login_snapshot(SnapshotAt::Ticket(&ticket.digest), None, now)
            .await?;
        ensure!(
            snapshot.ticket == Some(ticket)
                && snapshot.counters.login.map(|c| c.failures()) == Some(1),
            "a ticket's snapshot reads its person's login counter: {:?}",
            snapshot.counters
        );
    }
    // A ticket to choose the organisation: its progress names none yet. It is stored, read by
    // its snapshot (with the organisation the chooser names) and taken as it was written.
    let choose = TicketRecord {
        step: PendingStep::ChooseOrganisation,
        progress: LoginProgress::organisation_pending(up.person.id, now).at_epoch(3),
        ..fx.ticket(up.person.id, up.org.id(), 300)?
    };
    ensure!(
        s.apply_step(&StepWrite {
            next_ticket: Some(NextTicket {
                record: choose,
                login: up.person.login.clone(),
            }),
            ..StepWrite::default()
        })
        .await?,
        "storing a ticket to choose the organisation"
    );
    let snapshot = s
        .login_snapshot(SnapshotAt::Ticket(&choose.digest), Some(up.org.id()), now)
        .await?;
    ensure!(
        snapshot.ticket == Some(choose)
            && snapshot.person.as_ref() == Some(&up.person)
            && snapshot.organisation.as_ref().map(|o| o.value.id()) == Some(up.org.id()),
        "a choice ticket's snapshot: the ticket as written, its person, the organisation named"
    );
    ensure_eq!(
        s.take_ticket(&choose.digest, now).await?,
        Some(choose),
        "a choice ticket taken as written"
    );
    let unknown = Login::new(&fx.login_for(fx.person_id())).ok_or_else(|| fail("login".into()))?;
    let _ = s
        .reserve_attempt(&ThrottleKey::login(&unknown), &policy, now)
        .await?;
    let nobody = s
        .login_snapshot(SnapshotAt::Login(&unknown), Some(up.org.id()), now)
        .await?;
    ensure!(
        nobody.person.is_none() && nobody.mfa.is_none(),
        "nobody holds an unknown name"
    );
    ensure_eq!(
        nobody.counters.login.map(|c| c.failures()),
        Some(1),
        "an unknown name's counter is read all the same"
    );
    let by_person = s
        .login_snapshot(SnapshotAt::Person(up.person.id), None, now)
        .await?;
    ensure!(
        by_person.person.as_ref() == Some(&up.person)
            && by_person.mfa.is_some()
            && by_person.counters.totp.map(|c| c.failures()) == Some(1)
            && by_person.counters.login.is_none(),
        "the snapshot by person: their factors' counters, not the login name's"
    );
    Ok(())
}

pub(super) async fn apply_step<S: LoginStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let up = setup(fx).await?;
    let now = fx.now();
    let key = ThrottleKey::factor(up.person.id, ThrottledFactor::Totp);
    let stored = s.throttle(&key).await?;
    let counted = ThrottlePolicy::default().reserve(stored, now).state();
    let next = fx.ticket(up.person.id, up.org.id(), 300)?;
    let step = up.start.saturating_add(5);
    let everything = |expected: Option<ThrottleState>, new: ThrottleState| StepWrite {
        counters: alloc::vec![CounterWrite {
            key: key.clone(),
            expected,
            new,
        }],
        watermark: Some((up.person.id, up.authenticator, step)),
        recovery_spend: Some((up.person.id, up.set_id, 2)),
        spend_ticket: Some(up.ticket.digest),
        next_ticket: Some(NextTicket {
            record: next,
            login: up.person.login.clone(),
        }),
        ..StepWrite::default()
    };
    // A stale counter: nothing at all is written.
    ensure!(
        !s.apply_step(&everything(Some(counted), ThrottleState::new()))
            .await?,
        "a write guarded by a stale counter fails"
    );
    ensure!(
        !s.apply_step(&everything(None, counted)).await?,
        "a write guarded by no counter where one is stored fails"
    );
    let after = s
        .login_snapshot(SnapshotAt::Ticket(&up.ticket.digest), None, now)
        .await?;
    ensure!(
        after.ticket == Some(up.ticket)
            && after.counters.totp == Some(stored)
            && after
                .recovery
                .as_ref()
                .is_some_and(|set| set.remaining() == 3)
            && after
                .mfa
                .as_ref()
                .and_then(|m| m.value.authenticator(up.authenticator))
                .map(|a| a.last_accepted_step())
                == Some(up.start.saturating_add(2)),
        "a failed guard writes nothing: counter, watermark, recovery slot and ticket unchanged"
    );
    ensure!(
        s.take_ticket(&next.digest, now).await?.is_none(),
        "a failed guard inserts no ticket"
    );
    // The right state: everything at once.
    ensure!(
        s.apply_step(&everything(Some(stored), ThrottleState::new()))
            .await?,
        "a write guarded by the stored state applies"
    );
    let done = s
        .login_snapshot(SnapshotAt::Person(up.person.id), None, now)
        .await?;
    ensure!(
        done.counters.totp.is_none()
            && done
                .recovery
                .as_ref()
                .is_some_and(|set| set.remaining() == 2)
            && done
                .mfa
                .as_ref()
                .and_then(|m| m.value.authenticator(up.authenticator))
                .map(|a| a.last_accepted_step())
                == Some(step),
        "the counter cleared, the slot spent and the watermark raised"
    );
    ensure!(
        s.take_ticket(&up.ticket.digest, now).await?.is_none(),
        "the ticket is spent"
    );
    ensure_eq!(
        s.take_ticket(&next.digest, now).await?,
        Some(next),
        "the next ticket is stored"
    );
    // Each guard alone.
    let again = |write: StepWrite| async move { s.apply_step(&write).await };
    ensure!(
        !again(StepWrite {
            watermark: Some((up.person.id, up.authenticator, step)),
            ..StepWrite::default()
        })
        .await?,
        "a step at the watermark is refused"
    );
    ensure!(
        !again(StepWrite {
            recovery_spend: Some((up.person.id, up.set_id, 2)),
            ..StepWrite::default()
        })
        .await?,
        "a spent slot is refused"
    );
    ensure!(
        !again(StepWrite {
            spend_ticket: Some(up.ticket.digest),
            ..StepWrite::default()
        })
        .await?,
        "a spent ticket is refused"
    );
    ensure!(
        !again(StepWrite {
            recovery_spend: Some((up.person.id, [0xa5; 16], 3)),
            ..StepWrite::default()
        })
        .await?,
        "a slot of a set that is not the active one is refused"
    );
    // A counter written from none, then compare-and-swapped, then deleted.
    let fresh_key = ThrottleKey::factor(up.person.id, ThrottledFactor::OutOfBand);
    let one = ThrottlePolicy::default()
        .reserve(ThrottleState::new(), now)
        .state();
    let two = ThrottlePolicy::default().reserve(one, now).state();
    let cas = |expected, new| StepWrite {
        counters: alloc::vec![CounterWrite {
            key: fresh_key.clone(),
            expected,
            new,
        }],
        ..StepWrite::default()
    };
    ensure!(
        s.apply_step(&cas(None, one)).await?,
        "a first counter is inserted"
    );
    ensure!(
        !s.apply_step(&cas(None, one)).await?,
        "a second insert loses"
    );
    ensure!(
        s.apply_step(&cas(Some(one), two)).await?,
        "the counter is swapped"
    );
    ensure!(
        !s.apply_step(&cas(Some(one), two)).await?,
        "a stale swap loses"
    );
    ensure_eq!(s.throttle(&fresh_key).await?, two, "the swapped counter");
    ensure!(
        s.apply_step(&cas(Some(two), ThrottleState::new())).await?,
        "a fresh state deletes the counter"
    );
    ensure_eq!(
        s.throttle(&fresh_key).await?,
        ThrottleState::new(),
        "the deleted counter"
    );
    ensure!(
        s.apply_step(&StepWrite::default()).await?,
        "an empty write applies"
    );
    Ok(())
}

pub(super) async fn locked_step<S: LoginStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let up = setup(fx).await?;
    let now = fx.now();
    let key = ThrottleKey::factor(up.person.id, ThrottledFactor::Totp);
    let step = up.start.saturating_add(4);
    let seen = s
        .locked_step(
            SnapshotAt::Ticket(&up.ticket.digest),
            Some(up.org.id()),
            now,
            |snap| {
                let write = StepWrite {
                    counters: alloc::vec![CounterWrite {
                        key: key.clone(),
                        expected: snap.counters.totp,
                        new: ThrottleState::new(),
                    }],
                    watermark: Some((up.person.id, up.authenticator, step)),
                    spend_ticket: snap.ticket.map(|t| t.digest),
                    ..StepWrite::default()
                };
                (
                    write,
                    (snap.ticket, snap.counters.totp.map(|c| c.failures())),
                )
            },
        )
        .await?;
    ensure_eq!(
        seen,
        (Some(up.ticket), Some(1)),
        "the decision sees the ticket and the counter"
    );
    let done = s
        .login_snapshot(SnapshotAt::Person(up.person.id), None, now)
        .await?;
    ensure!(
        done.counters.totp.is_none()
            && done
                .mfa
                .as_ref()
                .and_then(|m| m.value.authenticator(up.authenticator))
                .map(|a| a.last_accepted_step())
                == Some(step),
        "the decision's writes are committed"
    );
    ensure!(
        s.take_ticket(&up.ticket.digest, now).await?.is_none(),
        "the ticket is spent"
    );
    let empty = s
        .locked_step(SnapshotAt::Ticket(&up.ticket.digest), None, now, |snap| {
            (
                StepWrite::default(),
                snap.ticket.is_none() && snap.person.is_none(),
            )
        })
        .await?;
    ensure!(empty, "a spent ticket decides on an empty snapshot");
    Ok(())
}

/// [`RACE_CONTENDERS`] servers finish the same ticket under the lock: exactly one sees it.
pub(super) async fn race_locked_ticket<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: LoginStore + 'static,
    P: Spawner,
{
    let up = setup(fx).await?;
    let now = fx.now();
    let (digest, org) = (up.ticket.digest, up.org.id());
    let (person, authenticator) = (up.person.id, up.authenticator);
    let step = up.start.saturating_add(3);
    let contenders =
        (0..RACE_CONTENDERS)
            .map(|_| {
                let store = Arc::clone(&fx.store);
                async move {
                    let won =
                        store
                            .locked_step(SnapshotAt::Ticket(&digest), Some(org), now, |snap| {
                                match snap.ticket {
                                    Some(t) => (
                                        StepWrite {
                                            watermark: Some((person, authenticator, step)),
                                            spend_ticket: Some(t.digest),
                                            ..StepWrite::default()
                                        },
                                        true,
                                    ),
                                    None => (StepWrite::default(), false),
                                }
                            })
                            .await?;
                    Ok::<_, Fail>(won)
                }
            })
            .collect();
    let won = race(spawner, contenders)
        .await?
        .into_iter()
        .filter(|w| *w)
        .count();
    exactly_one(won, "finish one ticket under the lock")
}

/// [`RACE_CONTENDERS`] servers commit the outcome of the same ticket without the lock, each with
/// a next-step ticket of its own: exactly one commit applies, and only its next ticket is stored.
pub(super) async fn race_apply_ticket<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: LoginStore + 'static,
    P: Spawner,
{
    let up = setup(fx).await?;
    let now = fx.now();
    let digest = up.ticket.digest;
    let mut nexts = Vec::with_capacity(RACE_CONTENDERS);
    for _ in 0..RACE_CONTENDERS {
        nexts.push(fx.ticket(up.person.id, up.org.id(), 300)?);
    }
    let contenders = nexts
        .iter()
        .map(|next| {
            let store = Arc::clone(&fx.store);
            let write = StepWrite {
                spend_ticket: Some(digest),
                next_ticket: Some(NextTicket {
                    record: *next,
                    login: up.person.login.clone(),
                }),
                ..StepWrite::default()
            };
            async move { Ok::<_, Fail>(store.apply_step(&write).await?) }
        })
        .collect();
    let applied = race(spawner, contenders).await?;
    exactly_one(
        applied.iter().filter(|a| **a).count(),
        "commit the outcome of one ticket",
    )?;
    let mut stored = 0usize;
    for (next, applied) in nexts.iter().zip(&applied) {
        let found = fx.store.take_ticket(&next.digest, now).await?.is_some();
        ensure_eq!(
            found,
            *applied,
            "a next ticket is stored only with the commit that won"
        );
        stored = stored.saturating_add(usize::from(found));
    }
    ensure_eq!(stored, 1, "next tickets stored");
    Ok(())
}

/// The decision a contender of [`race_locked_throttle`] made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attempt {
    /// Refused by the throttle, nothing written.
    Refused,
    /// A wrong code, verified and counted: the failure count it stored.
    Wrong(u8),
    /// The right code, verified: the counter cleared.
    Right,
}

/// [`THROTTLE_CONTENDERS`] wrong codes at one instant through the locked step, each counted by
/// the decision itself (2 free attempts, a lock at 5): exactly the 2 free ones and the one that
/// starts the back-off are verified. Then wrong codes racing one right one, with a lock at 3:
/// the failures stored are each counted once (1, 2, … before the right one cleared the counter
/// and again after), the right one is accepted only if it decided before the lock, and the
/// counter ends at the failures counted after it.
pub(super) async fn race_locked_throttle<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: LoginStore + 'static,
    P: Spawner,
{
    let now = fx.now();
    let run = |policy: ThrottlePolicy, right: Option<usize>, person| {
        let key = ThrottleKey::factor(person, ThrottledFactor::Totp);
        let contenders = (0..THROTTLE_CONTENDERS)
            .map(|i| {
                let store = Arc::clone(&fx.store);
                let key = key.clone();
                let is_right = right == Some(i);
                async move {
                    let attempt = store
                        .locked_step(SnapshotAt::Person(person), None, now, |snap| {
                            let stored = snap.counters.totp;
                            let reservation = policy.reserve(stored.unwrap_or_default(), now);
                            if !reservation.decision().is_allowed() {
                                return (StepWrite::default(), Attempt::Refused);
                            }
                            let (new, attempt) = if is_right {
                                (ThrottleState::new(), Attempt::Right)
                            } else {
                                let state = reservation.state();
                                (state, Attempt::Wrong(state.failures()))
                            };
                            let write = StepWrite {
                                counters: alloc::vec![CounterWrite {
                                    key: key.clone(),
                                    expected: stored,
                                    new,
                                }],
                                ..StepWrite::default()
                            };
                            (write, attempt)
                        })
                        .await?;
                    Ok::<_, Fail>(attempt)
                }
            })
            .collect::<Vec<_>>();
        (key, contenders)
    };

    let (person, _) = fx.founder().await?;
    let policy = ThrottlePolicy::builder()
        .free_attempts(2)
        .lock_after(5)
        .build()?;
    let (key, contenders) = run(policy, None, person.id);
    let attempts = race(spawner, contenders).await?;
    let mut wrong: Vec<u8> = attempts
        .iter()
        .filter_map(|a| match a {
            Attempt::Wrong(n) => Some(*n),
            _ => None,
        })
        .collect();
    wrong.sort_unstable();
    ensure_eq!(
        wrong,
        alloc::vec![1u8, 2, 3],
        "{THROTTLE_CONTENDERS} concurrent wrong codes through the locked step: verified"
    );
    ensure_eq!(
        fx.store.throttle(&key).await?.failures(),
        3,
        "each verified attempt is counted once"
    );

    let (person, _) = fx.founder().await?;
    let policy = ThrottlePolicy::builder()
        .free_attempts(2)
        .lock_after(3)
        .lock_duration(3600)
        .build()?;
    let (key, contenders) = run(policy, Some(THROTTLE_CONTENDERS / 2), person.id);
    let attempts = race(spawner, contenders).await?;
    let right = attempts.iter().filter(|a| **a == Attempt::Right).count();
    let mut wrong: Vec<u8> = attempts
        .iter()
        .filter_map(|a| match a {
            Attempt::Wrong(n) => Some(*n),
            _ => None,
        })
        .collect();
    wrong.sort_unstable();
    let last = fx.store.throttle(&key).await?;
    let after = usize::from(last.failures());
    let before = wrong.len().saturating_sub(after);
    let mut expected: Vec<u8> = (1..=before)
        .chain(1..=after)
        .filter_map(|n| u8::try_from(n).ok())
        .collect();
    expected.sort_unstable();
    ensure!(
        right <= 1 && wrong == expected && (right == 1 || before == 0),
        "a right code racing wrong ones under the lock: every failure counted once and the \
         counter never lost an update (right accepted {right} times, failures counted {wrong:?}, \
         {after} stored at the end)"
    );
    ensure!(
        before < usize::from(policy.lock_after()) || right == 0,
        "the right code is never accepted past the lock ({before} failures before it)"
    );
    ensure!(
        last.is_locked() && after == usize::from(policy.lock_after()),
        "the wrong codes after it lock the counter: {last:?}"
    );
    Ok(())
}

/// [`THROTTLE_CONTENDERS`] attempts at one instant counted without the lock, as the password
/// step does: a snapshot, then a compare-and-swap of the counter read, again from a fresh
/// snapshot when it loses. With 2 free attempts exactly 3 are allowed, each counted once.
pub(super) async fn race_counted_attempts<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: LoginStore + 'static,
    P: Spawner,
{
    let now = fx.now();
    let login = Login::new(&fx.login_for(fx.person_id())).ok_or_else(|| fail("login".into()))?;
    let policy = ThrottlePolicy::builder()
        .free_attempts(2)
        .lock_after(5)
        .build()?;
    let contenders = (0..THROTTLE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            let login = login.clone();
            async move {
                loop {
                    let snap = store
                        .login_snapshot(SnapshotAt::Login(&login), None, now)
                        .await?;
                    let stored = snap.counters.login;
                    let reservation = policy.reserve(stored.unwrap_or_default(), now);
                    if !reservation.decision().is_allowed() {
                        return Ok::<_, Fail>(reservation.decision());
                    }
                    let write = StepWrite {
                        counters: alloc::vec![CounterWrite {
                            key: ThrottleKey::login(&login),
                            expected: stored,
                            new: reservation.state(),
                        }],
                        ..StepWrite::default()
                    };
                    if store.apply_step(&write).await? {
                        return Ok(reservation.decision());
                    }
                }
            }
        })
        .collect();
    let decisions = race(spawner, contenders).await?;
    let allowed = decisions.iter().filter(|d| d.is_allowed()).count();
    ensure_eq!(
        allowed,
        usize::from(policy.free_attempts()).saturating_add(1),
        "{THROTTLE_CONTENDERS} concurrent attempts counted by compare-and-swap: allowed"
    );
    ensure!(
        decisions
            .iter()
            .all(|d| d.is_allowed() || matches!(d, ThrottleDecision::RetryAfter { .. })),
        "the others are told to retry"
    );
    ensure_eq!(
        usize::from(
            fx.store
                .throttle(&ThrottleKey::login(&login))
                .await?
                .failures()
        ),
        allowed,
        "each allowed attempt is counted once"
    );
    Ok(())
}
