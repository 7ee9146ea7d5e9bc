//! A captured payment's refunds (issue 23): each is part of its payment, decided by the payment's
//! state machine ([`crate::Command::RefundPayment`], [`crate::Command::SettleRefund`]) and kept in
//! the payment's own item, so the rule "refunds that have not failed never exceed what was
//! captured" is a condition of the one write that creates a refund.

use std::collections::BTreeMap;

use super::FieldError;

/// At most this many refunds per payment (failed ones count).
pub const MAX_REFUNDS: usize = 10;
/// A pending refund is the sweeper's once this long has passed since it last changed: past the
/// longest function timeout, so the sweeper never overtakes the request that created it.
pub const REFUND_GRACE_SECS: i64 = 90;
/// How long after its capture a payment may be refunded, unless configured lower (180 days).
pub const DEFAULT_REFUND_WINDOW_SECS: i64 = 180 * 86_400;
/// Metadata: at most 20 pairs, keys of 1–40 characters, values of at most 500.
pub const MAX_METADATA_PAIRS: usize = 20;
const MAX_METADATA_KEY: usize = 40;
const MAX_METADATA_VALUE: usize = 500;

/// Where a refund stands: `pending` until the acquirer's answer is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub const ALL: [Self; 3] = [Self::Pending, Self::Succeeded, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Why the merchant refunds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundReason {
    RequestedByCustomer,
    Duplicate,
    Fraudulent,
}

impl RefundReason {
    pub const ALL: [Self; 3] = [Self::RequestedByCustomer, Self::Duplicate, Self::Fraudulent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestedByCustomer => "requested_by_customer",
            Self::Duplicate => "duplicate",
            Self::Fraudulent => "fraudulent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Why a refund failed: the closed set a merchant is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundFailure {
    /// The issuer or the acquirer declined it.
    Declined,
    /// The card was closed or expired since the payment.
    ExpiredOrCanceledCard,
    /// The card was reported lost or stolen.
    LostOrStolenCard,
}

impl RefundFailure {
    pub const ALL: [Self; 3] = [Self::Declined, Self::ExpiredOrCanceledCard, Self::LostOrStolenCard];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Declined => "declined",
            Self::ExpiredOrCanceledCard => "expired_or_canceled_card",
            Self::LostOrStolenCard => "lost_or_stolen_card",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// The acquirer's final answer to a pending refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundSettlement {
    Succeeded,
    /// The refund failed: its amount is refundable again.
    Failed(RefundFailure),
}

/// A merchant's own key-value pairs on a refund (at most 20; never shown to shoppers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefundMetadata(BTreeMap<String, String>);

impl RefundMetadata {
    pub fn parse(pairs: BTreeMap<String, String>) -> Result<Self, FieldError> {
        let invalid = |message: &str| FieldError::new("invalid_metadata", "metadata", message);
        if pairs.len() > MAX_METADATA_PAIRS {
            return Err(invalid("metadata has at most 20 keys"));
        }
        for (key, value) in &pairs {
            if key.is_empty() || key.chars().count() > MAX_METADATA_KEY || key.contains('[') {
                return Err(invalid("metadata keys are 1-40 characters, without '['"));
            }
            if value.chars().count() > MAX_METADATA_VALUE {
                return Err(invalid("metadata values are at most 500 characters"));
            }
        }
        Ok(Self(pairs))
    }

    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// One refund of a captured payment, in its payment's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: super::RefundId,
    /// Minor units, more than zero.
    pub amount: u64,
    pub reason: Option<RefundReason>,
    pub metadata: RefundMetadata,
    pub status: RefundStatus,
    pub failure_reason: Option<RefundFailure>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Refund {
    /// A refund about to be asked for: `pending` until the acquirer answers.
    pub fn pending(
        id: super::RefundId,
        amount: u64,
        reason: Option<RefundReason>,
        metadata: RefundMetadata,
        now: i64,
    ) -> Self {
        Self {
            id,
            amount,
            reason,
            metadata,
            status: RefundStatus::Pending,
            failure_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether it counts against what is refundable: pending or succeeded.
    pub fn holds_amount(&self) -> bool {
        self.status != RefundStatus::Failed
    }
}
