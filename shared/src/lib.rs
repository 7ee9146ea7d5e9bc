//! The payment platform's shared library: pure domain → use cases over ports → adapters →
//! one HTTP layer. The Lambda functions in `functions/` are thin wrappers around `http`.

pub mod adapters;
pub mod bootstrap;
pub mod config;
pub mod http;
pub mod jobs;
pub mod ports;
pub mod secrets;
pub mod telemetry;
pub mod usecases;

pub use usecases::{Ports, Services};

/// The pure domain, its own crate (`payments-domain`): no AWS, Lambda, HTTP or tokio.
pub use payments_domain as domain;

/// Re-exported for function crates and tests, so they need no lambda_http version of their own.
pub use lambda_http;
