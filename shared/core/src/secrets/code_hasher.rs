use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{KeyError, Keyring};
use crate::domain::{
    CardNumber, ClientSecret, CodeHash, Customer, Identifier, Money, PaymentId, Phone, SessionId, SourceIp,
    VerificationCode,
};

type HmacSha256 = Hmac<Sha256>;

/// What a code is bound to: a code sent for one payment, amount or merchant is worthless for
/// any other, and the send sequence makes every resent code a new secret.
pub struct CodeContext<'a> {
    pub payment_id: &'a PaymentId,
    pub money: &'a Money,
    pub merchant_id: &'a Identifier,
    pub send_seq: u8,
}

/// HMAC-SHA256 under a server key: hashes codes (stored instead of the code) and
/// fingerprints cards (stored instead of the number, to recognise the same card again).
/// Each key's HMAC state is prepared once, at cold start; a request only clones it.
#[derive(Clone)]
pub struct CodeHasher {
    /// The current key's id and prepared HMAC: new hashes use it.
    current: (String, HmacSha256),
    macs: HashMap<String, HmacSha256>,
    /// This hasher under each of its keys, the current one first (then by id), prepared at
    /// cold start; empty in a one-key hasher of that list (it is its own list).
    keyed: Vec<CodeHasher>,
}

impl std::fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeHasher(current={}, keys=<redacted>)", self.current.0)
    }
}

impl CodeHasher {
    pub fn new(keys: &Keyring) -> Result<Self, KeyError> {
        let macs = keys
            .iter()
            .map(|(id, key)| {
                let mac =
                    <HmacSha256 as Mac>::new_from_slice(key).map_err(|_| KeyError::Malformed("CODE_HASH_KEYS"))?;
                Ok((id.to_owned(), mac))
            })
            .collect::<Result<_, KeyError>>()?;
        let (current_id, current_key) = keys.current();
        let current_mac =
            <HmacSha256 as Mac>::new_from_slice(current_key).map_err(|_| KeyError::Malformed("CODE_HASH_KEYS"))?;
        let mut hasher = Self { current: (current_id.to_owned(), current_mac), macs, keyed: Vec::new() };
        hasher.keyed = hasher.each_key();
        Ok(hasher)
    }

    /// One single-key hasher per key, the current one first (then by id).
    fn each_key(&self) -> Vec<CodeHasher> {
        let mut others: Vec<(&String, &HmacSha256)> =
            self.macs.iter().filter(|(id, _)| **id != self.current.0).collect();
        others.sort_by(|a, b| a.0.cmp(b.0));
        std::iter::once((&self.current.0, &self.current.1))
            .chain(others)
            .map(|(id, mac)| Self {
                current: (id.clone(), mac.clone()),
                macs: HashMap::from([(id.clone(), mac.clone())]),
                keyed: Vec::new(),
            })
            .collect()
    }

    fn current(&self) -> (&str, &HmacSha256) {
        (&self.current.0, &self.current.1)
    }

    /// This hasher under each of its keys, the current one first (then by id): what a lookup
    /// tries during a rotation. A digest a lookup finds was written under one of them; a
    /// counter or a guard is written under each, so the current key's items hold everything by
    /// the time the previous key is retired.
    pub fn per_key(&self) -> &[CodeHasher] {
        if self.keyed.is_empty() {
            std::slice::from_ref(self)
        } else {
            &self.keyed
        }
    }

    /// A keyed lookup digest: the key's id, then 128 of the 256 bits (ample for an item's key,
    /// and shorter items).
    fn lookup(&self, parts: &[&[u8]]) -> String {
        let (key_id, key) = self.current();
        format!("{key_id}.{}", Self::short_hex(Self::mac(key, parts)))
    }

    fn mac(keyed: &HmacSha256, parts: &[&[u8]]) -> HmacSha256 {
        let mut mac = keyed.clone();
        for part in parts {
            // Length-prefix every part so that no two different tuples hash alike.
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    fn code_parts<'a>(ctx: &'a CodeContext<'a>, minor: &'a [u8; 8], code: &'a VerificationCode) -> [&'a [u8]; 7] {
        [
            b"code-v1",
            ctx.payment_id.as_str().as_bytes(),
            minor,
            ctx.money.currency.code().as_bytes(),
            ctx.merchant_id.as_str().as_bytes(),
            std::slice::from_ref(&ctx.send_seq),
            code.expose().as_bytes(),
        ]
    }

    pub fn hash(&self, ctx: &CodeContext<'_>, code: &VerificationCode) -> CodeHash {
        let (key_id, key) = self.current();
        let minor = ctx.money.minor.to_be_bytes();
        let mac = Self::mac(key, &Self::code_parts(ctx, &minor, code));
        CodeHash { key_id: key_id.to_owned(), mac_hex: hex::encode(mac.finalize().into_bytes()) }
    }

    /// Constant-time comparison (hmac's `verify_slice` uses `subtle`). A hash under an
    /// unknown key id never matches.
    pub fn matches(&self, ctx: &CodeContext<'_>, code: &VerificationCode, stored: &CodeHash) -> bool {
        let (Some(key), Ok(expected)) = (self.macs.get(&stored.key_id), hex::decode(&stored.mac_hex)) else {
            return false;
        };
        let minor = ctx.money.minor.to_be_bytes();
        Self::mac(key, &Self::code_parts(ctx, &minor, code)).verify_slice(&expected).is_ok()
    }

    /// Fingerprint of a request under an idempotency key, with its key's id. Keyed, because a
    /// body holds a card number whose few unknown digits a plain hash would give away.
    pub fn request_fingerprint(&self, scope: &str, canonical_body: &str) -> String {
        let (key_id, key) = self.current();
        let mac = Self::mac(key, &[b"request-v1", scope.as_bytes(), canonical_body.as_bytes()]);
        format!("{key_id}.{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// The seed retries of one Idempotency-Key derive their ids from: the key in its scope and
    /// the random origin token its first claim drew. Not keyed (the token is the secret part),
    /// so a key rotation between two tries derives the same ids.
    pub fn attempt_seed(scoped_key: &str, origin: &str) -> String {
        use sha2::Digest;
        let mut sha = Sha256::new();
        for part in [b"attempt-seed-v1".as_slice(), scoped_key.as_bytes(), origin.as_bytes()] {
            sha.update((part.len() as u32).to_be_bytes());
            sha.update(part);
        }
        hex::encode(sha.finalize())
    }

    /// A card number as sent (not yet validated), for an Idempotency-Key's fingerprint only.
    pub fn card_number_digest(&self, number: &str) -> String {
        let (_, key) = self.current();
        hex::encode(Self::mac(key, &[b"card-number-v1", number.as_bytes()]).finalize().into_bytes())
    }

    /// A phone, as the key of its payer guard and its counters (one digest per key:
    /// [`Self::phone_keys`]).
    pub fn phone_key(&self, phone: &Phone) -> String {
        self.lookup(&[b"phone-v1", phone.expose().as_bytes()])
    }

    /// The phone's block of 10,000 numbers (its E.164 form but its last four digits) under every
    /// key: what SMS pumping walks through.
    pub fn phone_prefix_keys(&self, phone: &Phone) -> Vec<String> {
        let number = phone.expose();
        let block = number.get(..number.len().saturating_sub(4)).unwrap_or(number);
        self.per_key().iter().map(|h| h.lookup(&[b"phone-prefix-v1", block.as_bytes()])).collect()
    }

    /// The phone's lookup digests under every key, the current one first.
    pub fn phone_keys(&self, phone: &Phone) -> Vec<String> {
        self.per_key().iter().map(|h| h.phone_key(phone)).collect()
    }

    /// A card number alone, as the key of its velocity counter, under every key (the current
    /// one first): the same card is the same digest for every user and merchant.
    pub fn card_digests(&self, card: &CardNumber) -> Vec<String> {
        self.per_key().iter().map(|h| h.lookup(&[b"card-pan-v1", card.expose().as_bytes()])).collect()
    }

    /// A shopper's source network, as the key of its velocity counter, under every key.
    pub fn source_ip_keys(&self, ip: &SourceIp) -> Vec<String> {
        self.per_key().iter().map(|h| h.lookup(&[b"source-ip-v1", ip.network().as_bytes()])).collect()
    }

    /// 128 of the 256 bits: ample for a counter's key, and shorter items.
    fn short_hex(mac: HmacSha256) -> String {
        let digest = mac.finalize().into_bytes();
        let digest = digest.as_slice();
        hex::encode(digest.get(..16).unwrap_or(digest))
    }

    /// A customer's card, recognisable again (by this merchant, for this user) without keeping
    /// its number; the same card at another merchant has another fingerprint. With its key's
    /// id.
    pub fn card_fingerprint(&self, customer: &Customer, card: &CardNumber) -> String {
        let (key_id, key) = self.current();
        let parts: [&[u8]; 4] = [
            b"card-fingerprint-v2",
            customer.merchant_id.as_str().as_bytes(),
            customer.user_id.as_str().as_bytes(),
            card.expose().as_bytes(),
        ];
        let mac = Self::mac(key, &parts);
        format!("{key_id}.{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// The card's fingerprints under every key, the current one first: during a rotation, a
    /// card saved under the previous key is recognised.
    pub fn card_fingerprints(&self, customer: &Customer, card: &CardNumber) -> Vec<String> {
        self.per_key().iter().map(|h| h.card_fingerprint(customer, card)).collect()
    }

    /// A session's client secret, as stored: bound to its session, under the current key.
    pub fn client_secret_hash(&self, session: &SessionId, secret: &ClientSecret) -> CodeHash {
        let (key_id, key) = self.current();
        let mac = Self::mac(key, &[b"client-secret-v1", session.as_str().as_bytes(), secret.expose().as_bytes()]);
        CodeHash { key_id: key_id.to_owned(), mac_hex: hex::encode(mac.finalize().into_bytes()) }
    }

    /// Constant-time check of a presented client secret against the stored hash.
    pub fn client_secret_matches(&self, session: &SessionId, secret: &ClientSecret, stored: &CodeHash) -> bool {
        let (Some(key), Ok(expected)) = (self.macs.get(&stored.key_id), hex::decode(&stored.mac_hex)) else {
            return false;
        };
        Self::mac(key, &[b"client-secret-v1", session.as_str().as_bytes(), secret.expose().as_bytes()])
            .verify_slice(&expected)
            .is_ok()
    }
}
