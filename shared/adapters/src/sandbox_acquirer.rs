use async_trait::async_trait;

use crate::domain::{DeclineReason, Money, PaymentId};
use crate::ports::{
    Acquirer, AcquirerError, Authorization, AuthorizationRequest, Capture, DetailsRequest, RefundFailure,
    RefundOutcome, RefundRequest, StoredCredential,
};

/// The built-in test acquirer. Deterministic per card, so repeating a call for one payment
/// gives the same answer, as an idempotent real acquirer would. It keeps nothing: what a
/// capture needs to know is in the authorisation id it issued.
pub struct SandboxAcquirer;

pub const DECLINED_CARD: &str = "4000000000000002";
pub const INSUFFICIENT_FUNDS_CARD: &str = "4000000000009995";
/// Authorises, then fails at capture.
pub const CAPTURE_FAILS_CARD: &str = "4000000000000341";
/// Approved and captured; every refund of it fails (`declined`).
pub const REFUND_FAILS_CARD: &str = "4000000000005126";
/// Approved and captured; every refund of it is `pending` at first, then succeeds when its
/// status is asked (the sweeper's next pass).
pub const REFUND_PENDING_CARD: &str = "4000000000007726";

// The test card's behaviour after its authorisation travels in the authorisation id (the
// sandbox keeps nothing).
const CAPTURE_FAILS_MARK: &str = "sbx_auth_cf_";
const REFUND_FAILS_MARK: &str = "sbx_auth_rf_";
const REFUND_PENDING_MARK: &str = "sbx_auth_rp_";

#[async_trait]
impl Acquirer for SandboxAcquirer {
    /// The sandbox never asks for an action (no 3-D Secure).
    async fn details(&self, _request: &DetailsRequest<'_>) -> Result<Authorization, AcquirerError> {
        Err(AcquirerError("the sandbox asks for no action".into()))
    }

    async fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<Authorization, AcquirerError> {
        let id = request.payment_id;
        let decision = match request.card.expose() {
            DECLINED_CARD => Authorization::Declined(DeclineReason::CardDeclined),
            INSUFFICIENT_FUNDS_CARD => Authorization::Declined(DeclineReason::InsufficientFunds),
            CAPTURE_FAILS_CARD => Authorization::Approved {
                authorization_id: format!("{CAPTURE_FAILS_MARK}{id}"),
                network_reference: None,
            },
            REFUND_FAILS_CARD => Authorization::Approved {
                authorization_id: format!("{REFUND_FAILS_MARK}{id}"),
                network_reference: None,
            },
            REFUND_PENDING_CARD => Authorization::Approved {
                authorization_id: format!("{REFUND_PENDING_MARK}{id}"),
                network_reference: None,
            },
            _ => Authorization::Approved {
                authorization_id: format!("sbx_auth_{id}"),
                network_reference: match request.credential {
                    StoredCredential::Initial => Some(format!("sbx_ntr_{id}")),
                    StoredCredential::None | StoredCredential::Subsequent { .. } => None,
                },
            },
        };
        tracing::info!(payment_id = %id, card = %request.card, amount = request.money.minor,
            security_code_sent = request.cvc.is_some(), credential = ?request.credential, ?decision, "sandbox authorization");
        Ok(decision)
    }

    async fn capture(
        &self,
        payment_id: &PaymentId,
        authorization_id: &str,
        money: &Money,
    ) -> Result<Capture, AcquirerError> {
        let outcome = if authorization_id.starts_with(CAPTURE_FAILS_MARK) {
            Capture::Failed("authorization_withdrawn".into())
        } else {
            Capture::Captured
        };
        tracing::info!(payment_id = %payment_id, amount = money.minor, ?outcome, "sandbox capture");
        Ok(outcome)
    }

    async fn void(&self, payment_id: &PaymentId, authorization_id: &str) -> Result<(), AcquirerError> {
        tracing::info!(payment_id = %payment_id, authorization_id, "sandbox void");
        Ok(())
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, AcquirerError> {
        let outcome = match request.authorization_id {
            a if a.starts_with(REFUND_FAILS_MARK) => RefundOutcome::Failed(RefundFailure::Declined),
            a if a.starts_with(REFUND_PENDING_MARK) => RefundOutcome::Pending,
            _ => RefundOutcome::Succeeded,
        };
        tracing::info!(payment_id = %request.payment_id, refund_id = %request.refund_id, amount = request.money.minor,
            ?outcome, "sandbox refund");
        Ok(outcome)
    }

    async fn refund_status(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, AcquirerError> {
        // A pending refund is final the next time it is asked about.
        let outcome = match request.authorization_id {
            a if a.starts_with(REFUND_FAILS_MARK) => RefundOutcome::Failed(RefundFailure::Declined),
            _ => RefundOutcome::Succeeded,
        };
        tracing::info!(refund_id = %request.refund_id, ?outcome, "sandbox refund status");
        Ok(outcome)
    }
}
