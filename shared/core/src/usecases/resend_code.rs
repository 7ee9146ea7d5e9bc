use super::commit::{commit, store, Raced, Step};
use super::lifecycle::release_hold;
use super::send_code::reissue_code;
use super::{Caller, Services, UseCaseError};
use crate::domain::{Payment, PaymentId, ResendRefusal};
use crate::ports::StoreError;

/// Sends a new code for a pending payment; the previous code stops working at once.
/// Another merchant's payment is answered as if it did not exist. Every check runs on every
/// attempt: a retry under the same Idempotency-Key (after a refusal, a failure or a dead
/// invocation) waits out the cooldown like any other request; only a resend stored as done is
/// replayed, by the key's record.
pub async fn resend_code(svc: &Services, caller: &Caller, id: &PaymentId) -> Result<Payment, UseCaseError> {
    commit(|_: Option<Raced>| resend_once(svc, caller, id)).await
}

async fn resend_once(svc: &Services, caller: &Caller, id: &PaymentId) -> Result<Step<Payment, Raced>, UseCaseError> {
    let payment = svc.payments.get(id).await?.filter(|p| caller.may_see(p));
    let mut payment = payment.ok_or(UseCaseError::PaymentNotFound)?;
    let now = svc.clock.now();
    match payment.check_resend(now) {
        Ok(()) => {
            // A shopper's resend counts against their address's SMS cap too.
            let source_ips = caller.source_ip().map(|ip| svc.hasher().source_ip_keys(ip)).unwrap_or_default();
            reissue_code(svc, payment, &source_ips, now).await
        }
        Err(ResendRefusal::TooSoon { retry_after_secs }) => Err(UseCaseError::ResendTooSoon { retry_after_secs }),
        Err(ResendRefusal::NotPending) => Err(UseCaseError::NotPending(Box::new(payment))),
        Err(ResendRefusal::SendLimitReached) => Err(UseCaseError::SendLimitReached),
        Err(ResendRefusal::PaymentExpired) => match store(svc, &mut payment, &[]).await {
            Err(StoreError::Conflict) => Ok(Step::Again(Raced)),
            Err(e) => Err(e.into()),
            Ok(()) => {
                let payment = release_hold(svc, payment).await;
                Err(UseCaseError::NotPending(Box::new(payment)))
            }
        },
    }
}
