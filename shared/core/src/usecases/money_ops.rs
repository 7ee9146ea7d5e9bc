//! The merchant's money operations on a payment (issue 23): capturing a manual-capture
//! payment's held funds (all or part; the rest released) and canceling a payment that awaits its
//! code or its capture (what it holds voided, its order given back). Each is a decision of the
//! payment's state machine stored with a version-checked write; the acquirer is called after
//! that write, which is the request's claim on the call.

use super::commit::{commit, Raced, Step};
use super::error::MoneyError;
use super::lifecycle::{capture_authorized, record_capture, release_hold, take_lease, unavailable, Captured};
use super::{payment_status, Caller, Ports, UseCaseError};
use crate::domain::{CancellationReason, Command, Payment, PaymentId, PaymentStatus, Refusal};
use crate::ports::{CancelClaim, CaptureClaim, ConditionalWrite};

/// Captures `amount` (default: all) of the caller's `requires_capture` payment and releases the
/// rest. The write that moves it to `capturing` claims the capture: a concurrent capture or
/// cancel loses the version race. A capture the acquirer could not be asked for stays
/// `capturing` and the sweeper finishes it (the payment id is the capture's idempotency key).
/// `recovering` (a keyed retry of a request that died mid-way) finishes what it started: a
/// capture left `capturing` past its grace is finished, a captured one answered.
pub async fn capture_payment(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    amount: Option<u64>,
    recovering: bool,
) -> Result<Payment, UseCaseError> {
    let capturing = match commit(|_: Option<Raced>| request_capture(svc, caller, id, amount, recovering)).await? {
        Next::Capture(p) => p,
        Next::Answer(p) => return Ok(p),
    };
    let authorization_id = capturing
        .hold
        .as_ref()
        .map(|h| h.authorization_id.clone())
        .ok_or_else(|| unavailable("a held payment without its authorisation"))?;
    match capture_authorized(svc, capturing, &authorization_id).await? {
        Captured::Yes(payment, now) => record_capture(svc, payment, None, now).await.0,
        Captured::No(result) => result,
    }
}

/// What a capture request does after its write.
enum Next {
    /// Ask the acquirer to capture.
    Capture(Payment),
    /// Nothing more: answer the payment.
    Answer(Payment),
}

async fn request_capture(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    amount: Option<u64>,
    recovering: bool,
) -> Result<Step<Next, Raced>, UseCaseError> {
    if recovering {
        let payment = payment_status(svc, caller, id).await?;
        let now = svc.clock.now();
        match payment.status {
            PaymentStatus::Succeeded => return Ok(Step::Done(Next::Answer(payment))),
            // The dead attempt's capture, left past its grace: finished here, under the lease.
            PaymentStatus::Capturing if payment.is_stale_capture(now) => {
                let holder = ulid::Ulid::new().to_string();
                if !take_lease(svc, &payment, &holder).await? {
                    return Err(MoneyError::NotCapturable(Box::new(payment)).into());
                }
                return Ok(Step::Done(Next::Capture(payment)));
            }
            PaymentStatus::Authorizing
            | PaymentStatus::RequiresAction
            | PaymentStatus::RequiresVerification
            | PaymentStatus::RequiresCapture
            | PaymentStatus::Capturing
            | PaymentStatus::Failed
            | PaymentStatus::Expired
            | PaymentStatus::Canceled => {}
        }
    }
    claim_capture(svc, caller, id, amount).await
}

/// The capture's claim: one conditional write whose condition is the state machine's rule (no
/// read before it); refused, the payment as found says why.
async fn claim_capture(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    amount: Option<u64>,
) -> Result<Step<Next, Raced>, UseCaseError> {
    let now = svc.clock.now();
    let claim = CaptureClaim { payment_id: id, merchant_id: caller.merchant(), amount, now };
    let found = match svc.payments.claim_capture(&claim).await? {
        ConditionalWrite::Written(p) => {
            tracing::info!(payment_id = %id, ?amount, "capture requested by the merchant");
            return Ok(Step::Done(Next::Capture(*p)));
        }
        ConditionalWrite::Refused(found) => {
            *found.filter(|p| caller.may_see(p)).ok_or(UseCaseError::PaymentNotFound)?
        }
    };
    if found.status != PaymentStatus::RequiresCapture || found.is_expired_at(now) {
        return Err(MoneyError::NotCapturable(Box::new(found)).into());
    }
    let amount = amount.unwrap_or(found.money.minor);
    match found.decide(Command::RequestCapture { amount }, now) {
        Err(Refusal::AmountNotCapturable { authorized }) => Err(MoneyError::AmountTooLarge { authorized }.into()),
        Err(_) => Err(MoneyError::NotCapturable(Box::new(found)).into()),
        // Allowed as found: it changed between the write and its refusal; decide again.
        Ok(_) => Ok(Step::Again(Raced)),
    }
}

/// Cancels the caller's payment awaiting its code or its capture: stored `canceled` by one
/// conditional write (no read before it), then what it holds is voided and, where its right
/// code claimed the order, the order given back with the void's record (or both by the sweeper,
/// if the acquirer cannot be reached now).
pub async fn cancel_payment(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    reason: CancellationReason,
    recovering: bool,
) -> Result<Payment, UseCaseError> {
    let canceled = commit(|_: Option<Raced>| cancel_once(svc, caller, id, reason, recovering)).await?;
    Ok(release_hold(svc, canceled).await)
}

async fn cancel_once(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    reason: CancellationReason,
    recovering: bool,
) -> Result<Step<Payment, Raced>, UseCaseError> {
    // A keyed retry of a cancel that died after its write: its void is still to be recorded.
    if recovering {
        let payment = payment_status(svc, caller, id).await?;
        if payment.status == PaymentStatus::Canceled {
            return Ok(Step::Done(payment));
        }
    }
    let claim = CancelClaim { payment_id: id, merchant_id: caller.merchant(), reason, now: svc.clock.now() };
    let found = match svc.payments.cancel(&claim).await? {
        ConditionalWrite::Written(p) => {
            tracing::info!(payment_id = %id, reason = reason.as_str(), "payment canceled by the merchant");
            return Ok(Step::Done(*p));
        }
        ConditionalWrite::Refused(found) => {
            *found.filter(|p| caller.may_see(p)).ok_or(UseCaseError::PaymentNotFound)?
        }
    };
    match found.status {
        // Cancelable as found: it changed between the write and its refusal; decide again.
        PaymentStatus::RequiresVerification | PaymentStatus::RequiresCapture => Ok(Step::Again(Raced)),
        PaymentStatus::Authorizing
        | PaymentStatus::RequiresAction
        | PaymentStatus::Capturing
        | PaymentStatus::Succeeded
        | PaymentStatus::Failed
        | PaymentStatus::Expired
        | PaymentStatus::Canceled => Err(MoneyError::NotCancelable(Box::new(found)).into()),
    }
}
