//! The acquirer's action (3-D Secure, issue 25): a first payment the acquirer asked to
//! authenticate waits `requires_action`; the shopper's page performs the action and sends what
//! it gave back. The acquirer's answer then moves the payment on as an authorisation that asked
//! for nothing would have: approved, its first code goes out; declined, it fails.

use super::lifecycle::{after_authorization, outcome_of, unavailable};
use super::open_payment::{store_then_send, Retries};
use super::{Caller, Services, UseCaseError};
use crate::domain::{Payment, PaymentId, PaymentStatus, VerificationCode};
use crate::ports::{DetailsRequest, StoredCredential};

/// `details` (the page's JSON, as the acquirer gave it to the page) for the caller's payment
/// `id`: the payment as it then stands. Another caller's payment is not found; one no longer
/// awaiting an action answers as it stands (a retry after its answer).
pub async fn complete_action(
    svc: &Services,
    caller: &Caller,
    id: &PaymentId,
    details: &str,
) -> Result<Payment, UseCaseError> {
    let payment = svc.payments.get(id).await?.filter(|p| caller.may_see(p)).ok_or(UseCaseError::PaymentNotFound)?;
    match payment.status {
        PaymentStatus::RequiresAction => {}
        PaymentStatus::RequiresVerification | PaymentStatus::RequiresCapture | PaymentStatus::Capturing => {
            return Ok(payment)
        }
        PaymentStatus::Authorizing
        | PaymentStatus::Succeeded
        | PaymentStatus::Failed
        | PaymentStatus::Expired
        | PaymentStatus::Canceled => return outcome_of(payment),
    }
    let customer = payment.customer();
    let credential = if payment.save_card { StoredCredential::Initial } else { StoredCredential::None };
    let request = DetailsRequest { payment_id: &payment.id, customer: &customer, details, credential };
    let decision = svc.acquirer.details(&request).await.map_err(unavailable)?;
    let code = VerificationCode::generate();
    let decided = after_authorization(svc, payment, decision, &code).await?;
    store_then_send(svc, decided, &code, Retries::Keyed).await
}
