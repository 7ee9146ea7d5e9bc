//! Use cases: the payment flows, written against the ports only.

pub mod acquirer_notices;
pub mod caller;
pub mod checkout;
mod commit;
pub mod error;
pub mod events;
pub mod first_payment;
mod guards;
pub mod idempotency;
pub mod lifecycle;
pub mod money_ops;
pub mod open_payment;
pub mod payment_action;
pub mod payment_methods;
pub mod payment_status;
pub mod refunds;
pub mod repeat_payment;
pub mod resend_code;
mod send_code;
pub mod services;
pub mod verify_code;
pub mod webhook_delivery;
pub mod webhook_endpoints;

pub use acquirer_notices::{apply_notice, NoticeOutcome};
pub use caller::{Caller, SessionScope};
pub use checkout::{
    authenticate, create_session, expire_session, merchant_session, pay_in_session, session_state, spoken,
    sweep_sessions, SessionCommand, SessionPayment, SessionView,
};
pub use error::{MoneyError, UseCaseError};
pub use events::{event, events};
pub use first_payment::{first_payment, FirstPaymentCommand};
pub use guards::{MAX_MERCHANT_DECLINES_PER_HOUR, MAX_PAYER_FAILURES, MAX_SESSION_DECLINES, PAYER_LOCK_SECS};
pub use idempotency::{
    run_once, Attempt, InlineKey, KeptAnswer, KeyProgress, KeyRefusal, Keyed, KeyedRequest, KeyedResult, RenderAnswer,
};
pub use lifecycle::{sweep, SweepReport};
pub use money_ops::{cancel_payment, capture_payment};
pub use payment_action::complete_action;
pub use payment_methods::{forget_payment_method, payment_methods};
pub use payment_status::{payment_history, payment_status};
pub use refunds::{create_refund, get_refund, RefundAsk};
pub use repeat_payment::{repeat_payment, RepeatPaymentCommand};
pub use resend_code::resend_code;
pub use services::{CodeServices, Ports, Services};
pub use verify_code::verify_code;
pub use webhook_delivery::{deliver_event, endpoint_attempts, redeliver, retry_deliveries};
pub use webhook_endpoints::{
    create_endpoint, delete_endpoint, get_endpoint, list_endpoints, rotate_secret, update_endpoint, EndpointAsk,
    EndpointPatch,
};
