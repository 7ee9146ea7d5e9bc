use super::lifecycle::release_hold;
use super::send_code::{reissue_code, Raced};
use super::verify_code::MAX_RACE_RETRIES;
use super::{Caller, Services, UseCaseError};
use crate::domain::{Payment, PaymentId, ResendRefusal};
use crate::ports::{StoreError, WriteAlso};

/// Sends a new code for a pending payment; the previous code stops working at once.
/// Another merchant's payment is answered as if it did not exist. Every check runs on every
/// attempt: a retry under the same Idempotency-Key (after a refusal, a failure or a dead
/// invocation) waits out the cooldown like any other request; only a resend stored as done is
/// replayed, by the key's record.
pub async fn resend_code(svc: &Services, caller: &Caller, id: &PaymentId) -> Result<Payment, UseCaseError> {
    for _ in 0..MAX_RACE_RETRIES {
        let payment = svc.payments.get(id).await?.filter(|p| caller.may_see(p));
        let mut payment = payment.ok_or(UseCaseError::PaymentNotFound)?;
        let now = svc.clock.now();
        match payment.check_resend(now) {
            Ok(()) => {}
            Err(ResendRefusal::TooSoon { retry_after_secs }) => {
                return Err(UseCaseError::ResendTooSoon { retry_after_secs })
            }
            Err(ResendRefusal::NotPending) => return Err(UseCaseError::NotPending(Box::new(payment))),
            Err(ResendRefusal::SendLimitReached) => return Err(UseCaseError::SendLimitReached),
            Err(ResendRefusal::PaymentExpired) => {
                return match svc.payments.update(&payment, WriteAlso::default()).await {
                    Err(StoreError::Conflict) => continue,
                    Err(e) => Err(e.into()),
                    Ok(()) => {
                        let payment = release_hold(svc, Payment { version: payment.version + 1, ..payment }).await;
                        Err(UseCaseError::NotPending(Box::new(payment)))
                    }
                };
            }
        }
        match reissue_code(svc, payment, now).await {
            Err(Raced) => continue,
            Ok(outcome) => return outcome,
        }
    }
    Err(UseCaseError::Contention)
}
