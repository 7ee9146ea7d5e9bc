//! The test kit: in-memory adapters with the same conditional semantics as the DynamoDB ones,
//! a clock tests move by hand, and an acquirer that keeps a ledger of the funds it holds. Tests and in-process benchmarks depend on it; no Lambda does
//! (`cargo tree -p <function> -e normal` does not list it).

pub mod acquirer;
pub mod clock;
pub mod memory;

pub use acquirer::{Away, Funds, LedgerAcquirer};
pub use clock::ManualClock;
pub use memory::MemoryStack;
