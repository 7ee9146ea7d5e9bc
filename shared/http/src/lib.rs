//! The one HTTP layer: requests in, problem+json or payment JSON out. Every function's handler
//! is here; `functions/*/src/main.rs` only wires one of them to the runtime.

use payments_core::{domain, ports, settings as config, usecases};

mod auth;
mod checkout;
mod dto;
pub mod events;
mod handlers;
mod idempotency;
mod notices;
mod operations;
mod problem;
mod reply;
mod request;
pub mod routes;
mod views;
mod webhook_endpoints;

pub use checkout::{checkout_page, locale_page, LocalePage};
pub use handlers::{first_payment, payment_status, repeat_payment, verify_code};
pub use notices::acquirer_notifications;
pub use operations::payment_operations;
pub use reply::Reply;
pub use request::{route, CodeAction, Route};
