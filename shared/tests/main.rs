//! The `shared` crate's tests, one binary: domain rules, use cases over the in-memory adapters,
//! request parsing, the OpenAPI contract, event fixtures, EMF lines and generated properties.
// Tests may unwrap, panic and index: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod acquirer;
mod adyen;
mod common;
mod config;
mod domain;
mod emf;
mod events;
mod i18n;
mod openapi;
mod properties;
mod state_machine;
mod use_cases;
mod webhooks;
