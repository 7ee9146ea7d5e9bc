//! Keyed cryptography: code hashes, card fingerprints and card encryption. Pure (no I/O);
//! keys arrive from configuration at cold start.

pub mod card_vault;
pub mod code_hasher;
pub mod kept_secrets;
pub mod keyring;

pub use card_vault::CardVault;
pub use code_hasher::{CodeContext, CodeHasher};
pub use kept_secrets::KeptSecrets;
pub use keyring::{KeyError, Keyring};
