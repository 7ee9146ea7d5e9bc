//! Ports, use cases, secrets and settings: the payment flows written against the ports. No AWS
//! SDK, no Lambda, no HTTP here: the adapters (`payments-adapters`) and the HTTP layer
//! (`payments-http`) depend on this crate, never the other way round.

pub mod ports;
pub mod secrets;
pub mod settings;
pub mod usecases;
pub mod webhooks;

/// The pure domain (`payments-domain`).
pub use payments_domain as domain;

pub use usecases::{CodeServices, Ports, Services};
