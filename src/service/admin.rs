//! An administrator acting on a member's account: resetting the second factors of a member who
//! lost their device and their recovery codes.

use alloc::vec::Vec;

use super::{Authenticator, CAS_ATTEMPTS, ServiceError};
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::Grant;
use crate::policy::organisation::Organisation;
use crate::service::account::Live;
use crate::service::backend::Backend;
use crate::store::records::{OobPurpose, RecoverySlot};
use crate::store::{SecretStore, SecurityNotice, UserStore};

impl<B: Backend> Authenticator<B> {
    /// Resets the second factors of `target`, a member who lost their device and their
    /// recovery codes: every authenticator app and any enrollment in progress, both recovery
    /// code sets (live and pending), the verified phone and any pending out-of-band code go,
    /// and (feature `passkeys`) every passkey and security key with any ceremony under way
    /// (one [`AuditKind::PasskeyRemoved`](crate::policy::AuditKind) each).
    /// Every session and remembered device of the member ends (their security epoch moves on,
    /// the administrator named as the actor). At their next sign-in they have no second factor:
    /// where an organisation of theirs enforces MFA they must enrol again
    /// ([`LoginStep::EnrollMfa`](crate::service::LoginStep::EnrollMfa)), and nothing reaches
    /// AAL2 before they have.
    ///
    /// The grant must be an Admin or Owner of its organisation with a fresh AAL2 session
    /// (verified within [`SENSITIVE_ACTION_MAX_AGE`](crate::policy::SENSITIVE_ACTION_MAX_AGE):
    /// [`PolicyError::ReauthenticationRequired`](crate::policy::PolicyError::ReauthenticationRequired)
    /// otherwise), checked against the current roster; `target` must be a member there; nobody
    /// resets themselves ([`PolicyError::CannotActOnSelf`](crate::policy::PolicyError::CannotActOnSelf));
    /// only an Owner resets an Owner. Factors belong to the person, not to one membership: for
    /// a member of several organisations the grant holder must be able to order the reset in
    /// each of them, or it is [`PolicyError::MemberOfAnotherOrganisation`](crate::policy::PolicyError::MemberOfAnotherOrganisation)
    /// (see [`Organisation::authorize_mfa_reset`]).
    ///
    /// Audited ([`AuditKind::MfaReset`], with an [`AuditKind::AuthenticatorRemoved`] for each
    /// app) and notified to the member ([`SecurityNotice::MfaReset`]); a failed notice is
    /// audited and the reset stands.
    ///
    /// Races: the member's sessions end before anything is removed, so no request of theirs
    /// that starts after that can bind a factor; the MFA state is cleared by a compare-and-swap,
    /// so an enrollment step landing meanwhile is either cleared with it or lands on the empty
    /// state, where no single step makes a factor; a passkey registration finishing meanwhile is
    /// stored only at the security epoch its session was checked at, so it either lands before
    /// the first epoch bump and is removed with the others, or is refused; and the sessions end once more after the
    /// removal, so a sign-in completed with an old factor during it does not survive. Two
    /// administrators resetting at once both succeed, and the result is the same. A member
    /// joining another organisation while the reset runs is not seen by it.
    pub async fn reset_member_mfa(
        &self,
        grant: &Grant,
        target: PersonId,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, org, .. } = self.live_grant(grant, now).await?;
        let elsewhere = self.organisations_besides(target, org.id()).await?;
        let authority = org.authorize_mfa_reset(&grant, target, &elsewhere, now)?;
        let actor = Actor::Person(grant.person());
        let org_id = Some(grant.org());
        self.end_sessions_by(actor, target, org_id, None).await?;
        let _ = self
            .update_mfa(target, |mfa| Ok(mfa.reset(&authority, now)?))
            .await?;
        let store = self.backend.store();
        for slot in [RecoverySlot::Active, RecoverySlot::Pending] {
            store
                .replace_recovery_codes(target, slot, None)
                .await
                .map_err(ServiceError::storage)?;
        }
        let _ = store
            .set_phone(target, None)
            .await
            .map_err(ServiceError::storage)?;
        for purpose in [OobPurpose::SignIn, OobPurpose::VerifyPhone] {
            self.remove_oob_challenge(target, purpose).await?;
        }
        #[cfg(feature = "passkeys")]
        self.remove_all_passkeys(actor, target, org_id, now).await?;
        self.end_sessions_by(actor, target, org_id, None).await?;
        self.record_one(now, actor, Some(target), org_id, AuditKind::MfaReset)
            .await?;
        self.notice(target, SecurityNotice::MfaReset).await
    }

    /// Every organisation `person` belongs to but `except`, as stored now.
    async fn organisations_besides(
        &self,
        person: PersonId,
        except: OrgId,
    ) -> Result<Vec<Organisation>, ServiceError> {
        let store = self.backend.store();
        let ids = store
            .organisations_of(person)
            .await
            .map_err(ServiceError::storage)?;
        let mut orgs = Vec::with_capacity(ids.len());
        for id in ids.into_iter().filter(|id| *id != except) {
            if let Some(org) = store
                .organisation(id)
                .await
                .map_err(ServiceError::storage)?
            {
                orgs.push(org.value);
            }
        }
        Ok(orgs)
    }

    /// Deletes the person's out-of-band challenge for `purpose` (compare-and-swap on the stored
    /// one, so a code sent meanwhile goes too).
    async fn remove_oob_challenge(
        &self,
        person: PersonId,
        purpose: OobPurpose,
    ) -> Result<(), ServiceError> {
        let store = self.backend.store();
        for _ in 0..CAS_ATTEMPTS {
            let Some(current) = store
                .oob_challenge(person, purpose)
                .await
                .map_err(ServiceError::storage)?
            else {
                return Ok(());
            };
            if store
                .replace_oob_challenge(person, purpose, Some(&current.challenge), None)
                .await
                .map_err(ServiceError::storage)?
            {
                return Ok(());
            }
        }
        Err(ServiceError::Conflict)
    }
}
