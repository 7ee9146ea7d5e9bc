//! What first and repeat payments share: mint the payment, store it with its code's hash,
//! then send the code.

use super::{Services, UseCaseError};
use crate::domain::{
    Identifier, MethodSummary, Money, Payment, PaymentId, PaymentStatus, Phone, Verification, VerificationCode,
    CODE_TTL_SECS, PAYMENT_TTL_SECS,
};
use crate::ports::SmsText;
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
}

/// The SMS: the code is its only run of six digits.
pub fn sms_text(code: &VerificationCode, payment: &Payment) -> SmsText {
    SmsText(format!(
        "{} is your code to pay {} to {}. Valid {} minutes. Never share it.",
        code.expose(),
        payment.money,
        payment.merchant_id,
        CODE_TTL_SECS / 60
    ))
}

pub fn code_context(payment: &Payment, send_seq: u8) -> CodeContext<'_> {
    CodeContext { payment_id: &payment.id, money: &payment.money, merchant_id: &payment.merchant_id, send_seq }
}

pub async fn open_payment(svc: &Services, draft: PaymentDraft) -> Result<Payment, UseCaseError> {
    let now = svc.clock.now();
    let code = VerificationCode::generate();
    let id = PaymentId::new();
    let ctx = CodeContext { payment_id: &id, money: &draft.money, merchant_id: &draft.merchant_id, send_seq: 1 };
    let code_hash = svc.hasher.hash(&ctx, &code);
    let payment = Payment {
        id,
        status: PaymentStatus::RequiresVerification,
        user_id: draft.user_id,
        merchant_id: draft.merchant_id,
        order_id: draft.order_id,
        money: draft.money,
        method: draft.method,
        phone: draft.phone,
        sealed_card: Some(draft.sealed_card),
        fingerprint: draft.fingerprint,
        save_card: draft.save_card,
        verification: Verification::first(code_hash, now),
        failure_code: None,
        created_at: now,
        updated_at: now,
        expires_at: now + PAYMENT_TTL_SECS,
        version: 0,
    };

    // Stored before sending: the code must be checkable the moment the shopper can read it.
    svc.payments.insert(&payment).await?;
    tracing::info!(payment_id = %payment.id, sent_to = %payment.phone, amount = payment.money.minor,
        currency = payment.money.currency.code(), "payment created, sending code");

    if let Err(e) = svc.sms.send(&payment.phone, &sms_text(&code, &payment)).await {
        tracing::warn!(payment_id = %payment.id, error = %e, "code not sent; failing the payment");
        // Nobody holds a code for it: close it so it never lingers as pending. If even this
        // write fails, the payment expires on its own and its code can still be resent.
        let mut failed = payment.clone();
        failed.decline("code_not_sent", now);
        if let Err(e) = svc.payments.update(&failed, None).await {
            tracing::warn!(payment_id = %payment.id, error = %e, "could not close unsent payment");
        }
        return Err(UseCaseError::Unavailable(format!("sms: {e}")));
    }
    Ok(payment)
}
