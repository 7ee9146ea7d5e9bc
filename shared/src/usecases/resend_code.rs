use super::open_payment::{code_context, sms_text};
use super::verify_code::MAX_RACE_RETRIES;
use super::{Services, UseCaseError};
use crate::domain::{Payment, PaymentId, ResendRefusal, VerificationCode};
use crate::ports::StoreError;

/// Sends a new code for a pending payment; the previous code stops working at once.
pub async fn resend_code(svc: &Services, id: &PaymentId) -> Result<Payment, UseCaseError> {
    for _ in 0..MAX_RACE_RETRIES {
        let mut payment = svc.payments.get(id).await?.ok_or(UseCaseError::PaymentNotFound)?;
        let now = svc.clock.now();
        let before = payment.clone();
        match payment.check_resend(now) {
            Ok(()) => {}
            Err(ResendRefusal::NotPending) => return Err(UseCaseError::NotPending(Box::new(payment))),
            Err(ResendRefusal::TooSoon { retry_after_secs }) => return Err(UseCaseError::ResendTooSoon { retry_after_secs }),
            Err(ResendRefusal::SendLimitReached) => return Err(UseCaseError::SendLimitReached),
            Err(ResendRefusal::PaymentExpired) => {
                return match svc.payments.update(&payment, None).await {
                    Err(StoreError::Conflict) => continue,
                    Err(e) => Err(e.into()),
                    Ok(()) => Err(UseCaseError::NotPending(Box::new(payment))),
                };
            }
        }

        let code = VerificationCode::generate();
        let hash = svc.hasher.hash(&code_context(&payment, payment.next_send_seq()), &code);
        payment.issue_code(hash, now);
        match svc.payments.update(&payment, None).await {
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
            Ok(()) => payment.version += 1,
        }

        if let Err(e) = svc.sms.send(&payment.phone, &sms_text(&code, &payment)).await {
            tracing::warn!(payment_id = %payment.id, error = %e, "resent code not delivered");
            // Lift the cooldown this send started, so the shopper may ask again at once. The
            // send still counts toward the payment's limit.
            let mut retry = payment.clone();
            retry.verification.last_sent_at = before.verification.last_sent_at;
            if let Err(e) = svc.payments.update(&retry, None).await {
                tracing::warn!(payment_id = %payment.id, error = %e, "could not lift resend cooldown");
            }
            return Err(UseCaseError::Unavailable(format!("sms: {e}")));
        }
        tracing::info!(payment_id = %payment.id, sent_to = %payment.phone, sends = payment.verification.sends, "code resent");
        return Ok(payment);
    }
    Err(UseCaseError::Contention)
}
