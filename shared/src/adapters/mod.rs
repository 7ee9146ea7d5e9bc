//! Implementations of the ports: AWS (DynamoDB, SNS, CloudWatch EMF), the sandbox acquirer, the
//! system clock, and in-memory stores for fast tests.

pub mod clock;
pub mod dynamodb;
pub mod emf;
pub mod memory;
pub mod sandbox_acquirer;
pub mod sns;
