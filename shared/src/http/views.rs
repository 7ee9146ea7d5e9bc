//! The payment object every answer carries. No card number, CVC, code or full phone can
//! appear: the domain types only expose masked forms here.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::domain::{HistoryPage, Identifier, Payment, MAX_SENDS, RESEND_COOLDOWN_SECS};

pub fn rfc3339(epoch_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(epoch_secs).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

pub fn payment_view(p: &Payment, now: i64) -> Value {
    let mut view = json!({
        "payment_id": p.id.as_str(),
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
    });
    if let Some(fields) = view.as_object_mut() {
        if let Some(code) = &p.failure_code {
            fields.insert("failure_code".into(), json!(code));
        }
        if p.is_pending() && now < p.expires_at {
            fields.insert("next_action".into(), next_action(p));
        }
    }
    view
}

/// The step the client takes next: enter the code sent by SMS (or ask for another).
fn next_action(p: &Payment) -> Value {
    let v = &p.verification;
    json!({
        "type": "enter_verification_code",
        "sent_to": p.phone.masked(),
        "expires_at": rfc3339(v.expires_at),
        "attempts_remaining": v.attempts_remaining,
        "verify_url": format!("/payments/{}/verify", p.id),
        "resend_url": format!("/payments/{}/resend", p.id),
        "resend_available_at": rfc3339(v.last_sent_at + RESEND_COOLDOWN_SECS),
        "sends_remaining": MAX_SENDS.saturating_sub(v.sends),
    })
}

/// A page of a user's payments, newest first, each in the same shape as every other answer.
pub fn history_view(user_id: &Identifier, page: &HistoryPage, now: i64) -> Value {
    json!({
        "object": "list",
        "url": format!("/users/{user_id}/payments"),
        "data": page.payments.iter().map(|p| payment_view(p, now)).collect::<Vec<_>>(),
        "has_more": page.next.is_some(),
        "next_cursor": page.next.as_ref().map(|c| c.encode()),
    })
}
