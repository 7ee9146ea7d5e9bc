//! The test kit: in-memory adapters with the same conditional semantics as the DynamoDB ones,
//! and a clock tests move by hand. Tests and in-process benchmarks depend on it; no Lambda does
//! (`cargo tree -p <function> -e normal` does not list it).

pub mod clock;
pub mod memory;

pub use clock::ManualClock;
pub use memory::MemoryStack;
