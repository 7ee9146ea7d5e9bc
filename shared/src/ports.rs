//! The small traits use cases are written against. Adapters implement them for DynamoDB, SNS,
//! the sandbox acquirer and memory.

use async_trait::async_trait;

use crate::domain::{
    CardBrand, CardNumber, CheckoutSession, Customer, Expiry, HistoryCursor, HistoryPage, Identifier, MethodId, Money,
    Payment, PaymentId, Phone, SessionId,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the record changed (or exists) since it was read.
    #[error("conditional write lost a race")]
    Conflict,
    /// Storage could not be reached or refused for load; worth a retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be read back into the domain.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

/// A card saved for repeat payments: one merchant's customer's, bound to the phone that
/// verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMethod {
    pub id: MethodId,
    pub customer: Customer,
    pub brand: CardBrand,
    pub last4: String,
    pub expiry: Expiry,
    pub fingerprint: String,
    pub sealed_card: String,
    pub phone: Phone,
    pub saved_at: i64,
}

#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Stores a new payment; `Conflict` if the id exists.
    async fn insert(&self, payment: &Payment) -> Result<(), StoreError>;

    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError>;

    /// Replaces a payment if its stored version still equals `payment.version`, writing
    /// `version + 1`; `Conflict` otherwise. A payment written as succeeded claims its order
    /// (merchant, `order_id`) in the same transaction: `Conflict` too if another payment holds
    /// it, so an order is paid at most once. With `save`, the saved method is written in that
    /// transaction as well; a method that exists keeps the phone it is bound to.
    async fn update(&self, payment: &Payment, save: Option<&SavedMethod>) -> Result<(), StoreError>;

    /// The payment that paid `order_id` of `merchant_id`, if one has.
    async fn order_paid_by(
        &self,
        merchant_id: &Identifier,
        order_id: &Identifier,
    ) -> Result<Option<PaymentId>, StoreError>;

    /// The customer's method `id`, or with `None` the most recently saved one. Another
    /// merchant's customer with the same `user_id` has other methods.
    async fn find_method(&self, customer: &Customer, id: Option<&MethodId>) -> Result<Option<SavedMethod>, StoreError>;

    /// All the customer's saved methods, the most recently saved first.
    async fn list_methods(&self, customer: &Customer) -> Result<Vec<SavedMethod>, StoreError>;

    /// Stores a new checkout session; `Conflict` if the id exists.
    async fn insert_session(&self, session: &CheckoutSession) -> Result<(), StoreError>;

    async fn get_session(&self, id: &SessionId) -> Result<Option<CheckoutSession>, StoreError>;

    /// Stores the new `payment` as `session`'s latest, in one transaction: the session moves
    /// to it only if its stored version still equals `session.version` and it has not ended,
    /// and `cancel` (the session's pending payment, already marked canceled) is written with
    /// its version checked. `Conflict` when any condition fails: nothing is written.
    async fn insert_in_session(
        &self,
        session: &CheckoutSession,
        payment: &Payment,
        cancel: Option<&Payment>,
    ) -> Result<(), StoreError>;

    /// Writes `session` (ended, or with a new secret) if its stored version still equals
    /// `session.version`, with `cancel` (its pending payment, marked canceled) in the same
    /// transaction.
    async fn update_session(&self, session: &CheckoutSession, cancel: Option<&Payment>) -> Result<(), StoreError>;

    /// Up to `limit` of the user's payments at `merchant`, newest first, starting after
    /// `after` (a page may hold fewer: other merchants' are filtered out). One read per page.
    async fn list_for_user(
        &self,
        user_id: &Identifier,
        merchant: &Identifier,
        limit: u8,
        after: Option<&HistoryCursor>,
    ) -> Result<HistoryPage, StoreError>;
}

/// Idempotency keys are kept for 24 hours.
pub const KEY_RETENTION_SECS: i64 = 24 * 60 * 60;

/// A response kept for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours to execute under; `token` proves it when completing or releasing.
    /// `origin` is the token of the attempt that first claimed the key: it stays the same
    /// across takeovers, so retries can derive the same ids from it. `recovering` says an
    /// earlier attempt died mid-way (its claim outlived its deadline) and this one takes over.
    Acquired { token: String, origin: String, recovering: bool },
    /// The same request already completed: answer this again.
    Replay(StoredResponse),
    /// The same request is still running elsewhere.
    InProgress,
    /// The key was used with a different request.
    KeyReused,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with `fingerprint` until `lock_until` (epoch seconds). An
    /// expired claim (its invocation died) may be taken over.
    async fn claim(&self, key: &str, fingerprint: &str, now: i64, lock_until: i64) -> Result<Claim, StoreError>;

    /// Stores the final response under the key for 24 hours.
    async fn complete(&self, key: &str, token: &str, response: &StoredResponse, now: i64) -> Result<(), StoreError>;

    /// Gives the key up (the request failed in a way worth retrying): the next request with
    /// it takes over at once as `recovering`, with the same `origin`, so it finds whatever this
    /// attempt managed to write.
    async fn release(&self, key: &str, token: &str) -> Result<(), StoreError>;
}

/// The text of a code SMS. Debug is masked because it holds the code.
pub struct SmsText(pub String);

impl std::fmt::Debug for SmsText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmsText(<contains code>)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("code could not be sent: {0}")]
pub struct SendError(pub String);

#[async_trait]
pub trait CodeSender: Send + Sync {
    async fn send(&self, to: &Phone, text: &SmsText) -> Result<(), SendError>;
}

/// Caps on code SMS, per hour (fixed windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsLimits {
    pub per_phone: u32,
    pub per_merchant: u32,
}

impl Default for SmsLimits {
    fn default() -> Self {
        Self { per_phone: 10, per_merchant: 1000 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("SMS cap reached; retry in {retry_after_secs} s")]
    Exceeded { retry_after_secs: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait SmsQuota: Send + Sync {
    /// Counts one code SMS to the phone (`phone_key`, a keyed hash of it) for `merchant` in the
    /// current hour; both counts or neither. Refuses once either cap is reached.
    async fn take(&self, phone_key: &str, merchant: &Identifier, now: i64) -> Result<(), QuotaError>;
}

/// Seconds until the hourly window containing `now` ends.
pub fn until_next_hour(now: i64) -> i64 {
    3600 - now.rem_euclid(3600)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    Approved,
    /// A stable decline reason such as `card_declined` or `insufficient_funds`.
    Declined(String),
}

#[derive(Debug, thiserror::Error)]
#[error("acquirer unavailable: {0}")]
pub struct AcquirerError(pub String);

#[async_trait]
pub trait Acquirer: Send + Sync {
    /// Authorizes `money` on `card`. The payment id is the acquirer-side idempotency key, so a
    /// repeated call for one payment never authorizes twice.
    async fn authorize(
        &self,
        payment_id: &PaymentId,
        money: &Money,
        card: &CardNumber,
    ) -> Result<Authorization, AcquirerError>;
}

pub trait Clock: Send + Sync {
    /// Unix time in seconds.
    fn now(&self) -> i64;
}

/// A business event an operator counts: what the platform did, not how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusinessEvent {
    PaymentCreated,
    PaymentSucceeded,
    /// A payment ended failed; `code` says why (`card_declined`, `too_many_attempts`, …).
    PaymentFailed {
        code: String,
    },
    CodeSent,
    /// A wrong code was entered.
    VerificationFailed,
    /// A code was refused by the per-phone or per-merchant SMS cap.
    SmsRateLimited,
}

impl BusinessEvent {
    /// The metric's name, as it appears in CloudWatch.
    pub fn metric_name(&self) -> &'static str {
        match self {
            Self::PaymentCreated => "PaymentsCreated",
            Self::PaymentSucceeded => "PaymentsSucceeded",
            Self::PaymentFailed { .. } => "PaymentsFailed",
            Self::CodeSent => "CodesSent",
            Self::VerificationFailed => "VerificationsFailed",
            Self::SmsRateLimited => "SmsRateLimited",
        }
    }
}

/// Where business events are counted. Recording never fails a request.
pub trait Metrics: Send + Sync {
    fn record(&self, event: BusinessEvent);
}
