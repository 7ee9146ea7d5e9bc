//! Which webhook events a change emits, decided from the record before and after it (as a
//! DynamoDB stream record carries them, old and new image): pure, so the same change always
//! yields the same events with the same ids, and a stream record delivered twice yields each
//! event once (its id is a digest of what changed, not a random one).

use sha2::{Digest, Sha256};

use crate::domain::{CheckoutSession, EventId, Failure, Payment, PaymentStatus, RefundId, RefundStatus};

/// Every event type, closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    CheckoutSessionCompleted,
    CheckoutSessionExpired,
    PaymentRequiresCapture,
    PaymentSucceeded,
    PaymentFailed,
    PaymentCanceled,
    PaymentExpired,
    RefundSucceeded,
    RefundFailed,
    PayerLocked,
    WebhookEndpointDisabled,
}

impl EventType {
    pub const ALL: [Self; 11] = [
        Self::CheckoutSessionCompleted,
        Self::CheckoutSessionExpired,
        Self::PaymentRequiresCapture,
        Self::PaymentSucceeded,
        Self::PaymentFailed,
        Self::PaymentCanceled,
        Self::PaymentExpired,
        Self::RefundSucceeded,
        Self::RefundFailed,
        Self::PayerLocked,
        Self::WebhookEndpointDisabled,
    ];

    /// The wire name (`type` of the event, what an endpoint's `enabled_events` names).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckoutSessionCompleted => "checkout.session.completed",
            Self::CheckoutSessionExpired => "checkout.session.expired",
            Self::PaymentRequiresCapture => "payment.requires_capture",
            Self::PaymentSucceeded => "payment.succeeded",
            Self::PaymentFailed => "payment.failed",
            Self::PaymentCanceled => "payment.canceled",
            Self::PaymentExpired => "payment.expired",
            Self::RefundSucceeded => "refund.succeeded",
            Self::RefundFailed => "refund.failed",
            Self::PayerLocked => "payer.locked",
            Self::WebhookEndpointDisabled => "webhook_endpoint.disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One event a change emits: its type, its id (the same for the same change, however often the
/// change is seen), and the refund it is about, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    pub id: EventId,
    pub kind: EventType,
    pub refund: Option<RefundId>,
}

fn emitted(object: &str, version: u64, kind: EventType, refund: Option<&RefundId>) -> Emitted {
    let mut sha = Sha256::new();
    for part in [object, &version.to_string(), kind.as_str(), refund.map_or("", RefundId::as_str)] {
        sha.update((part.len() as u32).to_be_bytes());
        sha.update(part.as_bytes());
    }
    Emitted { id: EventId::from_digest(&hex::encode(sha.finalize())), kind, refund: refund.cloned() }
}

/// The events a payment's change emits: its status reaching one a merchant acts on (with the
/// session it was paid in completed, and a payer locked out), and each refund reaching its end.
pub fn payment_events(before: Option<&Payment>, after: &Payment) -> Vec<Emitted> {
    let mut out = Vec::new();
    let (id, version) = (after.id.as_str(), after.version);
    if before.map(|b| b.status) != Some(after.status) {
        let kinds: &[EventType] = match after.status {
            PaymentStatus::RequiresCapture => &[EventType::PaymentRequiresCapture],
            PaymentStatus::Succeeded => &[EventType::PaymentSucceeded],
            PaymentStatus::Failed if after.failure == Some(Failure::PayerLocked) => {
                &[EventType::PaymentFailed, EventType::PayerLocked]
            }
            PaymentStatus::Failed => &[EventType::PaymentFailed],
            PaymentStatus::Canceled => &[EventType::PaymentCanceled],
            PaymentStatus::Expired => &[EventType::PaymentExpired],
            PaymentStatus::Authorizing
            | PaymentStatus::RequiresAction
            | PaymentStatus::RequiresVerification
            | PaymentStatus::Capturing => &[],
        };
        out.extend(kinds.iter().map(|k| emitted(id, version, *k, None)));
        // A session is complete once its payment holds or took the funds: once only (a hold
        // confirmed earlier, `capture_before`, completed it then; its capture completes nothing).
        let completes = match after.status {
            PaymentStatus::RequiresCapture => true,
            PaymentStatus::Succeeded => after.capture_before.is_none(),
            PaymentStatus::Authorizing
            | PaymentStatus::RequiresAction
            | PaymentStatus::RequiresVerification
            | PaymentStatus::Capturing
            | PaymentStatus::Failed
            | PaymentStatus::Expired
            | PaymentStatus::Canceled => false,
        };
        if completes && after.session_id.is_some() {
            out.push(emitted(id, version, EventType::CheckoutSessionCompleted, None));
        }
    }
    for refund in &after.refunds {
        let was = before.and_then(|b| b.refund(&refund.id)).map(|r| r.status);
        let kind = match refund.status {
            RefundStatus::Succeeded => EventType::RefundSucceeded,
            RefundStatus::Failed => EventType::RefundFailed,
            RefundStatus::Pending => continue,
        };
        if was != Some(refund.status) {
            out.push(emitted(id, version, kind, Some(&refund.id)));
        }
    }
    out
}

/// The events a session's own change emits: ended, which only an unpaid session is (by its
/// merchant, or by the sweeper at its deadline; both refuse a paid one).
pub fn session_events(before: Option<&CheckoutSession>, after: &CheckoutSession) -> Vec<Emitted> {
    let ended_now = after.ended_at.is_some() && before.is_none_or(|b| b.ended_at.is_none());
    if ended_now {
        vec![emitted(after.id.as_str(), after.version, EventType::CheckoutSessionExpired, None)]
    } else {
        Vec::new()
    }
}

/// The events a merchant's endpoints' change emits: an endpoint the platform disabled (a `410`,
/// five days of failures; not the merchant's own `PATCH`). `version` is the record's.
pub fn endpoint_events(
    before: &[super::Endpoint],
    after: &[super::Endpoint],
    version: u64,
) -> Vec<(Emitted, crate::domain::EndpointId)> {
    after
        .iter()
        .filter(|e| matches!(e.disabled, Some(super::Disabled::Gone | super::Disabled::Failing)))
        .filter(|e| before.iter().find(|b| b.id == e.id).is_none_or(|b| b.disabled != e.disabled))
        .map(|e| (emitted(e.id.as_str(), version, EventType::WebhookEndpointDisabled, None), e.id.clone()))
        .collect()
}
