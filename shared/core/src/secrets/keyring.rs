use std::collections::HashMap;
use std::fmt;

use base64::Engine;

/// 32-byte keys, each with an id that is stored beside whatever it protects, so a key can be
/// rotated without breaking stored data: new writes use the current (first) key, reads find
/// the key named by the stored id.
///
/// Configured as `id:base64key[,id:base64key…]`, current key first.
#[derive(Clone)]
pub struct Keyring {
    /// The current key's id and key, held apart so that it can never be missing.
    current: (String, [u8; 32]),
    keys: HashMap<String, [u8; 32]>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}: expected `id:base64key[,id:base64key…]` with 32-byte keys")]
    Malformed(&'static str),
}

impl Keyring {
    pub fn parse(name: &'static str, spec: &str) -> Result<Self, KeyError> {
        let mut keys = HashMap::new();
        let mut current = None;
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, b64) = entry.split_once(':').ok_or(KeyError::Malformed(name))?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| KeyError::Malformed(name))?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed(name))?;
            let valid_id = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !valid_id {
                return Err(KeyError::Malformed(name));
            }
            current.get_or_insert_with(|| (id.to_owned(), key));
            keys.insert(id.to_owned(), key);
        }
        let current = current.ok_or(KeyError::Malformed(name))?;
        Ok(Self { current, keys })
    }

    pub fn current(&self) -> (&str, &[u8; 32]) {
        (&self.current.0, &self.current.1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8; 32])> {
        self.keys.iter().map(|(id, key)| (id.as_str(), key))
    }

    pub fn get(&self, id: &str) -> Option<&[u8; 32]> {
        self.keys.get(id)
    }

    /// A keyring of keys derived from these (HKDF-SHA256, RFC 5869; `info` names the use), with
    /// the same ids: a rotation of these keys rotates the derived ones with it, and a derived key
    /// tells nothing of the key it comes from.
    pub fn derived(&self, info: &str) -> Self {
        let derive = |key: &[u8; 32]| {
            let mut out = [0u8; 32];
            // 32 bytes is far below HKDF-SHA256's 8,160-byte limit: `expand` cannot fail.
            let _ = hkdf::Hkdf::<sha2::Sha256>::new(None, key).expand(info.as_bytes(), &mut out);
            out
        };
        Self {
            current: (self.current.0.clone(), derive(&self.current.1)),
            keys: self.keys.iter().map(|(id, key)| (id.clone(), derive(key))).collect(),
        }
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        write!(f, "Keyring(current={}, ids={ids:?}, keys=<redacted>)", self.current.0)
    }
}
