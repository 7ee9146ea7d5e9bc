//! Where payments stand: one payment, or a user's history a page at a time. Read only.

use super::{Caller, Ports, UseCaseError};
use crate::domain::{HistoryCursor, HistoryPage, Identifier, Payment, PaymentId};

/// The payment, as stored. Another merchant's payment is answered as if it did not exist. A
/// read never calls the acquirer: it needs no key and changes nothing (a payment left
/// `capturing` is finished by a retry of its verify, or by the sweeper).
pub async fn payment_status(svc: &Ports, caller: &Caller, id: &PaymentId) -> Result<Payment, UseCaseError> {
    let payment = svc.payments.get(id).await?.filter(|p| caller.may_see(p));
    payment.ok_or(UseCaseError::PaymentNotFound)
}

/// A page of the user's payments, newest first; a merchant sees only its own.
pub async fn payment_history(
    svc: &Ports,
    caller: &Caller,
    user_id: &Identifier,
    limit: u8,
    after: Option<&HistoryCursor>,
) -> Result<HistoryPage, UseCaseError> {
    Ok(svc.payments.list_for_user(user_id, caller.merchant(), limit, after).await?)
}
