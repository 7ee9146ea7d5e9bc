//! The acquirer's notifications (issue 25): each [`Notice`] drives the payment's state machine
//! through the same writes as the request that would have finished it, idempotently: a notice
//! seen twice finds its change made and changes nothing.

use super::lifecycle::{after_authorization, end_capturing, record_capture, release_hold, unavailable};
use super::open_payment::{store_then_send, Retries};
use super::{Ports, Services, UseCaseError};
use crate::domain::{
    Command, DeclineReason, Failure, PaymentId, PaymentStatus, RefundFailure, RefundId, RefundSettlement,
    VerificationCode,
};
use crate::ports::{Authorization, Notice};

/// What one notice did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// The payment (or refund) changed.
    Applied,
    /// Nothing to change: seen before, or nothing this platform acts on.
    Unchanged,
}

/// Applies one notice. An error leaves it for the acquirer to send again (the batch is
/// answered with an error, and Adyen retries).
pub async fn apply_notice(svc: &Services, notice: &Notice) -> Result<NoticeOutcome, UseCaseError> {
    match notice {
        Notice::Captured { payment_id, authorization_id } => {
            captured(svc, payment_id, authorization_id.as_deref()).await
        }
        Notice::CaptureFailed { payment_id } => capture_failed(svc, payment_id).await,
        Notice::RefundSucceeded { refund_id } => settled(svc, refund_id, RefundSettlement::Succeeded).await,
        Notice::RefundFailed { refund_id } => {
            settled(svc, refund_id, RefundSettlement::Failed(RefundFailure::Declined)).await
        }
        Notice::Authorised { payment_id, authorization_id, network_reference } => {
            let approved = Authorization::Approved {
                authorization_id: authorization_id.clone(),
                network_reference: network_reference.clone(),
            };
            authorised(svc, payment_id, approved).await
        }
        Notice::AuthorisationRefused { payment_id } => {
            authorised(svc, payment_id, Authorization::Declined(DeclineReason::CardDeclined)).await
        }
        Notice::CancelFailed { payment_id } => {
            // Our void was taken (`received`) and then failed: the hold is still there. Logged
            // for the operator; the void is not re-sent automatically (Adyen says why).
            tracing::error!(%payment_id, "the acquirer reports a void that failed");
            Ok(NoticeOutcome::Unchanged)
        }
        Notice::Canceled { .. } | Notice::Ignored { .. } => Ok(NoticeOutcome::Unchanged),
    }
}

async fn captured(svc: &Ports, id: &PaymentId, authorization: Option<&str>) -> Result<NoticeOutcome, UseCaseError> {
    let Some(mut payment) = svc.payments.get(id).await? else { return Ok(NoticeOutcome::Unchanged) };
    match payment.status {
        PaymentStatus::Capturing => {
            let now = svc.clock.now();
            // A repeat payment whose authorisation's answer is not stored yet (the notice came
            // first): its hold is recorded with the capture.
            if let (None, Some(authorization_id)) = (&payment.hold, authorization) {
                let held = Command::HoldFunds { authorization_id: authorization_id.to_owned() };
                super::commit::transition(&mut payment, held, now)?;
            }
            record_capture(svc, payment, None, now).await.0.map(|_| NoticeOutcome::Applied)
        }
        PaymentStatus::Succeeded => Ok(NoticeOutcome::Unchanged),
        PaymentStatus::Authorizing
        | PaymentStatus::RequiresAction
        | PaymentStatus::RequiresVerification
        | PaymentStatus::RequiresCapture
        | PaymentStatus::Failed
        | PaymentStatus::Expired
        | PaymentStatus::Canceled => {
            tracing::error!(payment_id = %id, status = payment.status.as_str(), "a capture notified for a payment not capturing");
            Ok(NoticeOutcome::Unchanged)
        }
    }
}

async fn capture_failed(svc: &Ports, id: &PaymentId) -> Result<NoticeOutcome, UseCaseError> {
    let Some(mut payment) = svc.payments.get(id).await? else { return Ok(NoticeOutcome::Unchanged) };
    if payment.status != PaymentStatus::Capturing {
        return Ok(NoticeOutcome::Unchanged);
    }
    super::commit::transition(&mut payment, Command::Fail(Failure::CaptureFailed), svc.clock.now())?;
    match end_capturing(svc, payment).await? {
        Ok(ended) => {
            release_hold(svc, ended).await;
            Ok(NoticeOutcome::Applied)
        }
        // Another finisher got there first: the acquirer sends the notice again if it matters.
        Err(_) => Err(UseCaseError::Contention),
    }
}

async fn settled(svc: &Ports, id: &RefundId, outcome: RefundSettlement) -> Result<NoticeOutcome, UseCaseError> {
    let Some(payment_id) = id.payment_id() else { return Ok(NoticeOutcome::Unchanged) };
    let Some(payment) = svc.payments.get(&payment_id).await? else { return Ok(NoticeOutcome::Unchanged) };
    let pending = payment.refund(id).is_some_and(|r| r.status == crate::domain::RefundStatus::Pending);
    if !pending {
        return Ok(NoticeOutcome::Unchanged);
    }
    super::refunds::settle(svc, payment, id, outcome).await.map(|_| NoticeOutcome::Applied)
}

/// The authorisation's answer. A payment awaiting it (`authorizing`: the acquirer said it would
/// answer later) takes it as it would have from the API: approved, its first code goes out;
/// refused, it fails. An approval whose payment no longer wants it (ended, or never stored) is
/// voided, so no hold is left without an owner; one the payment holds, or still awaits (an
/// action), is its own.
async fn authorised(svc: &Services, id: &PaymentId, answer: Authorization) -> Result<NoticeOutcome, UseCaseError> {
    let payment = svc.payments.get(id).await?;
    if let Some(p) = payment.as_ref().filter(|p| p.status == PaymentStatus::Authorizing && p.hold.is_none()) {
        let code = VerificationCode::generate();
        return match after_authorization(svc, p.clone(), answer, &code).await {
            Ok(p) => store_then_send(svc, p, &code, Retries::Keyed).await.map(|_| NoticeOutcome::Applied),
            // A refusal is stored by `after_authorization` (failed, the decline counted).
            Err(UseCaseError::Declined(_)) => Ok(NoticeOutcome::Applied),
            Err(e) => Err(e),
        };
    }
    let Authorization::Approved { authorization_id, .. } = answer else { return Ok(NoticeOutcome::Unchanged) };
    let owned = payment
        .as_ref()
        .is_some_and(|p| p.status.is_open() || p.hold.as_ref().is_some_and(|h| h.authorization_id == authorization_id));
    if owned {
        return Ok(NoticeOutcome::Unchanged);
    }
    tracing::warn!(payment_id = %id, "an authorisation no payment holds: voided");
    svc.acquirer.void(id, &authorization_id).await.map_err(unavailable)?;
    Ok(NoticeOutcome::Applied)
}
