use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::ports::{
    Acquirer, AttemptLimits, Clock, CodeSender, DeliveryStore, EndpointStore, EventStore, IdempotencyStore, Metrics,
    PaymentStore, SmsLimits, WebhookSender,
};
use crate::secrets::{CardVault, CodeHasher, KeptSecrets};

/// The ports every function has, built once at cold start and shared by all invocations: the
/// stores, the SMS sender, the acquirer, the clock, the metrics. No key: a function that loads
/// none (payment-status) has these only, and so can build only the use cases that need none
/// (`payment_status`, `payment_history`): asking for more is a type error.
#[derive(Clone)]
pub struct Ports {
    pub payments: Arc<dyn PaymentStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// The webhook events (recorded from the table's stream, listed by `GET /events`).
    pub events: Arc<dyn EventStore>,
    /// The merchants' webhook endpoints.
    pub endpoints: Arc<dyn EndpointStore>,
    /// The webhook deliveries and their attempts.
    pub deliveries: Arc<dyn DeliveryStore>,
    /// Sends a webhook (public addresses only).
    pub webhooks: Arc<dyn WebhookSender>,
    pub sms: Arc<dyn CodeSender>,
    /// The hourly caps on code SMS, counted in the writes that store codes.
    pub sms_limits: SmsLimits,
    /// The velocity limits on card authorisation attempts, counted in the writes that open
    /// first payments.
    pub attempt_limits: AttemptLimits,
    pub acquirer: Arc<dyn Acquirer>,
    /// The acquirer's signed notifications, where this function takes them (its key loaded).
    pub notices: Option<Arc<dyn crate::ports::AcquirerNotices>>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
    /// How callers are recognised and named (read by the HTTP layer only).
    pub settings: crate::settings::Settings,
}

/// The ports with the code key loaded: what the use cases that hash a code, a client secret or
/// a fingerprint run on, and what the public checkout page's function holds (no card key: it
/// cannot open a card or a phone number). It derefs to its [`Ports`].
#[derive(Clone)]
pub struct CodeServices {
    ports: Ports,
    /// The code key (codes, fingerprints, client secrets, phone keys).
    hasher: CodeHasher,
    /// Keys derived from the code key, for the client secrets an idempotent answer keeps.
    kept: KeptSecrets,
}

impl CodeServices {
    pub fn new(ports: Ports, hasher: CodeHasher, kept: KeptSecrets) -> Self {
        Self { ports, hasher, kept }
    }

    pub fn hasher(&self) -> &CodeHasher {
        &self.hasher
    }

    pub fn kept(&self) -> &KeptSecrets {
        &self.kept
    }
}

impl Deref for CodeServices {
    type Target = Ports;

    fn deref(&self) -> &Ports {
        &self.ports
    }
}

impl DerefMut for CodeServices {
    fn deref_mut(&mut self) -> &mut Ports {
        &mut self.ports
    }
}

/// The ports with both keys loaded: what every use case that seals or opens a card or a phone
/// number runs on. Built only where the keys are (`bootstrap::services_over` refuses to start
/// without them); it derefs to its [`CodeServices`] (and so to its [`Ports`]).
#[derive(Clone)]
pub struct Services {
    code: CodeServices,
    /// The card key (card numbers, phone numbers).
    vault: CardVault,
}

impl Services {
    pub fn new(code: CodeServices, vault: CardVault) -> Self {
        Self { code, vault }
    }

    pub fn vault(&self) -> &CardVault {
        &self.vault
    }
}

impl Deref for Services {
    type Target = CodeServices;

    fn deref(&self) -> &CodeServices {
        &self.code
    }
}

impl DerefMut for Services {
    fn deref_mut(&mut self) -> &mut CodeServices {
        &mut self.code
    }
}
