//! The one place where failures become answers: RFC 9457 problem+json with a stable `code`
//! and, for a bad field, `param`.

use serde_json::{json, Map, Value};

use super::reply::Reply;
use super::views::{payment_view, shopper_failure_code, Urls};
use crate::domain::{FieldError, Payment};
use crate::usecases::{MoneyError, UseCaseError};

/// Seconds a client should wait before retrying after a dependency failed.
const UNAVAILABLE_RETRY_AFTER_SECS: i64 = 2;

#[derive(Debug)]
pub struct Problem {
    status: u16,
    code: String,
    detail: String,
    extra: Map<String, Value>,
    retry_after_secs: Option<i64>,
    transient: bool,
}

impl Problem {
    pub fn new(status: u16, code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            detail: detail.into(),
            extra: Map::new(),
            retry_after_secs: None,
            transient: status >= 500 || status == 429,
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    pub fn param(self, param: &str) -> Self {
        self.with("param", param)
    }

    pub fn retry_after(mut self, secs: i64) -> Self {
        self.retry_after_secs = Some(secs);
        self.with("retry_after", secs)
    }

    fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    fn with_payment(self, payment: &Payment, now: i64, urls: &Urls) -> Self {
        self.with("payment_id", payment.id.as_str()).with("payment", payment_view(payment, now, urls))
    }

    pub fn bad_request(detail: impl Into<String>, param: &str) -> Self {
        Self::new(400, "invalid_request", detail).param(param)
    }

    pub fn into_reply(self) -> Reply {
        let mut body = Map::new();
        body.insert("type".into(), format!("urn:payments:problem:{}", self.code).into());
        body.insert("title".into(), title(self.status).into());
        body.insert("status".into(), self.status.into());
        body.insert("detail".into(), self.detail.into());
        body.insert("code".into(), self.code.into());
        body.extend(self.extra);
        let mut reply = Reply::json(self.status, &Value::Object(body));
        reply.retry_after_secs = self.retry_after_secs;
        reply.transient = self.transient;
        reply
    }
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        402 => "Payment Required",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

impl From<FieldError> for Problem {
    fn from(e: FieldError) -> Self {
        Problem::new(422, e.code, e.message).param(&e.param)
    }
}

/// Guidance for a shopper with no usable saved card: start a first payment.
fn provide_payment_details(urls: &Urls) -> Value {
    json!({"type": "provide_payment_details", "url": urls.new_payment(), "method": "POST"})
}

const PAYMENT_CAPTURING: &str = "the session's payment is being captured; read the session again in a moment";
const TOO_MANY_FAILURES: &str = "too many wrong codes in a row; this payer is locked out for a while";
const SMS_RATE_LIMITED: &str = "too many codes were sent to this phone or for this merchant; try later";
const ORDER_ALREADY_PAID: &str = "this order has already been paid; nothing was charged";
const NO_SAVED_METHOD: &str = "this user has no saved card; make a first payment with the card details";
const INVALID_CLIENT_SECRET: &str =
    "send this checkout session's client secret as `Authorization: Bearer <client_secret>`";

/// A `429` with its `Retry-After`.
const RESEND_TOO_SOON: &str = "a code was sent moments ago; wait before asking again";
const TOO_MANY_DECLINES: &str = "too many cards were declined; try again later";

fn limited(code: &str, detail: &str, retry_after_secs: i64) -> Problem {
    Problem::new(429, code, detail).retry_after(retry_after_secs)
}

const TOO_MANY_ENDPOINTS: &str = "a merchant has at most 16 webhook endpoints; delete one first";

/// `urls` says which routes the answer's links name (a browser's answers name its session's).
pub fn from_use_case(err: UseCaseError, now: i64, urls: &Urls) -> Problem {
    use UseCaseError as E;
    match err {
        E::Field(e) => e.into(),
        E::MerchantMismatch => {
            Problem::new(403, "merchant_mismatch", "merchant_id is not the merchant your token was issued to")
                .param("merchant_id")
        }
        E::NoSavedMethod => Problem::new(404, "no_saved_payment_method", NO_SAVED_METHOD)
            .with("next_action", provide_payment_details(urls)),
        E::SavedMethodExpired => Problem::new(422, "card_expired", "the saved card has expired; pay with card details")
            .param("payment_method_id")
            .with("next_action", provide_payment_details(urls)),
        E::MethodNotFound => Problem::new(404, "payment_method_not_found", "no saved card with this id for this user")
            .param("payment_method_id"),
        E::PaymentNotFound => Problem::new(404, "payment_not_found", "no payment with this id"),
        E::EventNotFound => Problem::new(404, "event_not_found", "no event with this id"),
        E::EndpointNotFound => Problem::new(404, "webhook_endpoint_not_found", "no webhook endpoint with this id"),
        E::TooManyEndpoints => Problem::new(422, "too_many_webhook_endpoints", TOO_MANY_ENDPOINTS),
        E::SessionNotFound => Problem::new(404, "session_not_found", "no checkout session with this id"),
        E::InvalidClientSecret => Problem::new(401, "invalid_client_secret", INVALID_CLIENT_SECRET),
        E::SessionExpired => Problem::new(410, "session_expired", "this checkout session has expired"),
        E::SessionCompleted => Problem::new(409, "session_completed", "this checkout session has been paid"),
        E::PaymentCapturing => Problem::new(409, "payment_capturing", PAYMENT_CAPTURING).retry_after(1).transient(),
        E::OrderAlreadyPaid(payment) => {
            let problem = Problem::new(409, "order_already_paid", ORDER_ALREADY_PAID).param("order_id");
            match payment {
                Some(p) => problem.with_payment(&p, now, urls),
                None => problem,
            }
        }
        E::IncorrectCode { attempts_remaining } => Problem::new(422, "incorrect_code", "the code is not correct")
            .param("code")
            .with("attempts_remaining", attempts_remaining),
        E::TooManyAttempts(p, paused) => too_many_attempts(&p, paused, now, urls),
        E::CodeExpired => {
            Problem::new(422, "code_expired", "the code has expired; ask for a new one with resend").param("code")
        }
        E::NotPending(p) => Problem::new(409, "payment_not_pending", format!("the payment is {}", p.status.as_str()))
            .with_payment(&p, now, urls),
        E::Declined(p) => declined(&p, now, urls),
        E::ResendTooSoon { retry_after_secs } => limited("resend_too_soon", RESEND_TOO_SOON, retry_after_secs),
        E::TooManyFailures { retry_after_secs } => limited("too_many_failures", TOO_MANY_FAILURES, retry_after_secs),
        E::TooManyDeclines { retry_after_secs } => limited("too_many_declines", TOO_MANY_DECLINES, retry_after_secs),
        E::TooManyPaymentAttempts { limit, retry_after_secs } => {
            limited("too_many_payment_attempts", "too many card payments were tried; try again later", retry_after_secs)
                .with("limit", limit.as_str())
        }
        E::SmsRateLimited { retry_after_secs } => limited("sms_rate_limited", SMS_RATE_LIMITED, retry_after_secs),
        E::SendLimitReached => Problem::new(409, "send_limit_reached", "no more codes can be sent for this payment"),
        E::Money(m) => money_problem(m, now, urls),
        E::Contention => {
            Problem::new(409, "request_conflict", "the payment changed concurrently; retry the request").transient()
        }
        E::Unavailable(cause) => unavailable(&cause),
    }
}

/// A money operation (capture, cancel, refund) refused.
fn money_problem(err: MoneyError, now: i64, urls: &Urls) -> Problem {
    use MoneyError as M;
    match err {
        M::NotCapturable(p) => in_the_way(&p, "payment_not_capturable", NOT_CAPTURABLE, now, urls),
        M::AmountTooLarge { authorized } => amount_too_large(authorized),
        M::NotCancelable(p) => in_the_way(&p, "payment_not_cancelable", NOT_CANCELABLE, now, urls),
        M::NotCaptured(p) => in_the_way(&p, "payment_not_captured", NOT_CAPTURED, now, urls),
        M::AmountNotRefundable { refundable } => {
            Problem::new(422, "amount_exceeds_refundable", "the amount is more than is left to refund")
                .param("amount")
                .with("amount_refundable", refundable)
        }
        M::RefundWindowClosed => {
            Problem::new(422, "refund_window_closed", "the payment was captured longer ago than refunds are accepted")
        }
        M::TooManyRefunds => Problem::new(422, "too_many_refunds", "a payment has at most 10 refunds"),
        M::RefundNotFound => Problem::new(404, "refund_not_found", "no refund with this id"),
    }
}

const NOT_CAPTURABLE: &str = "only a payment that requires capture, before its capture_before, can be captured";
const NOT_CAPTURED: &str = "only a captured (succeeded) payment can be refunded";
const NOT_CANCELABLE: &str = "only a payment awaiting its code or its capture can be canceled";

/// `409`: the payment's status is in the way of the operation; the payment as it stands.
fn in_the_way(p: &Payment, code: &str, rule: &str, now: i64, urls: &Urls) -> Problem {
    Problem::new(409, code, format!("the payment is {}; {rule}", p.status.as_str())).with_payment(p, now, urls)
}

fn amount_too_large(authorized: u64) -> Problem {
    Problem::new(422, "amount_too_large", "the amount is more than was authorised")
        .param("amount")
        .with("amount_authorized", authorized)
}

/// `402` with the decline's code: the issuer's reason for the merchant, `card_declined` for a
/// shopper ([`shopper_failure_code`]).
fn declined(p: &Payment, now: i64, urls: &Urls) -> Problem {
    let reason = match urls {
        Urls::Merchant => p.failure_code(),
        Urls::Session(_) => shopper_failure_code(p),
    };
    Problem::new(402, reason.unwrap_or("card_declined"), "the card issuer declined the payment")
        .with_payment(p, now, urls)
}

/// With `retry_after` (seconds, in the body) when the payer is paused too: the page says
/// until when, and offers no other card meanwhile.
fn too_many_attempts(p: &Payment, paused: Option<i64>, now: i64, urls: &Urls) -> Problem {
    let problem = Problem::new(422, "too_many_attempts", "too many incorrect codes; the payment has failed")
        .param("code")
        .with("attempts_remaining", 0)
        .with_payment(p, now, urls);
    match paused {
        Some(secs) => problem.with("retry_after", secs),
        None => problem,
    }
}

fn unavailable(cause: &str) -> Problem {
    tracing::error!(%cause, "dependency unavailable");
    Problem::new(503, "temporarily_unavailable", "a dependency is temporarily unavailable; retry shortly")
        .retry_after(UNAVAILABLE_RETRY_AFTER_SECS)
}
