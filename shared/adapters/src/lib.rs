//! Implementations of the ports: AWS (DynamoDB, SNS, CloudWatch EMF), the acquirers (the
//! sandbox, Adyen), the system clock. The in-memory stores and the manual clock are the test kit (`payments-testkit`).

use payments_core::{domain, ports, secrets};

pub mod adyen;
pub mod clock;
pub mod dynamodb;
pub mod emf;
pub mod sandbox_acquirer;
pub mod sns;
