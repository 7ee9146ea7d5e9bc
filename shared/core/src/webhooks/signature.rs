//! Standard Webhooks v1 (<https://www.standardwebhooks.com>): a delivery carries `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
//! one signature per live secret, space-separated (during a rotation both the old and the new
//! secret sign). A secret is `whsec_` + base64 of its key. The verifier refuses a timestamp more
//! than five minutes off (a replayed delivery) and compares in constant time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a delivery's timestamp may be from the verifier's clock, either way.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;
const PREFIX: &str = "whsec_";

type HmacSha256 = Hmac<Sha256>;

/// An endpoint's signing secret (`whsec_…`). Never shown again after its creation; its Debug is
/// masked.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
    keyed: HmacSha256,
}

impl WebhookSecret {
    /// A new secret of 24 random bytes, as Svix makes them.
    pub fn generate() -> Self {
        use hmac::digest::KeyInit;
        use rand::RngCore;
        let mut key = [0u8; 24];
        rand::rng().fill_bytes(&mut key);
        // HMAC pads a short key with zeros to its block: keyed by the block, infallibly.
        let mut block = [0u8; 64];
        block.iter_mut().zip(key).for_each(|(b, k)| *b = k);
        let keyed = <HmacSha256 as KeyInit>::new(&block.into());
        Self { key: key.to_vec(), keyed }
    }

    /// `whsec_` + base64 (the prefix is optional, as the specification's libraries accept).
    pub fn parse(text: &str) -> Option<Self> {
        let key = STANDARD.decode(text.strip_prefix(PREFIX).unwrap_or(text)).ok().filter(|k| !k.is_empty())?;
        let keyed = <HmacSha256 as Mac>::new_from_slice(&key).ok()?;
        Some(Self { key, keyed })
    }

    /// The secret as the merchant is shown it, once.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl PartialEq for WebhookSecret {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for WebhookSecret {}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

/// The `webhook-signature` header's value: `v1,<signature>` for each secret, space-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader(pub String);

/// Signs one delivery with every live secret (the new one first during a rotation).
pub fn sign(secrets: &[&WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> SignatureHeader {
    let parts: Vec<String> = secrets
        .iter()
        .map(|s| format!("v1,{}", STANDARD.encode(s.mac(id, timestamp, body).finalize().into_bytes())))
        .collect();
    SignatureHeader(parts.join(" "))
}

/// Why a delivery is not taken as ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureRefusal {
    /// `webhook-timestamp` is not a number.
    BadTimestamp,
    /// More than [`TIMESTAMP_TOLERANCE_SECS`] from now: possibly replayed.
    TimestampOutOfTolerance,
    /// No `v1` signature in the header matches.
    NoMatchingSignature,
}

/// What a receiver checks: the timestamp within the tolerance of `now`, and one `v1` signature
/// of the header made with `secret` (compared in constant time).
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    body: &[u8],
    header: &str,
    now: i64,
) -> Result<(), SignatureRefusal> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| SignatureRefusal::BadTimestamp)?;
    if (now - ts).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(SignatureRefusal::TimestampOutOfTolerance);
    }
    let matches = header
        .split_whitespace()
        .filter_map(|part| part.strip_prefix("v1,"))
        .filter_map(|sig| STANDARD.decode(sig).ok())
        .any(|sig| secret.mac(id, ts, body).verify_slice(&sig).is_ok());
    if matches {
        Ok(())
    } else {
        Err(SignatureRefusal::NoMatchingSignature)
    }
}
