use std::sync::Arc;

use crate::ports::{Acquirer, Clock, CodeSender, IdempotencyStore, Metrics, PaymentStore, SmsQuota};
use crate::secrets::{CardVault, CodeHasher};

/// Everything a use case may touch, built once at cold start and shared by all invocations.
#[derive(Clone)]
pub struct Services {
    pub payments: Arc<dyn PaymentStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub sms: Arc<dyn CodeSender>,
    pub quota: Arc<dyn SmsQuota>,
    pub acquirer: Arc<dyn Acquirer>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
    pub hasher: CodeHasher,
    pub vault: CardVault,
    /// How callers are recognised and named (read by the HTTP layer only).
    pub settings: crate::config::Settings,
}
