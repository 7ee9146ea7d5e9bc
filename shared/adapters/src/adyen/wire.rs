//! Adyen Checkout API v71 on the wire: the requests the adapter sends and the answers it reads,
//! as `../shared/contracts/adyen/CheckoutService-v71.json` describes them (the contract tests
//! validate every request against it and parse its examples), and how an answer maps onto the
//! port's results. Pure: no HTTP here.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::domain::{DeclineReason, Money};
use crate::ports::{Authorization, StoredCredential};

/// `Amount`: minor units with the currency's ISO 4217 exponent, as ours.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Amount {
    pub currency: String,
    pub value: i64,
}

impl Amount {
    pub fn of(money: &Money) -> Self {
        Self { currency: money.currency.code().to_owned(), value: i64::try_from(money.minor).unwrap_or(i64::MAX) }
    }
}

/// `CardDetails`: a card in clear (its number and CVC only in this request, never logged), or a
/// stored one by Adyen's id.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardDetails<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_month: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_year: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_payment_method_id: Option<&'a str>,
}

impl std::fmt::Debug for CardDetails<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardDetails").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// `PaymentRequest` (`POST /payments`), the fields this platform sends.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest<'a> {
    pub merchant_account: &'a str,
    /// Our payment id: what Adyen's notifications name as `merchantReference`.
    pub reference: &'a str,
    pub amount: Amount,
    pub payment_method: CardDetails<'a>,
    /// `Ecommerce` with the shopper at the page (a first payment); `ContAuth` on a stored card.
    pub shopper_interaction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurring_processing_model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_payment_method: Option<bool>,
    /// A keyed hash of (merchant, user): never the raw ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shopper_reference: Option<&'a str>,
    /// Where a 3-D Secure redirect comes back to (required by the API).
    pub return_url: String,
    /// `Web`, with 3-D Secure as a redirect (`nativeThreeDS: disabled`): the page performs it
    /// with no Adyen library (a first payment's; a repeat payment's shopper is not present at
    /// the issuer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_data: Option<serde_json::Value>,
    /// `manualCapture`: funds are held until we capture; `networkTxReference` on a stored card.
    pub additional_data: BTreeMap<&'static str, String>,
}

/// `PaymentCaptureRequest`, `PaymentRefundRequest` (`POST /payments/{pspReference}/captures`,
/// `…/refunds`): an amount and our reference.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AmountRequest<'a> {
    pub merchant_account: &'a str,
    pub amount: Amount,
    pub reference: &'a str,
}

/// `PaymentCancelRequest` (`POST /payments/{pspReference}/cancels`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest<'a> {
    pub merchant_account: &'a str,
    pub reference: &'a str,
}

/// `StandalonePaymentCancelRequest` (`POST /cancels`): cancels whatever our payment id may have
/// authorised, when we never stored Adyen's reference (the invocation died).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelByReference<'a> {
    pub merchant_account: &'a str,
    pub payment_reference: &'a str,
    pub reference: &'a str,
}

/// `PaymentResponse`: the fields read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResponse {
    pub result_code: Option<String>,
    /// What the shopper must do (3-D Secure): passed to the page as it is.
    #[serde(default)]
    pub action: Option<serde_json::Value>,
    pub psp_reference: Option<String>,
    pub refusal_reason_code: Option<String>,
    #[serde(default)]
    pub additional_data: BTreeMap<String, String>,
}

/// `PaymentCaptureResponse`, `PaymentCancelResponse`, `PaymentRefundResponse`,
/// `StandalonePaymentCancelResponse`: Adyen took the request (`received`); its result comes by
/// notification.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationResponse {
    pub psp_reference: String,
    pub status: String,
}

/// `ServiceError`: what a 4xx or 5xx says. Only `errorCode` and `errorType` are ever logged:
/// `message` may repeat what was sent.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceError {
    pub error_code: Option<String>,
    pub error_type: Option<String>,
}

/// A saved card's reference at Adyen, kept as the port's opaque `network_reference`: the
/// stored payment method's id, the shopper reference it is stored under, and the network's
/// transaction reference of the first payment. `adyen1|<stored id>|<shopper>|<network ref>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    pub stored_payment_method_id: String,
    pub shopper_reference: String,
    pub network_tx_reference: Option<String>,
}

impl StoredCard {
    const TAG: &'static str = "adyen1";

    pub fn encode(&self) -> String {
        let ntx = self.network_tx_reference.as_deref().unwrap_or("");
        format!("{}|{}|{}|{ntx}", Self::TAG, self.stored_payment_method_id, self.shopper_reference)
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let mut parts = raw.split('|');
        let (tag, id, shopper, ntx) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        (tag == Self::TAG && !id.is_empty() && !shopper.is_empty() && parts.next().is_none()).then(|| Self {
            stored_payment_method_id: id.to_owned(),
            shopper_reference: shopper.to_owned(),
            network_tx_reference: (!ntx.is_empty()).then(|| ntx.to_owned()),
        })
    }
}

/// `PaymentDetailsRequest` (`POST /payments/details`): what the page gave back after the action.
#[derive(Debug, Serialize)]
pub struct DetailsRequest {
    pub details: serde_json::Value,
}

/// What the adapter sends for one authorisation's card and credential.
pub enum CardUse<'a> {
    /// The card in clear: a one-off payment, or the first on a card to be stored.
    Present { number: &'a str, month: u8, year: u16, cvc: Option<&'a str>, store_as: Option<&'a str> },
    /// A card stored at Adyen by an earlier payment.
    Stored(StoredCard),
}

impl CardUse<'_> {
    /// `shopperInteraction`, `recurringProcessingModel` and `storePaymentMethod`.
    pub fn interaction(&self) -> (&'static str, Option<&'static str>, Option<bool>) {
        match self {
            Self::Present { store_as: None, .. } => ("Ecommerce", None, None),
            Self::Present { store_as: Some(_), .. } => ("Ecommerce", Some("CardOnFile"), Some(true)),
            Self::Stored(_) => ("ContAuth", Some("CardOnFile"), None),
        }
    }
}

/// Whether a credential is stored at Adyen, from the port's request.
pub fn wants_storing(credential: &StoredCredential<'_>) -> bool {
    matches!(credential, StoredCredential::Initial)
}

/// What Adyen's answer to `POST /payments` (or `/payments/details`) means for us: approved,
/// declined, an action for the page (3-D Secure), or an answer to come (`Received`, `Pending`).
/// `Err` for what this platform does not take (a partial authorisation, a voucher to present,
/// an answer the contract does not allow): the payment stays `authorizing` and whatever it may
/// hold is canceled by its reference (the port's void with no authorisation id).
pub fn authorization_of(answer: &PaymentResponse, shopper_reference: Option<&str>) -> Result<Authorization, String> {
    let code = answer.result_code.as_deref().unwrap_or("");
    match ResultCode::parse(code) {
        Some(ResultCode::Authorised) => {
            let psp = answer.psp_reference.clone().filter(|p| !p.is_empty());
            let authorization_id = psp.ok_or("Authorised without a pspReference")?;
            Ok(Authorization::Approved { authorization_id, network_reference: stored_card(answer, shopper_reference) })
        }
        Some(ResultCode::Refused | ResultCode::Error | ResultCode::Cancelled) => {
            Ok(Authorization::Declined(decline_reason(answer.refusal_reason_code.as_deref())))
        }
        Some(ResultCode::RedirectShopper | ResultCode::IdentifyShopper | ResultCode::ChallengeShopper) => {
            match answer.action.as_ref().filter(|a| a.is_object()) {
                Some(action) => Ok(Authorization::ActionRequired { action: action.to_string() }),
                None => Err(format!("resultCode {code} without an action")),
            }
        }
        // Adyen answers later, by its AUTHORISATION notification.
        Some(ResultCode::Received | ResultCode::Pending) => Ok(Authorization::Pending),
        Some(
            r @ (ResultCode::PresentToShopper
            | ResultCode::PartiallyAuthorised
            | ResultCode::AuthenticationFinished
            | ResultCode::AuthenticationNotRequired
            | ResultCode::Success),
        ) => Err(format!("resultCode {} leaves the authorisation open", r.as_str())),
        None => Err("an unknown resultCode".into()),
    }
}

/// The stored card an approved first payment leaves, where Adyen stored one.
fn stored_card(answer: &PaymentResponse, shopper_reference: Option<&str>) -> Option<String> {
    let data = &answer.additional_data;
    let id = data.get("tokenization.storedPaymentMethodId").or_else(|| data.get("recurring.recurringDetailReference"));
    let ntx = data.get("networkTxReference").cloned();
    match (id, shopper_reference) {
        (Some(id), Some(shopper)) => Some(
            StoredCard {
                stored_payment_method_id: id.clone(),
                shopper_reference: shopper.to_owned(),
                network_tx_reference: ntx,
            }
            .encode(),
        ),
        _ => None,
    }
}

/// Adyen's `resultCode`s (the contract's enum), every one named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    AuthenticationFinished,
    AuthenticationNotRequired,
    Authorised,
    Cancelled,
    ChallengeShopper,
    Error,
    IdentifyShopper,
    PartiallyAuthorised,
    Pending,
    PresentToShopper,
    Received,
    RedirectShopper,
    Refused,
    Success,
}

impl ResultCode {
    pub const ALL: [Self; 14] = [
        Self::AuthenticationFinished,
        Self::AuthenticationNotRequired,
        Self::Authorised,
        Self::Cancelled,
        Self::ChallengeShopper,
        Self::Error,
        Self::IdentifyShopper,
        Self::PartiallyAuthorised,
        Self::Pending,
        Self::PresentToShopper,
        Self::Received,
        Self::RedirectShopper,
        Self::Refused,
        Self::Success,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthenticationFinished => "AuthenticationFinished",
            Self::AuthenticationNotRequired => "AuthenticationNotRequired",
            Self::Authorised => "Authorised",
            Self::Cancelled => "Cancelled",
            Self::ChallengeShopper => "ChallengeShopper",
            Self::Error => "Error",
            Self::IdentifyShopper => "IdentifyShopper",
            Self::PartiallyAuthorised => "PartiallyAuthorised",
            Self::Pending => "Pending",
            Self::PresentToShopper => "PresentToShopper",
            Self::Received => "Received",
            Self::RedirectShopper => "RedirectShopper",
            Self::Refused => "Refused",
            Self::Success => "Success",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Adyen's `refusalReasonCode` onto our decline codes (README, "Going live with Adyen"). What
/// the table does not name is `card_declined`: the shopper learns no more than the issuer said.
pub const REFUSAL_REASONS: [(&str, &str, DeclineReason); 14] = [
    ("2", "Refused", DeclineReason::CardDeclined),
    ("5", "Blocked Card", DeclineReason::CardDeclined),
    ("6", "Expired Card", DeclineReason::ExpiredCard),
    ("12", "Not enough balance", DeclineReason::InsufficientFunds),
    ("14", "Acquirer Fraud", DeclineReason::SuspectedFraud),
    ("20", "FRAUD", DeclineReason::SuspectedFraud),
    ("22", "FRAUD-CANCELLED", DeclineReason::SuspectedFraud),
    ("24", "CVC Declined", DeclineReason::IncorrectCvc),
    ("25", "Restricted Card", DeclineReason::CardDeclined),
    ("27", "Declined Non Generic", DeclineReason::CardDeclined),
    ("28", "Withdrawal amount exceeded", DeclineReason::LimitExceeded),
    ("29", "Withdrawal count exceeded", DeclineReason::LimitExceeded),
    ("31", "Issuer Suspected Fraud", DeclineReason::SuspectedFraud),
    ("46", "Closed Account", DeclineReason::CardDeclined),
];

pub fn decline_reason(refusal_reason_code: Option<&str>) -> DeclineReason {
    REFUSAL_REASONS
        .iter()
        .find(|(code, _, _)| Some(*code) == refusal_reason_code)
        .map_or(DeclineReason::CardDeclined, |(_, _, reason)| *reason)
}
