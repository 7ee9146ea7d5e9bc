use super::lifecycle::PresentCard;
use super::open_payment::{open_payment, PaymentDraft};
use super::{Attempt, KeyedResult, Services, UseCaseError};
use crate::domain::{
    CaptureMethod, CardNumber, Customer, Cvc, Expiry, Identifier, Locale, MethodId, MethodSummary, Money, PayerPhone,
    Payment, Phone, PhoneOrigin, SourceIp,
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
    pub capture_method: CaptureMethod,
    /// A shopper's browser's address (session routes only), for the per-address velocity
    /// limit.
    pub source_ip: Option<SourceIp>,
    /// The language its SMS speak (`None`: the merchant's default).
    pub locale: Option<Locale>,
}

pub async fn first_payment(
    svc: &Services,
    cmd: FirstPaymentCommand,
    attempt: Option<&Attempt>,
) -> KeyedResult<Payment> {
    match first_draft(svc, cmd).await {
        Ok(draft) => open_payment(svc, draft, attempt).await,
        Err(e) => Err(e).into(),
    }
}

/// The payment a first payment opens: the card sealed for its customer, fingerprinted.
pub(crate) async fn first_draft(svc: &Services, cmd: FirstPaymentCommand) -> Result<PaymentDraft, UseCaseError> {
    // Codes go only to mobile numbers of the countries this merchant sends to: refused before
    // anything is written or sent (SMS pumping).
    cmd.phone.check_sms_destination("phone", &svc.settings.sms_countries_for(cmd.merchant_id.as_str()))?;
    svc.settings.check_currency(&cmd.money)?;
    let customer = Customer { merchant_id: cmd.merchant_id.clone(), user_id: cmd.user_id.clone() };
    let fingerprints = svc.hasher().card_fingerprints(&customer, &cmd.card);
    let id = method_id(svc, &customer, &fingerprints).await?;
    let fingerprint = fingerprints.into_iter().next().unwrap_or_default();
    let sealed_card = svc.vault().seal(&customer, &cmd.card).map_err(|e| UseCaseError::Unavailable(e.to_string()))?;
    let method = MethodSummary { id, brand: cmd.card.brand(), last4: cmd.card.last4(), expiry: cmd.expiry };
    let locale = cmd.locale.unwrap_or_else(|| svc.settings.merchant_locale(cmd.merchant_id.as_str()));
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
        locale,
        capture_method: cmd.capture_method,
        source_ip_keys: cmd.source_ip.as_ref().map(|ip| svc.hasher().source_ip_keys(ip)).unwrap_or_default(),
        present: Some(PresentCard { card: cmd.card, cvc: cmd.cvc }),
        network_reference: None,
        session: None,
    })
}

/// The id the customer's card is saved under: from its fingerprint under the current key, so
/// saving the same card twice updates one method instead of piling up copies. During a key
/// rotation (several keys), a copy saved under another key is found by its fingerprints under
/// every key (one read, only then) and keeps its id.
async fn method_id(svc: &Services, customer: &Customer, fingerprints: &[String]) -> Result<MethodId, UseCaseError> {
    // The id comes from the digest, not its key id: a fingerprint stored before digests
    // carried one gives the same id.
    let digest = |fp: &str| fp.split_once('.').map_or(fp, |(_, hex)| hex).to_owned();
    let current = fingerprints.first().map(|fp| MethodId::from_digest(&digest(fp))).unwrap_or_default();
    if fingerprints.len() < 2 {
        return Ok(current);
    }
    let digests: Vec<String> = fingerprints.iter().map(|fp| digest(fp)).collect();
    let saved = svc.payments.list_methods(customer).await?;
    Ok(saved.into_iter().find(|m| digests.contains(&digest(&m.fingerprint))).map_or(current, |m| m.id))
}
