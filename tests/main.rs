//! The integration tests, one binary: the real handlers over the real AWS SDK against moto
//! (started by `make test`), the local stack over HTTP, races, faults, logs and stored data.
// Tests may unwrap, panic and index: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod adyen;
mod concurrency;
mod faults;
mod least_privilege;
mod lifecycle;
mod local_stack_http;
mod log_secrets;
mod money_ops;
mod payment_flows;
mod races;
mod refunds;
mod rotation;
mod round_trips;
mod saved_cards;
mod stored_data;
mod trust_model;
mod velocity;
mod webhooks;
