//! The merchant's money operations on a payment (issue 23): capturing a manual-capture
//! payment's held funds (all or part; the rest released) and canceling a payment that awaits its
//! code or its capture (what it holds voided, its order given back). Each is a decision of the
//! payment's state machine stored with a version-checked write; the acquirer is called after
//! that write, which is the request's claim on the call.

use super::commit::{commit, store, transition, Raced, Step};
use super::lifecycle::{capture_authorized, record_capture, release_hold, unavailable, Captured};
use super::{Caller, Ports, UseCaseError};
use crate::domain::{CancellationReason, Command, Payment, PaymentId, PaymentStatus, Refusal};
use crate::ports::{Rider, StoreError};

/// Captures `amount` (default: all) of the caller's `requires_capture` payment and releases the
/// rest. The write that moves it to `capturing` claims the capture: a concurrent capture or
/// cancel loses the version race. A capture the acquirer could not be asked for stays
/// `capturing` and the sweeper finishes it (the payment id is the capture's idempotency key).
pub async fn capture_payment(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    amount: Option<u64>,
) -> Result<Payment, UseCaseError> {
    let capturing = commit(|_: Option<Raced>| request_capture(svc, caller, id, amount)).await?;
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

async fn request_capture(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    amount: Option<u64>,
) -> Result<Step<Payment, Raced>, UseCaseError> {
    let mut payment = read(svc, caller, id).await?;
    let now = svc.clock.now();
    if payment.status != PaymentStatus::RequiresCapture || payment.is_expired_at(now) {
        return Err(UseCaseError::NotCapturable(Box::new(payment)));
    }
    let amount = amount.unwrap_or(payment.money.minor);
    match payment.execute(Command::RequestCapture { amount }, now) {
        Ok(_) => {}
        Err(Refusal::AmountNotCapturable { authorized }) => return Err(UseCaseError::AmountTooLarge { authorized }),
        Err(_) => return Err(UseCaseError::NotCapturable(Box::new(payment))),
    }
    match store(svc, &mut payment, &[]).await {
        Ok(()) => {
            tracing::info!(payment_id = %payment.id, amount, "capture requested by the merchant");
            Ok(Step::Done(payment))
        }
        Err(StoreError::Conflict) => Ok(Step::Again(Raced)),
        Err(e) => Err(e.into()),
    }
}

/// Cancels the caller's payment awaiting its code or its capture: stored `canceled` (with the
/// order given back where it was claimed), then what it holds is voided (or, if the acquirer
/// cannot be reached now, by the sweeper).
pub async fn cancel_payment(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    reason: CancellationReason,
) -> Result<Payment, UseCaseError> {
    let canceled = commit(|_: Option<Raced>| cancel_once(svc, caller, id, reason)).await?;
    Ok(release_hold(svc, canceled).await)
}

async fn cancel_once(
    svc: &Ports,
    caller: &Caller,
    id: &PaymentId,
    reason: CancellationReason,
) -> Result<Step<Payment, Raced>, UseCaseError> {
    let mut payment = read(svc, caller, id).await?;
    let riders = match payment.status {
        PaymentStatus::RequiresVerification => Vec::new(),
        // Its right code claimed the order: canceling gives it back.
        PaymentStatus::RequiresCapture => vec![Rider::ReleaseOrder],
        PaymentStatus::Authorizing
        | PaymentStatus::Capturing
        | PaymentStatus::Succeeded
        | PaymentStatus::Failed
        | PaymentStatus::Expired
        | PaymentStatus::Canceled => return Err(UseCaseError::NotCancelable(Box::new(payment))),
    };
    transition(&mut payment, Command::Cancel(reason), svc.clock.now())?;
    match store(svc, &mut payment, &riders).await {
        Ok(()) => {
            tracing::info!(payment_id = %payment.id, reason = reason.as_str(), "payment canceled by the merchant");
            Ok(Step::Done(payment))
        }
        Err(StoreError::Conflict) => Ok(Step::Again(Raced)),
        Err(e) => Err(e.into()),
    }
}

/// The caller's payment; another merchant's is answered as if it did not exist.
async fn read(svc: &Ports, caller: &Caller, id: &PaymentId) -> Result<Payment, UseCaseError> {
    svc.payments.get(id).await?.filter(|p| caller.may_see(p)).ok_or(UseCaseError::PaymentNotFound)
}
