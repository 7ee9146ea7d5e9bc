use async_trait::async_trait;

use crate::domain::{CardNumber, Money, PaymentId};
use crate::ports::{Acquirer, AcquirerError, Authorization};

/// The built-in test acquirer. Deterministic per card, so repeating an authorization for one
/// payment gives the same answer, as an idempotent real acquirer would.
pub struct SandboxAcquirer;

pub const DECLINED_CARD: &str = "4000000000000002";
pub const INSUFFICIENT_FUNDS_CARD: &str = "4000000000009995";

#[async_trait]
impl Acquirer for SandboxAcquirer {
    async fn authorize(
        &self,
        payment_id: &PaymentId,
        money: &Money,
        card: &CardNumber,
    ) -> Result<Authorization, AcquirerError> {
        let decision = match card.expose() {
            DECLINED_CARD => Authorization::Declined("card_declined".into()),
            INSUFFICIENT_FUNDS_CARD => Authorization::Declined("insufficient_funds".into()),
            _ => Authorization::Approved,
        };
        tracing::info!(payment_id = %payment_id, card = %card, amount = money.minor, ?decision, "sandbox authorization");
        Ok(decision)
    }
}
