//! Configuration read once at cold start.

use crate::secrets::{KeyError, Keyring};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error(transparent)]
    Key(#[from] KeyError),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// `CODE_HASH_KEYS`: HMAC keys for codes, card fingerprints and request fingerprints.
    pub code_hash_keys: Keyring,
    /// `CARD_ENCRYPTION_KEYS`: AES-256-GCM keys for stored card numbers.
    pub card_keys: Keyring,
    /// `SMS_SENDER_ID`: optional alphanumeric sender id where the destination supports it.
    pub sms_sender_id: Option<String>,
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            code_hash_keys: Keyring::parse("CODE_HASH_KEYS", &required("CODE_HASH_KEYS")?)?,
            card_keys: Keyring::parse("CARD_ENCRYPTION_KEYS", &required("CARD_ENCRYPTION_KEYS")?)?,
            sms_sender_id: std::env::var("SMS_SENDER_ID").ok().filter(|v| !v.is_empty()),
        })
    }
}
