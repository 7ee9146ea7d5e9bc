//! The payment object every answer carries. No card number, CVC, code or full phone can
//! appear: the domain types only expose masked forms here.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use serde::Serialize;

use crate::domain::{
    CardBrand, CheckoutSession, DeclineReason, Failure, HistoryPage, Identifier, Locale, Money, Payment, PaymentStatus,
    Refund, RefundFailure, RefundReason, SessionId, MAX_SENDS, RESEND_COOLDOWN_SECS,
};
use crate::ports::SavedCard;
use crate::usecases::SessionView;

/// Which routes an answer's links name: the merchant's, or one session's (a browser answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urls {
    Merchant,
    Session(SessionId),
}

impl Urls {
    fn prefix(&self) -> String {
        match self {
            Self::Merchant => String::new(),
            Self::Session(id) => format!("/checkout/{id}"),
        }
    }

    /// Where a payment with card details is started.
    pub fn new_payment(&self) -> String {
        format!("{}/payments", self.prefix())
    }
}

pub fn rfc3339(epoch_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(epoch_secs).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

/// A payment as the caller of `urls` sees it: the merchant's whole view, or the shopper's
/// ([`ShopperPayment`]).
pub fn payment_view(p: &Payment, now: i64, urls: &Urls) -> Value {
    match urls {
        Urls::Merchant => merchant_payment_view(p, now),
        Urls::Session(_) => serde_json::to_value(ShopperPayment::of(p, now, urls)).unwrap_or(Value::Null),
    }
}

/// A payment as a shopper's browser sees it: no merchant-internal id (the user id), and a
/// decline as the one thing a shopper can act on (`card_declined`: check the card or use
/// another), never the issuer's reason, which tells a card tester which cards are live.
#[derive(Debug, Serialize)]
pub struct ShopperPayment<'a> {
    payment_id: &'a str,
    /// A short reference to read out to support (`7K3F-9QXA`).
    reference: String,
    status: &'static str,
    order_id: &'a str,
    amount: u64,
    currency: &'static str,
    payment_method: ShopperMethod<'a>,
    created_at: String,
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_action: Option<Value>,
}

#[derive(Debug, Serialize)]
struct ShopperMethod<'a> {
    id: &'a str,
    brand: &'static str,
    last4: &'a str,
    exp_month: u8,
    exp_year: u16,
}

impl<'a> ShopperPayment<'a> {
    pub fn of(p: &'a Payment, now: i64, urls: &Urls) -> Self {
        Self {
            payment_id: p.id.as_str(),
            reference: p.id.reference(),
            status: p.status.as_str(),
            order_id: p.order_id.as_str(),
            amount: p.money.minor,
            currency: p.money.currency.code(),
            payment_method: ShopperMethod {
                id: p.method.id.as_str(),
                brand: p.method.brand.as_str(),
                last4: &p.method.last4,
                exp_month: p.method.expiry.month,
                exp_year: p.method.expiry.year,
            },
            created_at: rfc3339(p.created_at),
            session_id: p.session_id.as_ref().map(|s| s.as_str()),
            failure_code: shopper_failure_code(p),
            next_action: (now < p.expires_at).then(|| next_action(p, urls)).flatten(),
        }
    }
}

/// A failure's code as a shopper sees it: every issuer's decline reason is `card_declined`.
pub fn shopper_failure_code(p: &Payment) -> Option<&'static str> {
    match p.failure? {
        Failure::Declined(_) => Some(DeclineReason::CardDeclined.code()),
        other => Some(other.code()),
    }
}

fn merchant_payment_view(p: &Payment, now: i64) -> Value {
    let urls = &Urls::Merchant;
    let mut view = json!({
        "payment_id": p.id.as_str(),
        "reference": p.id.reference(),
        "status": p.status.as_str(),
        "user_id": p.user_id.as_str(),
        "merchant_id": p.merchant_id.as_str(),
        "order_id": p.order_id.as_str(),
        "amount": p.money.minor,
        "currency": p.money.currency.code(),
        "payment_method": {
            "id": p.method.id.as_str(),
            "brand": p.method.brand.as_str(),
            "last4": p.method.last4,
            "exp_month": p.method.expiry.month,
            "exp_year": p.method.expiry.year,
        },
        "created_at": rfc3339(p.created_at),
        "session_id": p.session_id.as_ref().map(|s| s.as_str()),
        "capture_method": p.capture_method.as_str(),
        "amount_authorized": amount_authorized(p),
        "amount_captured": p.amount_captured(),
        "capture_before": p.capture_before.map(rfc3339),
        "cancellation_reason": p.cancellation_reason.map(|r| r.as_str()),
        "amount_refunded": p.amount_refunded(),
        "amount_refundable": p.amount_refundable(),
        "refunds": p.refunds.iter().map(|r| refund_view(p, r)).collect::<Vec<_>>(),
    });
    if let Some(fields) = view.as_object_mut() {
        if let Some(code) = p.failure_code() {
            fields.insert("failure_code".into(), json!(code));
        }
        if let Some(action) = (now < p.expires_at).then(|| next_action(p, urls)).flatten() {
            fields.insert("next_action".into(), action);
        }
        if p.status == PaymentStatus::RequiresCapture && !p.is_expired_at(now) {
            fields.insert("next_action".into(), capture_action(p));
        }
    }
    view
}

/// A refund as the merchant sees it (`POST /payments/{id}/refunds`, `GET /refunds/{id}`, and
/// in its payment's `refunds`).
pub fn refund_view(p: &Payment, r: &Refund) -> Value {
    json!({
        "id": r.id.as_str(),
        "object": "refund",
        "payment_id": p.id.as_str(),
        "status": r.status.as_str(),
        "amount": r.amount,
        "currency": p.money.currency.code(),
        "reason": r.reason.map(RefundReason::as_str),
        "failure_reason": r.failure_reason.map(RefundFailure::as_str),
        "metadata": r.metadata.pairs(),
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
    })
}

/// What the acquirer holds or held for the payment: its amount once it is authorised.
fn amount_authorized(p: &Payment) -> Option<u64> {
    let authorised = p.hold.is_some()
        || matches!(p.status, PaymentStatus::RequiresCapture | PaymentStatus::Capturing | PaymentStatus::Succeeded);
    authorised.then_some(p.money.minor)
}

/// A held manual-capture payment's next step, the merchant's: capture (all or part) or cancel,
/// before `capture_before`.
fn capture_action(p: &Payment) -> Value {
    json!({
        "type": "capture_or_cancel",
        "capture_url": format!("/payments/{}/capture", p.id),
        "cancel_url": format!("/payments/{}/cancel", p.id),
        "capture_before": p.capture_before.map(rfc3339),
    })
}

/// The step the client takes next: enter the code sent by SMS (or ask for another).
fn next_action(p: &Payment, urls: &Urls) -> Option<Value> {
    if p.status == PaymentStatus::RequiresAction {
        // What the acquirer asked the page to do (3-D Secure: a redirect to the issuer), and
        // where its result goes.
        let action: Value = p.action.as_deref().and_then(|a| serde_json::from_str(a).ok()).unwrap_or(Value::Null);
        return Some(json!({
            "type": "authenticate_with_issuer",
            "acquirer_action": action,
            "details_url": format!("{}/payments/{}/details", urls.prefix(), p.id),
        }));
    }
    if !p.is_pending() {
        return None;
    }
    let v = &p.verification;
    Some(json!({
        "type": "enter_verification_code",
        "sent_to": p.phone.masked(),
        "expires_at": rfc3339(v.expires_at),
        "attempts_remaining": v.attempts_remaining,
        "verify_url": format!("{}/payments/{}/verify", urls.prefix(), p.id),
        "resend_url": format!("{}/payments/{}/resend", urls.prefix(), p.id),
        "resend_available_at": rfc3339(v.last_sent_at + RESEND_COOLDOWN_SECS),
        "sends_remaining": MAX_SENDS.saturating_sub(v.sends),
    }))
}

/// A page of a user's payments, newest first, each in the same shape as every other answer.
pub fn history_view(user_id: &Identifier, page: &HistoryPage, now: i64) -> Value {
    json!({
        "object": "list",
        "url": format!("/users/{user_id}/payments"),
        "data": page.payments.iter().map(|p| payment_view(p, now, &Urls::Merchant)).collect::<Vec<_>>(),
        "has_more": page.next.is_some(),
        "next_cursor": page.next.as_ref().map(|c| c.encode()),
    })
}

/// A checkout session as its merchant sees it: never its secret (only the answer that creates
/// it carries that, added by the caller).
pub fn session_view(view: &SessionView, now: i64) -> Value {
    let s = &view.session;
    json!({
        "object": "checkout_session",
        "id": s.id.as_str(),
        "status": s.status(view.is_complete(), now).as_str(),
        "merchant_id": s.merchant_id.as_str(),
        "user_id": s.user_id.as_str(),
        "order_id": s.order_id.as_str(),
        "amount": s.money.minor,
        "currency": s.money.currency.code(),
        "created_at": rfc3339(s.created_at),
        "expires_at": rfc3339(s.ends_at()),
        "return_url": s.return_url.as_ref().map(|u| u.as_str()),
        "payment_id": s.payment_id.as_ref().map(|p| p.as_str()),
        "payment_status": view.payment.as_ref().map(|p| p.status.as_str()),
        "capture_method": s.capture_method.as_str(),
        "locale": s.locale.as_str(),
        "cancel_url": s.cancel_url.as_ref().map(|u| u.as_str()),
        "description": s.summary.description,
        "line_items": s.summary.line_items.iter().map(|l| json!({
            "name": l.name,
            "quantity": l.quantity,
            "amount": l.amount,
        })).collect::<Vec<_>>(),
    })
}

/// What the shopper's page needs, and nothing more: no user id, no phone, no other session.
/// Amounts are written in `locale`, the language the session speaks to this browser.
pub fn state_view(view: &SessionView, methods: &[SavedCard], merchant_name: &str, locale: Locale, now: i64) -> Value {
    let s: &CheckoutSession = &view.session;
    let urls = Urls::Session(s.id.clone());
    let display = |minor: u64| locale.money(&Money { minor, currency: s.money.currency });
    json!({
        "object": "checkout_state",
        "session_id": s.id.as_str(),
        "status": s.status(view.is_complete(), now).as_str(),
        "locale": locale.tag(),
        "amount": s.money.minor,
        "currency": s.money.currency.code(),
        "amount_display": display(s.money.minor),
        "description": s.summary.description,
        "line_items": s.summary.line_items.iter().map(|l| json!({
            "name": l.name,
            "quantity": l.quantity,
            "amount": l.amount,
            "amount_display": display(l.amount),
        })).collect::<Vec<_>>(),
        "back_url": s.back_url(),
        "merchant_name": merchant_name,
        "order_id": s.order_id.as_str(),
        "expires_at": rfc3339(s.ends_at()),
        "return_url": s.return_url.as_ref().map(|u| u.as_str()),
        "saved_payment_methods": methods.iter().map(|m| json!({
            "id": m.id.as_str(),
            "brand": m.brand.as_str(),
            "brand_name": brand_name(m.brand),
            "last4": m.last4,
            "exp_month": m.expiry.month,
            "exp_year": m.expiry.year,
        })).collect::<Vec<_>>(),
        "payment": view.payment.as_ref().map(|p| payment_view(p, now, &urls)),
    })
}

pub fn brand_name(brand: CardBrand) -> &'static str {
    match brand {
        CardBrand::Visa => "Visa",
        CardBrand::Mastercard => "Mastercard",
        CardBrand::Amex => "American Express",
        CardBrand::Discover => "Discover",
        CardBrand::Jcb => "JCB",
        CardBrand::Unionpay => "UnionPay",
        CardBrand::Diners => "Diners Club",
        CardBrand::Unknown => "Card",
    }
}
