use super::open_payment::{open_payment, PaymentDraft};
use super::{Attempt, KeyedResult, Services, UseCaseError};
use crate::domain::{
    year_month, CaptureMethod, Customer, Identifier, Locale, MethodId, MethodSummary, Money, PayerPhone, Payment,
    PhoneOrigin,
};

/// A later payment: only the user, the order and the amount (and optionally which card).
#[derive(Debug)]
pub struct RepeatPaymentCommand {
    pub user_id: Identifier,
    pub merchant_id: Identifier,
    pub order_id: Identifier,
    pub money: Money,
    pub method_id: Option<MethodId>,
    pub capture_method: CaptureMethod,
    /// The language its SMS speak (`None`: the merchant's default).
    pub locale: Option<Locale>,
}

pub async fn repeat_payment(
    svc: &Services,
    cmd: RepeatPaymentCommand,
    attempt: Option<&Attempt>,
) -> KeyedResult<Payment> {
    match repeat_draft(svc, cmd).await {
        Ok(draft) => open_payment(svc, draft, attempt).await,
        Err(e) => Err(e).into(),
    }
}

/// The payment a repeat payment opens: the customer's saved card, codes to its phone.
pub(crate) async fn repeat_draft(svc: &Services, cmd: RepeatPaymentCommand) -> Result<PaymentDraft, UseCaseError> {
    svc.settings.check_currency(&cmd.money)?;
    let customer = Customer { merchant_id: cmd.merchant_id.clone(), user_id: cmd.user_id.clone() };
    let saved = svc.payments.find_method(&customer, cmd.method_id.as_ref()).await?;
    let Some(saved) = saved else {
        return Err(match cmd.method_id {
            Some(_) => UseCaseError::MethodNotFound,
            None => UseCaseError::NoSavedMethod,
        });
    };
    if saved.expiry.is_expired(year_month(svc.clock.now())) {
        return Err(UseCaseError::SavedMethodExpired);
    }
    // The code goes to the phone the card is bound to, never to one named by this request.
    let locale = cmd.locale.unwrap_or_else(|| svc.settings.merchant_locale(cmd.merchant_id.as_str()));
    Ok(PaymentDraft {
        user_id: cmd.user_id,
        merchant_id: cmd.merchant_id,
        order_id: cmd.order_id,
        money: cmd.money,
        method: MethodSummary { id: saved.id, brand: saved.brand, last4: saved.last4, expiry: saved.expiry },
        phone: PayerPhone::new(saved.phone.clone(), svc.hasher().phone_key(&saved.phone)),
        phone_origin: PhoneOrigin::SavedCard,
        sealed_card: saved.sealed_card,
        fingerprint: saved.fingerprint,
        save_card: false,
        locale,
        capture_method: cmd.capture_method,
        source_ip_keys: Vec::new(),
        present: None,
        network_reference: saved.network_reference,
        session: None,
    })
}
