//! Issuing a code: count it against the SMS caps, store its hash (the previous code stops
//! working at once), send it.

use super::{Services, UseCaseError};
use crate::domain::{Payment, VerificationCode, CODE_TTL_SECS};
use crate::ports::{BusinessEvent, QuotaError, SendError, SmsText, StoreError, WriteAlso};
use crate::secrets::CodeContext;

/// The payment changed since it was read; read it again and retry.
pub(crate) struct Raced;

/// The SMS: the code is its only run of six digits.
pub(crate) fn sms_text(code: &VerificationCode, payment: &Payment) -> SmsText {
    SmsText(format!(
        "{} is your code to pay {} to {}. Valid {} minutes. Never share it.",
        code.expose(),
        payment.money,
        payment.merchant_id,
        CODE_TTL_SECS / 60
    ))
}

pub(crate) fn code_context(payment: &Payment, send_seq: u8) -> CodeContext<'_> {
    CodeContext { payment_id: &payment.id, money: &payment.money, merchant_id: &payment.merchant_id, send_seq }
}

/// Counts one SMS to the payment's phone for its merchant, or refuses with `sms_rate_limited`.
pub(crate) async fn take_sms_quota(svc: &Services, payment: &Payment, now: i64) -> Result<(), UseCaseError> {
    svc.quota.take(&payment.phone.key, &payment.merchant_id, now).await.map_err(|e| match e {
        QuotaError::Exceeded { retry_after_secs } => {
            tracing::warn!(payment_id = %payment.id, sent_to = %payment.phone, merchant_id = %payment.merchant_id, "SMS cap reached");
            svc.metrics.record(BusinessEvent::SmsRateLimited);
            UseCaseError::SmsRateLimited { retry_after_secs }
        }
        QuotaError::Store(e) => e.into(),
    })
}

/// Issues a fresh code for `payment` (as read, at its stored version) and sends it.
pub(crate) async fn reissue_code(
    svc: &Services,
    mut payment: Payment,
    now: i64,
) -> Result<Result<Payment, UseCaseError>, Raced> {
    if let Err(e) = take_sms_quota(svc, &payment, now).await {
        return Ok(Err(e));
    }
    let previous_send = payment.verification.last_sent_at;
    let code = VerificationCode::generate();
    let hash = match svc.hasher() {
        Ok(hasher) => hasher.hash(&code_context(&payment, payment.next_send_seq()), &code),
        Err(e) => return Ok(Err(e)),
    };
    payment.issue_code(hash, now);
    match svc.payments.update(&payment, WriteAlso::default()).await {
        Err(StoreError::Conflict) => return Err(Raced),
        Err(e) => return Ok(Err(e.into())),
        Ok(()) => payment.version += 1,
    }
    let sent = match payment.phone.number() {
        Some(number) => svc.sms.send(number, &sms_text(&code, &payment)).await,
        None => Err(SendError("the payment no longer keeps its phone number".into())),
    };
    if let Err(e) = sent {
        tracing::warn!(payment_id = %payment.id, error = %e, "code not delivered");
        // Lift the cooldown this send started, so the shopper may ask again at once. The
        // send still counts toward the payment's limit.
        let mut retry = payment.clone();
        retry.verification.last_sent_at = previous_send;
        if let Err(e) = svc.payments.update(&retry, WriteAlso::default()).await {
            tracing::warn!(payment_id = %payment.id, error = %e, "could not lift resend cooldown");
        }
        return Ok(Err(UseCaseError::Unavailable(format!("sms: {e}"))));
    }
    svc.metrics.record(BusinessEvent::CodeSent);
    tracing::info!(payment_id = %payment.id, sent_to = %payment.phone, sends = payment.verification.sends, "code sent");
    Ok(Ok(payment))
}
