use std::fmt;

use rand::Rng;

use super::FieldError;

/// A six-digit one-time code. Never printed; compared only through its keyed hash.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationCode(String);

impl VerificationCode {
    /// Six digits from the thread-local CSPRNG (ChaCha, seeded from the OS).
    pub fn generate() -> Self {
        let n: u32 = rand::rng().random_range(0..1_000_000);
        Self(format!("{n:06}"))
    }

    pub fn parse(param: &str, raw: &str) -> Result<Self, FieldError> {
        if raw.len() != 6 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("invalid_code", param, "code must be the 6 digits sent by SMS"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerificationCode(******)")
    }
}

/// A code as stored: an HMAC under the key named `key_id`, never the code itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeHash {
    pub key_id: String,
    pub mac_hex: String,
}
