//! DynamoDB adapters over one table (`pk`/`sk`, a `gsi1` for per-user history, `gsi2` the
//! sweeper's due index, `gsi3` the webhook events by merchant, TTL on `ttl`, a stream of old and
//! new images).
//! Items are mapped with serde_dynamo; every state change is a conditional write.

mod delivery_store;
mod endpoint_store;
mod error;
mod event_store;
mod idempotency_store;
mod items;
mod payment_store;
pub mod stream;
pub mod table;
mod updates;

pub use delivery_store::DynamoDeliveryStore;
pub use endpoint_store::DynamoEndpointStore;
pub use event_store::DynamoEventStore;
pub use idempotency_store::DynamoIdempotencyStore;
pub use payment_store::DynamoPaymentStore;
