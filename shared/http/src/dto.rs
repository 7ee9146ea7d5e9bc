//! Request bodies as sent (types only: serde reports a missing or mistyped field as 400),
//! and their validation into commands (rules: 422 with the field's `param`).

use serde::Deserialize;

use crate::domain::FieldError;
use crate::domain::{
    session_lifetime, year_month, CancellationReason, CaptureMethod, CardNumber, Currency, Cvc, Expiry, Identifier,
    Locale, LocalePref, MethodId, Money, OrderSummary, Phone, ReturnUrl, VerificationCode,
};
use crate::domain::{RefundMetadata, RefundReason};
use crate::usecases::{Caller, FirstPaymentCommand, RefundAsk, RepeatPaymentCommand, SessionCommand, SessionPayment};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    number: String,
    exp_month: i64,
    exp_year: i64,
    cvc: String,
    /// Accepted and checked for type, not used (no acquirer needs it yet).
    #[serde(default, rename = "holder_name")]
    _holder_name: Option<String>,
}

impl CardBody {
    /// The card's number, expiry and CVC, each checked; `param`s as `card.number`, `card`, `card.cvc`.
    fn validate(&self, now: i64) -> Result<(CardNumber, Expiry, Cvc), FieldError> {
        Ok((
            CardNumber::parse("card.number", &self.number)?,
            Expiry::parse("card", self.exp_month, self.exp_year, year_month(now))?,
            Cvc::parse("card.cvc", &self.cvc)?,
        ))
    }
}

impl std::fmt::Debug for CardBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardBody(<redacted>)")
    }
}

/// No `Debug`: the phone is in clear until validated into a `Phone` (which prints masked).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstPaymentBody {
    user_id: String,
    phone: String,
    merchant_id: String,
    order_id: String,
    amount: i64,
    currency: String,
    card: CardBody,
    #[serde(default = "default_true")]
    save_card: bool,
    #[serde(default)]
    capture_method: Option<String>,
    #[serde(default)]
    locale: Option<String>,
}

/// The language of a merchant's payment's SMS: `en` or `zh-CN` (none: the merchant's default).
fn payment_locale(raw: Option<&str>) -> Result<Option<Locale>, FieldError> {
    raw.map(|raw| {
        Locale::parse(raw).ok_or_else(|| FieldError::new("invalid_locale", "locale", "locale must be en or zh-CN"))
    })
    .transpose()
}

fn default_true() -> bool {
    true
}

/// `automatic` (the default) or `manual`.
fn capture_method(raw: Option<&str>) -> Result<CaptureMethod, FieldError> {
    match raw {
        None => Ok(CaptureMethod::Automatic),
        Some(raw) => CaptureMethod::parse(raw).ok_or_else(|| {
            FieldError::new("invalid_capture_method", "capture_method", "capture_method must be automatic or manual")
        }),
    }
}

fn money(amount: i64, currency: &str) -> Result<Money, FieldError> {
    Money::new("amount", amount, Currency::parse("currency", currency)?)
}

impl FirstPaymentBody {
    pub fn validate(self, now: i64) -> Result<FirstPaymentCommand, FieldError> {
        let user_id = Identifier::parse("user_id", &self.user_id)?;
        let merchant_id = Identifier::parse("merchant_id", &self.merchant_id)?;
        let order_id = Identifier::parse("order_id", &self.order_id)?;
        let money = money(self.amount, &self.currency)?;
        let phone = Phone::parse("phone", &self.phone)?;
        let (card, expiry, cvc) = self.card.validate(now)?;
        Ok(FirstPaymentCommand {
            user_id,
            merchant_id,
            order_id,
            money,
            phone,
            card,
            expiry,
            cvc,
            save_card: self.save_card,
            capture_method: capture_method(self.capture_method.as_deref())?,
            // A merchant's server's address is not a shopper's: no per-address limit.
            source_ip: None,
            locale: payment_locale(self.locale.as_deref())?,
        })
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RepeatPaymentBody {
    user_id: String,
    merchant_id: String,
    order_id: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    payment_method_id: Option<String>,
    #[serde(default)]
    capture_method: Option<String>,
    #[serde(default)]
    locale: Option<String>,
}

fn method_id(raw: Option<String>) -> Result<Option<MethodId>, FieldError> {
    match raw {
        None => Ok(None),
        Some(raw) => Ok(Some(MethodId::parse(&raw).ok_or_else(|| {
            FieldError::new("invalid_identifier", "payment_method_id", "payment_method_id must be a pm_… id")
        })?)),
    }
}

impl RepeatPaymentBody {
    pub fn validate(self) -> Result<RepeatPaymentCommand, FieldError> {
        let method_id = method_id(self.payment_method_id)?;
        Ok(RepeatPaymentCommand {
            user_id: Identifier::parse("user_id", &self.user_id)?,
            merchant_id: Identifier::parse("merchant_id", &self.merchant_id)?,
            order_id: Identifier::parse("order_id", &self.order_id)?,
            money: money(self.amount, &self.currency)?,
            method_id,
            capture_method: capture_method(self.capture_method.as_deref())?,
            locale: payment_locale(self.locale.as_deref())?,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    code: String,
}

impl VerifyBody {
    pub fn validate(self) -> Result<VerificationCode, FieldError> {
        VerificationCode::parse("code", &self.code)
    }
}

/// `POST …/payments/{payment_id}/details`: what the page got back from the acquirer's action
/// (3-D Secure), passed on as it is: a JSON object of at most 16 string fields, 8 KB in all.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailsBody {
    details: serde_json::Map<String, serde_json::Value>,
}

impl DetailsBody {
    pub fn validate(self) -> Result<String, FieldError> {
        let refuse = || {
            FieldError::new(
                "invalid_details",
                "details",
                "details must be the action's result: at most 16 string fields, 8 KB",
            )
        };
        if self.details.is_empty()
            || self.details.len() > 16
            || !self.details.values().all(serde_json::Value::is_string)
        {
            return Err(refuse());
        }
        let text = serde_json::Value::Object(self.details).to_string();
        if text.len() > 8 * 1024 {
            return Err(refuse());
        }
        Ok(text)
    }
}

/// `POST /payments/{payment_id}/capture`: how much of the held funds (default: all).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CaptureBody {
    #[serde(default)]
    amount: Option<i64>,
}

impl CaptureBody {
    pub fn validate(self) -> Result<Option<u64>, FieldError> {
        self.amount
            .map(|a| {
                u64::try_from(a)
                    .ok()
                    .filter(|a| *a > 0)
                    .ok_or_else(|| FieldError::new("invalid_amount", "amount", "amount must be a positive integer"))
            })
            .transpose()
    }
}

/// `POST /payments/{payment_id}/refunds`: how much (default: all that is left), why, and the
/// merchant's own metadata.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    metadata: Option<std::collections::BTreeMap<String, String>>,
}

impl RefundBody {
    pub fn validate(self) -> Result<RefundAsk, FieldError> {
        let amount = CaptureBody { amount: self.amount }.validate()?;
        let reason = match self.reason.as_deref() {
            None => None,
            Some(raw) => Some(RefundReason::parse(raw).ok_or_else(|| {
                FieldError::new(
                    "invalid_reason",
                    "reason",
                    "reason must be requested_by_customer, duplicate or fraudulent",
                )
            })?),
        };
        let metadata = RefundMetadata::parse(self.metadata.unwrap_or_default())?;
        Ok(RefundAsk { amount, reason, metadata })
    }
}

/// `POST /payments/{payment_id}/cancel`: why, if the merchant says.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
}

impl CancelBody {
    /// The reason given (`requested_by_customer` when none is).
    pub fn validate(self) -> Result<CancellationReason, FieldError> {
        match self.reason.as_deref() {
            None => Ok(CancellationReason::RequestedByCustomer),
            Some(raw) => CancellationReason::GIVEN.into_iter().find(|r| r.as_str() == raw).ok_or_else(|| {
                FieldError::new(
                    "invalid_reason",
                    "reason",
                    "reason must be requested_by_customer, duplicate, fraudulent or abandoned",
                )
            }),
        }
    }
}

/// Resend and expire take no fields: an empty body or `{}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

/// `POST /checkout/sessions`: the order the shopper is to pay.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    user_id: String,
    order_id: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    return_url: Option<String>,
    /// Optional; when given it must be the caller's own (`403 merchant_mismatch`).
    #[serde(default)]
    pub merchant_id: Option<String>,
    #[serde(default)]
    capture_method: Option<String>,
    /// `auto` (the default: the browser's language, else the merchant's), `en` or `zh-CN`.
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    cancel_url: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    line_items: Option<Vec<LineItemBody>>,
}

/// One line of the order a session shows: the line's amount is its total.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct LineItemBody {
    name: String,
    quantity: i64,
    amount: i64,
}

impl SessionBody {
    pub fn validate(self, allow_local_http: bool) -> Result<SessionCommand, FieldError> {
        let money = money(self.amount, &self.currency)?;
        let items: Vec<(String, i64, i64)> =
            self.line_items.unwrap_or_default().into_iter().map(|l| (l.name, l.quantity, l.amount)).collect();
        Ok(SessionCommand {
            user_id: Identifier::parse("user_id", &self.user_id)?,
            order_id: Identifier::parse("order_id", &self.order_id)?,
            money,
            expires_in: session_lifetime(self.expires_in)?,
            return_url: self.return_url.map(|u| ReturnUrl::parse("return_url", &u, allow_local_http)).transpose()?,
            capture_method: capture_method(self.capture_method.as_deref())?,
            locale: self.locale.map(|l| LocalePref::parse("locale", &l)).transpose()?.unwrap_or_default(),
            cancel_url: self.cancel_url.map(|u| ReturnUrl::parse("cancel_url", &u, allow_local_http)).transpose()?,
            summary: OrderSummary::new(self.description.as_deref(), &items, &money)?,
        })
    }
}

/// `POST /checkout/{session_id}/payments`: the card and the phone; the order is the session's,
/// so naming `user_id`, `merchant_id`, `order_id`, `amount` or `currency` is refused (400).
/// No `Debug`, as for [`FirstPaymentBody`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCardBody {
    phone: String,
    card: CardBody,
    #[serde(default = "default_true")]
    save_card: bool,
}

impl SessionCardBody {
    /// The card payment, from the shopper's browser `caller` (its address and language).
    pub fn validate(self, now: i64, caller: &Caller) -> Result<SessionPayment, FieldError> {
        let phone = Phone::parse("phone", &self.phone)?;
        let (card, expiry, cvc) = self.card.validate(now)?;
        let source_ip = caller.source_ip().cloned();
        let locale = caller.browser_locale();
        Ok(SessionPayment::Card { phone, card, expiry, cvc, save_card: self.save_card, source_ip, locale })
    }
}

/// `POST /checkout/{session_id}/payments/repeat`: which saved card, if not the latest.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct SessionRepeatBody {
    #[serde(default)]
    payment_method_id: Option<String>,
}

impl SessionRepeatBody {
    /// The saved-card payment, from the shopper's browser `caller` (its address and language).
    pub fn validate(self, caller: &Caller) -> Result<SessionPayment, FieldError> {
        Ok(SessionPayment::Saved {
            method_id: method_id(self.payment_method_id)?,
            source_ip: caller.source_ip().cloned(),
            locale: caller.browser_locale(),
        })
    }
}

/// `POST /webhook-endpoints`: where, which events, and a note.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    url: String,
    enabled_events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

impl EndpointBody {
    /// `local`: the local stack (allows `http://127.0.0.1`).
    pub fn validate(self, local: bool) -> Result<crate::usecases::EndpointAsk, FieldError> {
        Ok(crate::usecases::EndpointAsk {
            url: payments_core::webhooks::endpoint::endpoint_url(&self.url, local)?,
            events: payments_core::webhooks::Subscribed::parse(&self.enabled_events)?,
            description: payments_core::webhooks::endpoint::description(self.description.as_deref())?,
        })
    }
}

/// `PATCH /webhook-endpoints/{id}`: what changes (a `null` description removes it).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatchBody {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    enabled_events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// A field that is present (even as `null`) is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl EndpointPatchBody {
    pub fn validate(self, local: bool) -> Result<crate::usecases::EndpointPatch, FieldError> {
        use payments_core::webhooks::endpoint::{description, endpoint_url};
        Ok(crate::usecases::EndpointPatch {
            url: self.url.map(|u| endpoint_url(&u, local)).transpose()?,
            events: self.enabled_events.map(|e| payments_core::webhooks::Subscribed::parse(&e)).transpose()?,
            description: self.description.map(|d| description(d.as_deref())).transpose()?,
            enabled: self.enabled,
        })
    }
}
