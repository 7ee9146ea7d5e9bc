use async_trait::async_trait;

use crate::domain::{DeclineReason, Money, PaymentId};
use crate::ports::{Acquirer, AcquirerError, Authorization, AuthorizationRequest, Capture, StoredCredential};

/// The built-in test acquirer. Deterministic per card, so repeating a call for one payment
/// gives the same answer, as an idempotent real acquirer would. It keeps nothing: what a
/// capture needs to know is in the authorisation id it issued.
pub struct SandboxAcquirer;

pub const DECLINED_CARD: &str = "4000000000000002";
pub const INSUFFICIENT_FUNDS_CARD: &str = "4000000000009995";
/// Authorises, then fails at capture.
pub const CAPTURE_FAILS_CARD: &str = "4000000000000341";

const CAPTURE_FAILS_MARK: &str = "sbx_auth_cf_";

#[async_trait]
impl Acquirer for SandboxAcquirer {
    async fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<Authorization, AcquirerError> {
        let id = request.payment_id;
        let decision = match request.card.expose() {
            DECLINED_CARD => Authorization::Declined(DeclineReason::CardDeclined),
            INSUFFICIENT_FUNDS_CARD => Authorization::Declined(DeclineReason::InsufficientFunds),
            CAPTURE_FAILS_CARD => Authorization::Approved {
                authorization_id: format!("{CAPTURE_FAILS_MARK}{id}"),
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
}
