use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::ports::{Acquirer, AttemptLimits, Clock, CodeSender, IdempotencyStore, Metrics, PaymentStore, SmsLimits};
use crate::secrets::{CardVault, CodeHasher};

/// The ports every function has, built once at cold start and shared by all invocations: the
/// stores, the SMS sender, the acquirer, the clock, the metrics. No key: a function that loads
/// none (payment-status) has these only, and so can build only the use cases that need none
/// (`payment_status`, `payment_history`): asking for more is a type error.
#[derive(Clone)]
pub struct Ports {
    pub payments: Arc<dyn PaymentStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub sms: Arc<dyn CodeSender>,
    /// The hourly caps on code SMS, counted in the writes that store codes.
    pub sms_limits: SmsLimits,
    /// The velocity limits on card authorisation attempts, counted in the writes that open
    /// first payments.
    pub attempt_limits: AttemptLimits,
    pub acquirer: Arc<dyn Acquirer>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
    /// How callers are recognised and named (read by the HTTP layer only).
    pub settings: crate::settings::Settings,
}

/// The ports with both keys loaded: what every use case that hashes a code or seals a card
/// runs on. Built only where the keys are (`bootstrap::services_over` refuses to start
/// without them); it derefs to its [`Ports`].
#[derive(Clone)]
pub struct Services {
    ports: Ports,
    /// The code key (codes, fingerprints, client secrets, phone keys).
    hasher: CodeHasher,
    /// The card key (card numbers, phone numbers, kept client secrets).
    vault: CardVault,
}

impl Services {
    pub fn new(ports: Ports, hasher: CodeHasher, vault: CardVault) -> Self {
        Self { ports, hasher, vault }
    }

    pub fn hasher(&self) -> &CodeHasher {
        &self.hasher
    }

    pub fn vault(&self) -> &CardVault {
        &self.vault
    }
}

impl Deref for Services {
    type Target = Ports;

    fn deref(&self) -> &Ports {
        &self.ports
    }
}

impl DerefMut for Services {
    fn deref_mut(&mut self) -> &mut Ports {
        &mut self.ports
    }
}
