//! The one read → decide → write loop: every use case that changes a stored record runs its
//! attempts here. An attempt reads what it decides from, decides, and writes with conditions;
//! a write that lost a race (`Again`) is tried from a fresh read, at most [`MAX_RACE_RETRIES`]
//! times, then answered `Contention`.

use std::future::Future;

use super::{Ports, UseCaseError};
use crate::domain::{CheckoutSession, Command, Payment};
use crate::ports::{Rider, StoreError};

/// Conditional writes that lose a race are retried from a fresh read this many times.
pub(crate) const MAX_RACE_RETRIES: usize = 8;

/// How one attempt ended, unless with an error (which is the answer).
pub(crate) enum Step<T, W> {
    /// The outcome, to be answered.
    Done(T),
    /// Read again and decide again, knowing why (`W`: a lost race, a condition to read first).
    Again(W),
}

/// Runs `attempt` until it is done or fails, each time with why the previous one asked for
/// another (`None` the first time). The only retry loop of the use cases.
pub(crate) async fn commit<T, W, F, Fut>(mut attempt: F) -> Result<T, UseCaseError>
where
    F: FnMut(Option<W>) -> Fut,
    Fut: Future<Output = Result<Step<T, W>, UseCaseError>>,
{
    let mut why = None;
    for _ in 0..MAX_RACE_RETRIES {
        match attempt(why.take()).await? {
            Step::Done(outcome) => return Ok(outcome),
            Step::Again(reason) => why = Some(reason),
        }
    }
    Err(UseCaseError::Contention)
}

/// The stored record changed since it was read: read it again and decide again.
pub(crate) struct Raced;

/// Writes `payment` (decided at the version it was read) with its riders: on success it is at
/// the version now stored. The one place a payment's version moves.
pub(crate) async fn store(svc: &Ports, payment: &mut Payment, riders: &[Rider<'_>]) -> Result<(), StoreError> {
    svc.payments.transact(payment, riders).await?;
    payment.version += 1;
    Ok(())
}

/// Writes `session` (changed at the version it was read), with the pending payment it cancels:
/// on success it is at the version now stored. The one place a session's version moves.
pub(crate) async fn store_session(
    svc: &Ports,
    session: &mut CheckoutSession,
    cancel: Option<&Payment>,
) -> Result<(), StoreError> {
    svc.payments.update_session(session, cancel).await?;
    session.version += 1;
    Ok(())
}

/// A payment another record's write stored with it (a session's, a rider's), at the version
/// that write gave it.
pub(crate) fn stored_with(payment: Payment) -> Payment {
    Payment { version: payment.version + 1, ..payment }
}

/// Decides `command` on `payment` and applies it: the payment as it is to be written. A
/// command the state machine refuses from the payment's status answers as the payment stands.
pub(crate) fn transition(payment: &mut Payment, command: Command, now: i64) -> Result<(), UseCaseError> {
    match payment.execute(command, now) {
        Ok(_) => Ok(()),
        Err(refusal) => {
            tracing::warn!(payment_id = %payment.id, ?refusal, status = payment.status.as_str(), "transition refused");
            Err(UseCaseError::NotPending(Box::new(payment.clone())))
        }
    }
}
