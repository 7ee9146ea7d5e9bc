use std::fmt;

use super::FieldError;

/// A caller-chosen id (`user_id`, `merchant_id`, `order_id`): 1–64 of `A-Z a-z 0-9 _ . : -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier(String);

impl Identifier {
    pub fn parse(param: &str, value: &str) -> Result<Self, FieldError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
        if value.is_empty() || value.len() > 64 || !value.chars().all(allowed) {
            return Err(FieldError::new(
                "invalid_identifier",
                param,
                format!("{param} must be 1-64 characters of A-Z a-z 0-9 _ . : -"),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A merchant's customer. Saved cards, and everything bound to them (their encryption, their
/// fingerprint), belong to this pair: the same `user_id` at two merchants is two customers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Customer {
    pub merchant_id: Identifier,
    pub user_id: Identifier,
}

/// Generates the id types the platform mints itself: a prefix and a time-ordered ULID.
macro_rules! minted_id {
    ($name:ident, $prefix:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn new() -> Self {
                Self(format!("{}{}", $prefix, ulid::Ulid::new().to_string().to_ascii_lowercase()))
            }

            /// Accepts only ids of our own shape, so a malformed path never reaches storage.
            pub fn parse(value: &str) -> Option<Self> {
                let rest = value.strip_prefix($prefix)?;
                let ok = !rest.is_empty()
                    && rest.len() <= 64
                    && rest.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
                ok.then(|| Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// An id derived from a (keyed, hex) digest: the same digest, the same id.
            pub fn from_digest(digest_hex: &str) -> Self {
                let short: String = digest_hex.chars().filter(char::is_ascii_alphanumeric).take(26).collect();
                Self(format!("{}{}", $prefix, short.to_ascii_lowercase()))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

minted_id!(PaymentId, "pay_");

impl PaymentId {
    /// A short reference a shopper can read out to support: the id's last 8 characters
    /// (random, Crockford base32 for minted ids), upper case, in two groups: `7K3F-9QXA`. The
    /// payment id stays the key; this only helps find it.
    pub fn reference(&self) -> String {
        let rest = self.0.strip_prefix(Self::PREFIX).unwrap_or(&self.0);
        let tail: String = rest.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
        let upper = tail.to_ascii_uppercase();
        match (upper.get(..4), upper.get(4..)) {
            (Some(a), Some(b)) if !b.is_empty() => format!("{a}-{b}"),
            _ => upper,
        }
    }
}
minted_id!(MethodId, "pm_");
minted_id!(SessionId, "cs_");
minted_id!(RefundId, "re_");
minted_id!(EventId, "evt_");
minted_id!(EndpointId, "we_");

impl RefundId {
    /// A refund's id names its payment (`re_` + the payment's ULID + 16 more characters): a
    /// refund is read with its payment, by key, with no index. `seed` (a keyed request's) gives
    /// every retry the same id; without one the suffix is random.
    pub fn for_payment(payment: &PaymentId, seed: Option<&str>) -> Self {
        let own = payment.as_str().strip_prefix(PaymentId::PREFIX).unwrap_or_default();
        let fresh = ulid::Ulid::new().to_string().to_ascii_lowercase();
        let suffix: String = match seed {
            Some(seed) => seed.chars().filter(char::is_ascii_alphanumeric).take(16).collect(),
            // A ULID's last 16 characters are its random part (80 bits).
            None => fresh.chars().skip(10).collect(),
        };
        Self(format!("{}{own}{}", Self::PREFIX, suffix.to_ascii_lowercase()))
    }

    /// The payment this refund is of.
    pub fn payment_id(&self) -> Option<PaymentId> {
        let rest = self.0.strip_prefix(Self::PREFIX)?;
        PaymentId::parse(&format!("{}{}", PaymentId::PREFIX, rest.get(..26)?))
    }
}
