//! DynamoDB adapters over one table (`pk`/`sk`, a `gsi1` for per-user history, TTL on `ttl`).
//! Items are mapped with serde_dynamo; every state change is a conditional write.

mod error;
mod idempotency_store;
mod items;
mod payment_store;
pub mod table;
mod updates;

pub use idempotency_store::DynamoIdempotencyStore;
pub use payment_store::DynamoPaymentStore;
