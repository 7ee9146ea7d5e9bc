use crate::domain::{FieldError, Payment};
use crate::ports::{AttemptLimit, RiderRefusal, StoreError};

/// Every way a use case can end other than success. The HTTP layer maps each to one answer.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    #[error("invalid field {}: {}", .0.param, .0.message)]
    Field(FieldError),
    #[error("the merchant in the request is not the one the token was issued to")]
    MerchantMismatch,
    #[error("the user has no saved payment method")]
    NoSavedMethod,
    #[error("the saved card has expired")]
    SavedMethodExpired,
    #[error("payment method not found")]
    MethodNotFound,
    #[error("payment not found")]
    PaymentNotFound,
    #[error("checkout session not found")]
    SessionNotFound,
    #[error("event not found")]
    EventNotFound,
    #[error("webhook endpoint not found")]
    EndpointNotFound,
    #[error("the merchant has as many webhook endpoints as allowed")]
    TooManyEndpoints,
    /// A browser request's client secret is missing or wrong, or its session does not exist:
    /// one answer for all three.
    #[error("invalid client secret")]
    InvalidClientSecret,
    #[error("the checkout session has expired")]
    SessionExpired,
    #[error("the checkout session is complete")]
    SessionCompleted,
    /// The session's payment is being captured: it cannot be ended now (its outcome is moments
    /// away).
    #[error("the session's payment is being captured")]
    PaymentCapturing,
    /// The merchant's order already has a succeeded payment; with the payment this request
    /// would have completed, when there is one (it is failed, nothing was charged).
    #[error("the order has already been paid")]
    OrderAlreadyPaid(Option<Box<Payment>>),
    #[error("incorrect code")]
    IncorrectCode { attempts_remaining: u8 },
    /// The payment failed; with how long its payer is paused when this wrong code also
    /// locked them out (the 5th in a row, across payments).
    #[error("too many incorrect codes; the payment failed")]
    TooManyAttempts(Box<Payment>, Option<i64>),
    #[error("the code has expired")]
    CodeExpired,
    #[error("the payment is no longer pending")]
    NotPending(Box<Payment>),
    #[error("the acquirer declined the payment")]
    Declined(Box<Payment>),
    #[error("a code was sent less than the cooldown ago")]
    ResendTooSoon { retry_after_secs: i64 },
    #[error("too many wrong codes in a row: the payer is locked out")]
    TooManyFailures { retry_after_secs: i64 },
    #[error("too many declined cards: no authorisation is attempted")]
    TooManyDeclines { retry_after_secs: i64 },
    #[error("too many card authorisation attempts ({}): none is attempted", .limit.as_str())]
    TooManyPaymentAttempts { limit: AttemptLimit, retry_after_secs: i64 },
    #[error("the SMS cap for this phone or merchant is reached")]
    SmsRateLimited { retry_after_secs: i64 },
    #[error("no more codes may be sent for this payment")]
    SendLimitReached,
    /// A money operation (capture, cancel, refund) refused.
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("the payment changed concurrently too many times")]
    Contention,
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
}

impl From<FieldError> for UseCaseError {
    fn from(e: FieldError) -> Self {
        Self::Field(e)
    }
}

impl From<StoreError> for UseCaseError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::Contention,
            StoreError::Unavailable(m) | StoreError::Corrupt(m) => Self::Unavailable(m),
            // Only a write that counts an SMS or an attempt meets them, and that write handles
            // them itself.
            e @ StoreError::Refused(RiderRefusal::Sms { .. } | RiderRefusal::Attempts { .. }) => {
                Self::Unavailable(e.to_string())
            }
            // Handled where they are met (a verification decides again the careful way, a new
            // payment's key goes the way of a retry, a new payment's admission is read).
            StoreError::Refused(
                RiderRefusal::Order | RiderRefusal::Payer | RiderRefusal::Key(_) | RiderRefusal::Admission,
            ) => Self::Contention,
        }
    }
}

/// Why a merchant's money operation (capture, cancel, refund) is refused.
#[derive(Debug, thiserror::Error)]
pub enum MoneyError {
    /// Only a `requires_capture` payment, before its `capture_before`, can be captured.
    #[error("the payment cannot be captured")]
    NotCapturable(Box<Payment>),
    /// A capture of more than the authorised amount.
    #[error("the amount is more than was authorised")]
    AmountTooLarge { authorized: u64 },
    /// Only a `requires_verification` or `requires_capture` payment can be canceled.
    #[error("the payment cannot be canceled")]
    NotCancelable(Box<Payment>),
    /// Only a captured (`succeeded`) payment is refunded.
    #[error("the payment is not captured")]
    NotCaptured(Box<Payment>),
    /// More than what is left to refund (captured less the refunds that have not failed).
    #[error("the amount is more than is left to refund")]
    AmountNotRefundable { refundable: u64 },
    #[error("the payment was captured longer ago than the refund window")]
    RefundWindowClosed,
    #[error("the payment has as many refunds as it may have")]
    TooManyRefunds,
    #[error("no such refund")]
    RefundNotFound,
}
