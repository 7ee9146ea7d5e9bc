//! Pure domain: values that validate themselves and the payment state machine. No I/O here.

pub mod card;
pub mod code;
pub mod field_error;
pub mod history;
pub mod i18n;
pub mod identifier;
pub mod lifecycle;
pub mod money;
pub mod payment;
pub mod phone;
pub mod refund;
pub mod session;
pub mod sms;
pub mod sms_destination;
pub mod source_ip;

pub use card::{year_month, CardBrand, CardNumber, Cvc, Expiry};
pub use code::{CodeHash, VerificationCode};
pub use field_error::FieldError;
pub use history::{page_size, HistoryCursor, HistoryPage};
pub use i18n::{Locale, LocalePref};
pub use identifier::{Customer, EndpointId, EventId, Identifier, MethodId, PaymentId, RefundId, SessionId};
pub use lifecycle::{
    state_diagram, Command, DeclineReason, Event, Failure, FailureAnswer, Plan, RefundRefusal, Refusal, TRANSITIONS,
};
pub use money::{Currency, Money};
pub use payment::{
    CancellationReason, CaptureMethod, CodeCheck, Hold, HoldState, MethodSummary, Payment, PaymentStatus, PhoneOrigin,
    ResendRefusal, Verification, AUTHORIZATION_GRACE_SECS, CAPTURE_FAILED, CAPTURE_GRACE_SECS, CODE_TTL_SECS,
    MAX_ATTEMPTS, MAX_CAPTURE_WINDOW_SECS, MAX_SENDS, ORDER_ALREADY_PAID, PAYER_LOCKED, PAYMENT_TTL_SECS,
    RESEND_COOLDOWN_SECS,
};
pub use phone::{PayerPhone, Phone};
pub use refund::{
    Refund, RefundFailure, RefundMetadata, RefundReason, RefundSettlement, RefundStatus, DEFAULT_REFUND_WINDOW_SECS,
    MAX_METADATA_PAIRS, MAX_REFUNDS, REFUND_GRACE_SECS,
};
pub use session::{
    session_lifetime, CheckoutSession, ClientSecret, LineItem, OrderSummary, ReturnUrl, SessionStatus,
    SESSION_DEFAULT_SECS, SESSION_MAX_SECS, SESSION_MIN_SECS,
};
pub use sms::{code_sms, SmsEncoding, SmsSize};
pub use sms_destination::SmsCountries;
pub use source_ip::SourceIp;
