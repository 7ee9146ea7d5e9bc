use std::sync::Arc;

use super::UseCaseError;
use crate::ports::{Acquirer, Clock, CodeSender, IdempotencyStore, Metrics, PaymentStore, SmsLimits};
use crate::secrets::{CardVault, CodeHasher};

/// Everything a use case may touch, built once at cold start and shared by all invocations.
#[derive(Clone)]
pub struct Services {
    pub payments: Arc<dyn PaymentStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub sms: Arc<dyn CodeSender>,
    /// The hourly caps on code SMS, counted in the writes that store codes.
    pub sms_limits: SmsLimits,
    pub acquirer: Arc<dyn Acquirer>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
    /// The code key (codes, fingerprints, client secrets, phone keys); `None` in a function
    /// that loads none.
    pub hasher: Option<CodeHasher>,
    /// The card key (card numbers, phone numbers, kept client secrets); `None` likewise.
    pub vault: Option<CardVault>,
    /// How callers are recognised and named (read by the HTTP layer only).
    pub settings: crate::config::Settings,
}

impl Services {
    /// The code key, or a refusal where the function loads none (it fails closed).
    pub fn hasher(&self) -> Result<&CodeHasher, UseCaseError> {
        self.hasher.as_ref().ok_or_else(|| UseCaseError::Unavailable("this function holds no code key".into()))
    }

    /// The card key, or a refusal where the function loads none.
    pub fn vault(&self) -> Result<&CardVault, UseCaseError> {
        self.vault.as_ref().ok_or_else(|| UseCaseError::Unavailable("this function holds no card key".into()))
    }
}
