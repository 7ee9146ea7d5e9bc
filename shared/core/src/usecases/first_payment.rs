use super::lifecycle::PresentCard;
use super::open_payment::{open_payment, PaymentDraft};
use super::{Attempt, KeyedResult, Services, UseCaseError};
use crate::domain::{
    CardNumber, Customer, Cvc, Expiry, Identifier, MethodId, MethodSummary, Money, PayerPhone, Payment, Phone,
    PhoneOrigin, SourceIp,
};

/// A first payment, validated: the whole card, the phone, the order.
#[derive(Debug)]
pub struct FirstPaymentCommand {
    pub user_id: Identifier,
    pub merchant_id: Identifier,
    pub order_id: Identifier,
    pub money: Money,
    pub phone: Phone,
    pub card: CardNumber,
    pub expiry: Expiry,
    /// Sent to the acquirer with the authorisation at creation, then dropped: nothing stores
    /// it, nor anything derived from it.
    pub cvc: Cvc,
    pub save_card: bool,
    /// A shopper's browser's address (session routes only), for the per-address velocity
    /// limit.
    pub source_ip: Option<SourceIp>,
}

pub async fn first_payment(
    svc: &Services,
    cmd: FirstPaymentCommand,
    attempt: Option<&Attempt>,
) -> KeyedResult<Payment> {
    match first_draft(svc, cmd) {
        Ok(draft) => open_payment(svc, draft, attempt).await,
        Err(e) => Err(e).into(),
    }
}

/// The payment a first payment opens: the card sealed for its customer, fingerprinted.
pub(crate) fn first_draft(svc: &Services, cmd: FirstPaymentCommand) -> Result<PaymentDraft, UseCaseError> {
    // Codes go only to mobile numbers of the countries this merchant sends to: refused before
    // anything is written or sent (SMS pumping).
    cmd.phone.check_sms_destination("phone", &svc.settings.sms_countries_for(cmd.merchant_id.as_str()))?;
    svc.settings.check_currency(&cmd.money)?;
    let customer = Customer { merchant_id: cmd.merchant_id.clone(), user_id: cmd.user_id.clone() };
    let fingerprint = svc.hasher().card_fingerprint(&customer, &cmd.card);
    let sealed_card = svc.vault().seal(&customer, &cmd.card).map_err(|e| UseCaseError::Unavailable(e.to_string()))?;
    let method = MethodSummary {
        // Keyed by the card's fingerprint: saving the same card twice for a customer updates
        // one method instead of piling up copies.
        id: MethodId::from_digest(&fingerprint),
        brand: cmd.card.brand(),
        last4: cmd.card.last4(),
        expiry: cmd.expiry,
    };
    Ok(PaymentDraft {
        user_id: cmd.user_id,
        merchant_id: cmd.merchant_id,
        order_id: cmd.order_id,
        money: cmd.money,
        method,
        phone: PayerPhone::new(cmd.phone.clone(), svc.hasher().phone_key(&cmd.phone)),
        phone_origin: PhoneOrigin::Request,
        sealed_card,
        fingerprint,
        save_card: cmd.save_card,
        source_ip_key: cmd.source_ip.as_ref().map(|ip| svc.hasher().source_ip_key(ip)),
        present: Some(PresentCard { card: cmd.card, cvc: cmd.cvc }),
        network_reference: None,
        session: None,
    })
}
