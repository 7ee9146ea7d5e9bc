//! The payment platform's shared library: pure domain → use cases over ports → adapters →
//! one HTTP layer. The Lambda functions in `functions/` are thin wrappers around `http`.

pub mod adyen_http;
pub mod bootstrap;
pub mod config;
pub mod jobs;
pub mod parameters;
pub mod telemetry;
pub mod webhook_events;
pub mod webhook_sender;

/// The adapters (`payments-adapters`).
pub use payments_adapters as adapters;
/// The pure domain, its own crate (`payments-domain`): no AWS, Lambda, HTTP or tokio.
pub use payments_core::domain;
/// Ports, use cases and secrets (`payments-core`).
pub use payments_core::{ports, secrets, usecases, webhooks, CodeServices, Ports, Services};
/// The HTTP layer (`payments-http`).
pub use payments_http as http;

/// Re-exported for function crates and tests, so they need no lambda_http version of their own.
pub use lambda_http;
