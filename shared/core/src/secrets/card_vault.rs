use std::collections::HashMap;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;

use super::Keyring;
use crate::domain::{CardNumber, Customer};

/// AES-256-GCM encryption of card numbers. A sealed card reads `v1.<key id>.<base64 nonce‖ct>`
/// and is bound (as associated data) to the customer it belongs to, the merchant and the user,
/// so a ciphertext copied onto another customer's record, at this merchant or another, does
/// not open.
#[derive(Clone)]
pub struct CardVault {
    /// The current key's id and cipher: new cards are sealed with it.
    current: (String, Aes256Gcm),
    /// One cipher per key id, its key schedule prepared once at cold start.
    ciphers: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for CardVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardVault(current={}, keys=<redacted>)", self.current.0)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("sealed card cannot be opened (unknown key, wrong user or corrupted)")]
pub struct UnsealError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

impl CardVault {
    pub fn new(keys: &Keyring) -> Self {
        let ciphers =
            keys.iter().map(|(id, key)| (id.to_owned(), Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)))).collect();
        let (current_id, current_key) = keys.current();
        let current = (current_id.to_owned(), Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(current_key)));
        Self { current, ciphers }
    }

    fn aad(customer: &Customer) -> Vec<u8> {
        // Identifiers cannot hold `|`, so no two customers share associated data.
        format!("card-v1|{}|{}", customer.merchant_id.as_str(), customer.user_id.as_str()).into_bytes()
    }

    pub fn seal(&self, customer: &Customer, card: &CardNumber) -> Result<String, UnsealError> {
        self.seal_bytes(&Self::aad(customer), card.expose().as_bytes())
    }

    pub fn open(&self, customer: &Customer, sealed: &str) -> Result<CardNumber, UnsealError> {
        let digits = String::from_utf8(self.open_bytes(&Self::aad(customer), sealed)?).map_err(|_| UnsealError)?;
        CardNumber::parse("card", &digits).map_err(|_| UnsealError)
    }

    /// Seals a short secret other than a card (an idempotent answer's client secret), bound to
    /// `context`; reads `v1.<key id>.<base64>` like a sealed card.
    pub fn seal_text(&self, context: &str, text: &str) -> Result<String, UnsealError> {
        self.seal_bytes(format!("text-v1|{context}").as_bytes(), text.as_bytes())
    }

    pub fn open_text(&self, context: &str, sealed: &str) -> Result<String, UnsealError> {
        String::from_utf8(self.open_bytes(format!("text-v1|{context}").as_bytes(), sealed)?).map_err(|_| UnsealError)
    }

    /// `v1.<key id>.<base64 nonce‖ciphertext>` under the current key, `aad` bound in.
    fn seal_bytes(&self, aad: &[u8], msg: &[u8]) -> Result<String, UnsealError> {
        let (key_id, cipher) = (&self.current.0, &self.current.1);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ct = cipher.encrypt(&nonce, Payload { msg, aad }).map_err(|_| UnsealError)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        Ok(format!("v1.{key_id}.{}", B64.encode(blob)))
    }

    fn open_bytes(&self, aad: &[u8], sealed: &str) -> Result<Vec<u8>, UnsealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(key_id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(UnsealError);
        };
        let cipher = self.ciphers.get(key_id).ok_or(UnsealError)?;
        let blob = B64.decode(b64).map_err(|_| UnsealError)?;
        if blob.len() < 12 {
            return Err(UnsealError);
        }
        let (nonce, ct) = blob.split_at(12);
        cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad }).map_err(|_| UnsealError)
    }
}
