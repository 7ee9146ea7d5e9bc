//! What first and repeat payments share: mint the payment, store it with its code's hash,
//! then send the code.

use super::send_code::{reissue_code, sms_text, take_sms_quota, Raced};
use super::verify_code::MAX_RACE_RETRIES;
use super::{Attempt, Services, UseCaseError};
use crate::domain::{
    CheckoutSession, Identifier, MethodSummary, Money, Payment, PaymentId, PaymentStatus, Phone, Verification,
    VerificationCode, MAX_SENDS, PAYMENT_TTL_SECS,
};
use crate::ports::{BusinessEvent, StoreError};
use crate::secrets::CodeContext;

/// A payment about to be opened: who pays whom, with which (sealed) card, codes to which phone.
pub struct PaymentDraft {
    pub user_id: Identifier,
    pub merchant_id: Identifier,
    pub order_id: Identifier,
    pub money: Money,
    pub method: MethodSummary,
    pub phone: Phone,
    pub sealed_card: String,
    pub fingerprint: String,
    pub save_card: bool,
    /// Opened in a checkout session: the payment becomes the session's latest.
    pub session: Option<SessionLink>,
}

/// A payment's session, as read, and the session's pending payment it replaces (already
/// marked canceled): both written with the new payment, in one transaction.
pub struct SessionLink {
    pub session: CheckoutSession,
    pub cancel: Option<Payment>,
}

pub async fn open_payment(
    svc: &Services,
    draft: PaymentDraft,
    attempt: Option<&Attempt>,
) -> Result<Payment, UseCaseError> {
    let now = svc.clock.now();
    let code = VerificationCode::generate();
    let id = Attempt::payment_id(attempt);
    let ctx = CodeContext { payment_id: &id, money: &draft.money, merchant_id: &draft.merchant_id, send_seq: 1 };
    let code_hash = svc.hasher.hash(&ctx, &code);
    let payment = Payment {
        id,
        status: PaymentStatus::RequiresVerification,
        user_id: draft.user_id,
        merchant_id: draft.merchant_id,
        order_id: draft.order_id,
        money: draft.money,
        session_id: draft.session.as_ref().map(|l| l.session.id.clone()),
        method: draft.method,
        phone: draft.phone,
        sealed_card: Some(draft.sealed_card),
        fingerprint: draft.fingerprint,
        save_card: draft.save_card,
        verification: Verification::first(code_hash, now),
        failure_code: None,
        created_at: now,
        updated_at: now,
        // No payment outlives its session.
        expires_at: draft
            .session
            .as_ref()
            .map_or(now + PAYMENT_TTL_SECS, |l| (now + PAYMENT_TTL_SECS).min(l.session.ends_at())),
        version: 0,
    };

    // An order that another payment has paid is not paid again: no code, no payment. (A
    // retry of this very request may find its own payment holding the order.)
    match svc.payments.order_paid_by(&payment.merchant_id, &payment.order_id).await? {
        Some(holder) if holder != payment.id => return Err(UseCaseError::OrderAlreadyPaid(None)),
        Some(_) => return resume(svc, &payment.id).await,
        None => {}
    }
    // Counted before anything is stored: a refused SMS opens no payment.
    take_sms_quota(svc, &payment, now).await?;
    // Stored before sending: the code must be checkable the moment the shopper can read it.
    let stored = match &draft.session {
        None => svc.payments.insert(&payment).await,
        Some(link) => svc.payments.insert_in_session(&link.session, &payment, link.cancel.as_ref()).await,
    };
    match stored {
        Ok(()) => {}
        // Same Idempotency-Key, same id: an earlier attempt of this very request got this far.
        Err(StoreError::Conflict) if attempt.is_some() => return resume(svc, &payment.id).await,
        Err(e) => return Err(e.into()),
    }
    if let Some(canceled) = draft.session.as_ref().and_then(|l| l.cancel.as_ref()) {
        tracing::info!(payment_id = %canceled.id, "payment canceled: its session started another");
    }
    svc.metrics.record(BusinessEvent::PaymentCreated);
    tracing::info!(payment_id = %payment.id, sent_to = %payment.phone, amount = payment.money.minor,
        currency = payment.money.currency.code(), "payment created, sending code");

    if let Err(e) = svc.sms.send(&payment.phone, &sms_text(&code, &payment)).await {
        tracing::warn!(payment_id = %payment.id, error = %e, "code not sent");
        // Under an Idempotency-Key the retry resumes this payment with a fresh code. Without
        // one nobody could ever reach it: close it so it never lingers as pending (if even
        // this write fails, it expires on its own).
        if attempt.is_none() {
            let mut failed = payment.clone();
            failed.decline("code_not_sent", now);
            match svc.payments.update(&failed, None).await {
                Ok(()) => svc.metrics.record(BusinessEvent::PaymentFailed { code: "code_not_sent".into() }),
                Err(e) => tracing::warn!(payment_id = %payment.id, error = %e, "could not close unsent payment"),
            }
        }
        return Err(UseCaseError::Unavailable(format!("sms: {e}")));
    }
    svc.metrics.record(BusinessEvent::CodeSent);
    Ok(payment)
}

/// Finishes what a crashed attempt started: its payment exists, but whether its code went
/// out is unknown, so a pending one gets a fresh code (the old one stops working).
async fn resume(svc: &Services, id: &PaymentId) -> Result<Payment, UseCaseError> {
    for _ in 0..MAX_RACE_RETRIES {
        let payment = svc.payments.get(id).await?.ok_or(UseCaseError::Contention)?;
        if !payment.is_pending() || payment.verification.sends >= MAX_SENDS {
            return Ok(payment);
        }
        tracing::info!(payment_id = %payment.id, "resuming a payment whose first attempt died");
        match reissue_code(svc, payment, svc.clock.now()).await {
            Err(Raced) => continue,
            Ok(outcome) => return outcome,
        }
    }
    Err(UseCaseError::Contention)
}
