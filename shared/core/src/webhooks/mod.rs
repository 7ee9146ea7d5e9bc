//! Signed webhooks (issue 24), the parts that decide alone, with no I/O: which events a change
//! emits (from the record before and after it), how a delivery is signed and verified (Standard
//! Webhooks v1, exactly), when a failed one is tried again, and which endpoint addresses may ever be
//! called (the SSRF rules, applied at registration and again at every delivery, to the address a
//! name resolves to).

pub mod address;
pub mod delivery;
pub mod endpoint;
pub mod events;
pub mod signature;

pub use address::{check_address, check_endpoint_url, AddressRefusal, EndpointUrl, UrlRefusal};
pub use delivery::{next_attempt, retry_after_secs, Attempted, Next, RETRY_DELAYS_SECS};
pub use endpoint::{Disabled, Endpoint, SealedSecret, Subscribed, MAX_ENDPOINTS, ROTATION_OVERLAP_SECS};
pub use events::{endpoint_events, payment_events, session_events, Emitted, EventType};
pub use signature::{sign, verify, SignatureHeader, SignatureRefusal, WebhookSecret, TIMESTAMP_TOLERANCE_SECS};
