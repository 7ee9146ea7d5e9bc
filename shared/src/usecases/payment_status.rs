//! Where payments stand: one payment, or a user's history a page at a time. Read only.

use super::lifecycle::finish_capture;
use super::{Caller, Services, UseCaseError};
use crate::domain::{HistoryCursor, HistoryPage, Identifier, Payment, PaymentId};

/// The payment, as stored. Another merchant's payment is answered as if it did not exist. A
/// payment left `capturing` (its verify died, or the acquirer was away) past the grace is finished first,
/// under the same capture key; if that cannot be done now it is answered as it stands.
pub async fn payment_status(svc: &Services, caller: &Caller, id: &PaymentId) -> Result<Payment, UseCaseError> {
    let payment = svc.payments.get(id).await?.filter(|p| caller.may_see(p));
    let payment = payment.ok_or(UseCaseError::PaymentNotFound)?;
    if !payment.is_stale_capture(svc.clock.now()) {
        return Ok(payment);
    }
    match finish_capture(svc, payment.clone(), None).await {
        Ok(p) => Ok(p),
        Err(
            UseCaseError::Declined(p)
            | UseCaseError::NotPending(p)
            | UseCaseError::OrderAlreadyPaid(Some(p))
            | UseCaseError::TooManyAttempts(p),
        ) => Ok(*p),
        Err(e) => {
            tracing::warn!(payment_id = %payment.id, error = %e, "capture not finished on read");
            Ok(payment)
        }
    }
}

/// A page of the user's payments, newest first; a merchant sees only its own.
pub async fn payment_history(
    svc: &Services,
    caller: &Caller,
    user_id: &Identifier,
    limit: u8,
    after: Option<&HistoryCursor>,
) -> Result<HistoryPage, UseCaseError> {
    Ok(svc.payments.list_for_user(user_id, caller.merchant(), limit, after).await?)
}
